//! The gate's vocabulary: its keys, what a reservation record says, what
//! the scripts answer, and what a drop looks like to Redis.

use admission::contract::{DropKeys, DropState};
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// The Redis keys of a drop's gate: the keys shared with the queue, plus
/// the sale's own.
#[derive(Debug, Clone)]
pub struct GateKeys(DropKeys);

impl std::ops::Deref for GateKeys {
    type Target = DropKeys;
    fn deref(&self) -> &DropKeys {
        &self.0
    }
}

impl GateKeys {
    pub fn new(prefix: &str, drop_id: &str) -> Self {
        Self(DropKeys::new(prefix, drop_id))
    }
    /// Hash: user id -> units held by the user's pending and paid orders.
    pub fn held(&self) -> String {
        self.key("held")
    }
    /// Hash: order id -> "quantity|reserved_at_ms|idempotency_tag|user" for
    /// every holding order.
    pub fn reservations(&self) -> String {
        self.key("res")
    }
    /// String: the order an idempotency key produced, for one user.
    pub fn idempotency(&self, user: &str, key: &str) -> String {
        self.idempotency_by_tag(&idempotency_tag(user, key))
    }
    /// Hash transfer id -> "to|units|epoch|at_ms": units a stock bucket
    /// lent and has not yet seen credited (see `super::buckets`).
    pub fn lent(&self) -> String {
        self.key("lent")
    }
    /// Zset transfer id -> credited at (ms): transfers a stock bucket has
    /// received, so a repeated credit adds nothing.
    pub fn credited(&self) -> String {
        self.key("credited")
    }
    /// The idempotency key named by a tag (as kept in a reservation record).
    pub fn idempotency_by_tag(&self, tag: &str) -> String {
        self.key(&["idem:", tag].concat())
    }
}

/// The short hash naming one user's idempotency key in Redis.
pub fn idempotency_tag(user: &str, key: &str) -> String {
    let mut digest = Sha256::new();
    digest.update(user.as_bytes());
    digest.update([0]);
    digest.update(key.as_bytes());
    hex::encode(&digest.finalize()[..16])
}

/// One entry of a drop's reservations hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReservationRecord {
    pub order_id: Uuid,
    pub quantity: i64,
    /// When the units were reserved; 0 for entries loaded by a rebuild.
    pub reserved_at_ms: i64,
    /// The idempotency tag; empty for entries loaded by a rebuild.
    pub idempotency_tag: String,
    pub user: String,
}

impl ReservationRecord {
    /// Parses `order id` -> `"quantity|reserved_at_ms|idempotency_tag|user"`.
    pub fn parse(order_id: &str, value: &str) -> Option<Self> {
        let mut parts = value.splitn(4, '|');
        Some(Self {
            order_id: order_id.parse().ok()?,
            quantity: parts.next()?.parse().ok()?,
            reserved_at_ms: parts.next()?.parse().ok()?,
            idempotency_tag: parts.next()?.to_string(),
            user: parts.next()?.to_string(),
        })
    }
}

/// Why the gate refused an order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    Closed,
    Paused,
    NotOpen,
    InvalidQuantity,
    CapExceeded,
    SoldOut,
    /// A seated sale: seats are held first, then ordered from the hold.
    Seated,
    /// An operator revoked the buyer or this admission token.
    Revoked,
}

/// The outcome of [`StockGate::reserve`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reservation {
    /// Units reserved for the new order.
    Reserved {
        remaining: i64,
        price_cents: i64,
        currency: String,
        timeout_secs: i64,
        /// The load of the drop this reservation was made in (see `drops.redis_epoch`).
        epoch: i64,
    },
    /// The idempotency key was used before, for this order and quantity.
    Duplicate {
        order_id: Uuid,
        quantity: i64,
    },
    /// The drop is not in Redis (new Redis, lost data): load it and retry.
    NotLoaded,
    /// Stock buckets only: units are moving between buckets (a transfer
    /// in flight or racing buyers); not sold out. Try again shortly.
    Moving,
    Refused(Refusal),
}

/// A drop as Redis needs it.
#[derive(Debug, Clone)]
pub struct DropGateState {
    pub stock: i64,
    pub state: DropState,
    pub opens_at_ms: i64,
    pub cap: i32,
    pub price_cents: i64,
    pub currency: String,
    pub timeout_secs: i32,
    /// PostgreSQL's `updated_at` in microseconds: newer settings win.
    pub version: i64,
    /// PostgreSQL's `drops.redis_epoch`: which load of the drop this is.
    pub epoch: i64,
    /// A seated sale (seats are held, then ordered from the hold).
    pub seated: bool,
    /// A seated sale's hold time, ms.
    pub hold_ms: i64,
    /// How many stock buckets (1: the drop's own slot holds all).
    pub buckets: u32,
}

impl DropGateState {
    /// The drop's terms as both load scripts take them, in this order after
    /// the stock they load: state, opening (ms), per-user cap, price,
    /// currency, order timeout (s), settings version.
    pub(crate) fn arg_terms(&self, stock: i64, invocation: &mut redis::ScriptInvocation<'_>) {
        invocation
            .arg(stock)
            .arg(self.state.as_str())
            .arg(self.opens_at_ms)
            .arg(self.cap)
            .arg(self.price_cents)
            .arg(&self.currency)
            .arg(self.timeout_secs)
            .arg(self.version);
    }
}

/// What one slot gets of a drop's load: its stock share, the units its
/// orders hold (rebuild), its net borrowed units, and (on the drop's own
/// hash) the drop's bucket count.
#[derive(Debug, Clone, Copy)]
pub struct SlotLoad {
    pub stock: i64,
    pub sold: i64,
    pub moved: i64,
    pub buckets: u32,
}

/// Counters read back from a loaded drop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GateCounters {
    pub stock: i64,
    pub sold: i64,
}

/// One order holding units, as the rebuild needs it.
#[derive(Debug, Clone)]
pub struct Holding {
    pub order_id: Uuid,
    pub user_id: String,
    pub quantity: i32,
}

/// The waiting room's numbers, as the operator stats show them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct QueueCounters {
    pub waiting: u64,
    pub admitted: u64,
    /// Admitted within the admission token lifetime, not yet ordered.
    pub active: u64,
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    #[test]
    fn the_idempotency_tag_is_the_first_16_bytes_of_the_digest_in_hex() {
        // As written before the tag was built digit by digit: keys already
        // in Redis keep their names.
        let slow = |user: &str, key: &str| -> String {
            let mut digest = Sha256::new();
            digest.update(user.as_bytes());
            digest.update([0]);
            digest.update(key.as_bytes());
            digest
                .finalize()
                .iter()
                .take(16)
                .map(|b| format!("{b:02x}"))
                .collect()
        };
        for (user, key) in [("alice", "k-1"), ("", ""), ("bob|x", "ключ")] {
            let tag = super::idempotency_tag(user, key);
            assert_eq!(tag, slow(user, key));
            assert_eq!(tag.len(), 32);
        }
    }
}
