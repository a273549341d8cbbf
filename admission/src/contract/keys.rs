//! The Redis keys both services touch. Every key of a drop carries the
//! `{drop_id}` hash tag, so a drop lives in one Redis Cluster slot and each
//! script touches one slot only. Each service adds its private keys with
//! [`DropKeys::key`] (the sale's gate in `sale::gate`, the queue's line in
//! `queue::line`), so the whole keyspace of a drop shares the one base.

/// How many liveness buckets a drop's line is spread over: a prime, so that
/// arrival numbers and draw scores spread evenly, and large enough that 10M
/// fans leave ~76 in each, under Redis's default `hash-max-listpack-entries`
/// (128). A fan's bucket is `place score mod ALIVE_BUCKETS`.
pub const ALIVE_BUCKETS: u64 = 131_071;

/// The Redis keys of one drop.
#[derive(Debug, Clone)]
pub struct DropKeys {
    base: String,
}

impl DropKeys {
    pub fn new(prefix: &str, drop_id: &str) -> Self {
        Self {
            base: [prefix, ":{", drop_id, "}"].concat(),
        }
    }

    /// A key of this drop named by `suffix` (for a service's own keys).
    pub fn key(&self, suffix: &str) -> String {
        // Sized once: an order names eight keys, and `format!` grew each
        // (`loadtest/sitting/instructions`).
        [self.base.as_str(), ":", suffix].concat()
    }

    /// Hash, written by the sale: stock, sold, state, opens_at_ms, cap,
    /// price_cents, currency, timeout_secs, version, epoch. The queue reads
    /// stock and sold to admit no more shoppers than units are left.
    pub fn drop(&self) -> String {
        self.key("drop")
    }

    /// Zset user -> admitted at (ms): admitted fans who have not ordered
    /// yet. The queue's pump adds them; the sale's reserve script removes a
    /// buyer atomically with the reservation, so the pump may admit the next.
    pub fn shopping(&self) -> String {
        self.key("q:shopping")
    }

    /// Zset user -> place score: the line, kept by the queue; the sale's
    /// stats count it.
    pub fn line(&self) -> String {
        self.key("q:line")
    }

    /// Zset user -> admitted at, ms: admissions made by the queue's pump
    /// (the sale's revocation removes a revoked fan's).
    pub fn admitted(&self) -> String {
        self.key("q:admitted")
    }

    /// Prefix of the line's liveness buckets, kept by the queue: hash
    /// `{alive}:{b}` maps user -> last sign of life (ms) for the fans whose
    /// place score falls in bucket `b = score mod ALIVE_BUCKETS`. Many small
    /// hashes stay in Redis's compact listpack encoding (~25 bytes a fan at
    /// 10M fans, where a second sorted set took ~113).
    pub fn alive(&self) -> String {
        self.key("q:alive")
    }

    /// Set of user ids revoked by an operator (copied into every drop from
    /// PostgreSQL's `revoked_users`): the queue's join and the sale's
    /// reserve refuse them.
    pub fn revoked_users(&self) -> String {
        self.key("revoked:users")
    }

    /// Zset admission token id (`jti`) -> when it expires, ms: single tokens
    /// revoked by an operator; the sale's reserve refuses them.
    pub fn revoked_tokens(&self) -> String {
        self.key("revoked:jtis")
    }

    /// Hash access code hash -> "max_uses|used": the codes of an
    /// invite-only drop (see `queue::access`).
    pub fn access_codes(&self) -> String {
        self.key("access:codes")
    }

    /// Set of user ids granted access to an invite-only drop (listed, or
    /// by a redeemed code).
    pub fn access_users(&self) -> String {
        self.key("access:users")
    }

    /// String, present once the access keys were loaded from PostgreSQL
    /// into this Redis (absent after Redis lost them: load again).
    pub fn access_loaded(&self) -> String {
        self.key("access:loaded")
    }

    /// Hash removed, admitted, skipped: the pump's progress, kept by the
    /// queue; the sale's stats show `admitted`.
    pub fn progress(&self) -> String {
        self.key("q:progress")
    }
}

/// How an access code is stored (PostgreSQL and Redis): the hex SHA-256 of
/// the code as typed, trimmed and upper-cased (codes are not case
/// sensitive), so a leaked dump gives no usable code.
pub fn access_code_hash(code: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(code.trim().to_uppercase().as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_shares_the_drop_hash_tag() {
        let keys = DropKeys::new("lineup", "sneaker-1");
        for key in [
            keys.drop(),
            keys.shopping(),
            keys.line(),
            keys.progress(),
            keys.admitted(),
            keys.alive(),
            keys.revoked_users(),
            keys.revoked_tokens(),
            keys.access_codes(),
            keys.access_users(),
            keys.access_loaded(),
            keys.key("x"),
        ] {
            assert!(key.starts_with("lineup:{sneaker-1}:"), "{key}");
        }
    }
}
