//! The Redis keyspace of one drop, named in one place because both services
//! touch it: the sale service's gate (stock, holdings, reservations,
//! idempotency) and the queue service's line (places, liveness, admissions,
//! the pump lease). The sale script removes a buyer from the queue's
//! shopping set; the queue reads the sale's stock counters. Every key
//! carries the `{drop_id}` hash tag, so a drop lives in one Redis Cluster
//! slot and each script touches one slot only.

use sha2::{Digest, Sha256};

/// The Redis keys of one drop.
#[derive(Debug, Clone)]
pub struct DropKeys {
    base: String,
}

impl DropKeys {
    pub fn new(prefix: &str, drop_id: &str) -> Self {
        Self {
            base: format!("{prefix}:{{{drop_id}}}"),
        }
    }

    // The sale service's gate.

    /// Hash: stock, sold, state, opens_at_ms, cap, price_cents, currency,
    /// timeout_secs, version, epoch.
    pub fn drop(&self) -> String {
        format!("{}:drop", self.base)
    }
    /// Hash: user id -> units held by the user's pending and paid orders.
    pub fn held(&self) -> String {
        format!("{}:held", self.base)
    }
    /// Hash: order id -> "quantity|reserved_at_ms|idempotency_tag|user" for
    /// every holding order.
    pub fn reservations(&self) -> String {
        format!("{}:res", self.base)
    }
    /// String: the order an idempotency key produced, for one user.
    pub fn idempotency(&self, user: &str, key: &str) -> String {
        self.idempotency_by_tag(&idempotency_tag(user, key))
    }
    /// The idempotency key named by a tag (as kept in a reservation record).
    pub fn idempotency_by_tag(&self, tag: &str) -> String {
        format!("{}:idem:{tag}", self.base)
    }

    // The queue service's line.

    /// Zset: user -> place score (pre-queue draw score, or 2^52 + arrival).
    pub fn line(&self) -> String {
        format!("{}:q:line", self.base)
    }
    /// Prefix of the liveness buckets: hash `{alive}:{b}` maps user -> last
    /// sign of life (ms) for the fans whose place score falls in bucket
    /// `b = score mod ALIVE_BUCKETS`. Many small hashes stay in Redis's
    /// compact listpack encoding (~25 bytes a fan at 10M fans, where a second
    /// sorted set took ~113).
    pub fn alive(&self) -> String {
        format!("{}:q:alive", self.base)
    }
    /// One liveness bucket (see [`DropKeys::alive`]).
    pub fn alive_bucket(&self, bucket: u64) -> String {
        format!("{}:q:alive:{bucket}", self.base)
    }
    /// Zset: user -> admitted at, ms.
    pub fn admitted(&self) -> String {
        format!("{}:q:admitted", self.base)
    }
    /// Zset: admitted fans who have not ordered yet (the sale service's
    /// reserve script removes a buyer atomically with the reservation).
    pub fn shopping(&self) -> String {
        format!("{}:q:shopping", self.base)
    }
    /// Counter of arrivals after opening.
    pub fn arrivals(&self) -> String {
        format!("{}:q:arrivals", self.base)
    }
    /// Hash: removed, admitted, skipped (the pump's progress).
    pub fn progress(&self) -> String {
        format!("{}:q:progress", self.base)
    }
    /// String: the pump lease holder.
    pub fn lease(&self) -> String {
        format!("{}:q:pump", self.base)
    }
}

/// How many liveness buckets a drop's line is spread over: a prime, so that
/// arrival numbers and draw scores spread evenly, and large enough that 10M
/// fans leave ~76 in each, under Redis's default `hash-max-listpack-entries`
/// (128).
pub const ALIVE_BUCKETS: u64 = 131_071;

/// The short hash naming one user's idempotency key in Redis.
pub fn idempotency_tag(user: &str, key: &str) -> String {
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
}
