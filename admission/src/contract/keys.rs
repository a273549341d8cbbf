//! The Redis keys both services touch. Every key of a drop carries the
//! `{drop_id}` hash tag, so a drop lives in one Redis Cluster slot and each
//! script touches one slot only. Each service adds its private keys with
//! [`DropKeys::key`] (the sale's gate in `sale::gate`, the queue's line in
//! `queue::line`), so the whole keyspace of a drop shares the one base.

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

    /// A key of this drop named by `suffix` (for a service's own keys).
    pub fn key(&self, suffix: &str) -> String {
        format!("{}:{suffix}", self.base)
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

    /// Hash removed, admitted, skipped: the pump's progress, kept by the
    /// queue; the sale's stats show `admitted`.
    pub fn progress(&self) -> String {
        self.key("q:progress")
    }
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
            keys.key("x"),
        ] {
            assert!(key.starts_with("lineup:{sneaker-1}:"), "{key}");
        }
    }
}
