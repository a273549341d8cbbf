//! A leader lease in Redis: one holder at a time per key, kept by renewing
//! well within the lease time, taken over by another process within one
//! lease time when the holder dies or stalls.
//!
//! A holder that cannot renew (Redis unreachable, process paused) must stop
//! acting as leader before its lease can have expired: [`Lease::acquire`]
//! reports `false` on any error, and callers renew every third of the lease.

use runtime::redis::Redis;
use std::sync::LazyLock;
use std::time::Duration;

static LEASE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/lease.lua")));

#[derive(Clone)]
pub struct Lease {
    redis: Redis,
    key: String,
    holder: String,
    ttl: Duration,
}

impl Lease {
    pub fn new(redis: Redis, key: String, holder: String, ttl: Duration) -> Self {
        Self {
            redis,
            key,
            holder,
            ttl,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    pub fn holder(&self) -> &str {
        &self.holder
    }

    /// Takes the lease when free or renews it when ours; true when we hold it.
    pub async fn acquire(&self) -> bool {
        let mut redis = self.redis.clone();
        let mut invocation = LEASE.prepare_invoke();
        invocation
            .key(&self.key)
            .arg("acquire")
            .arg(&self.holder)
            .arg(self.ttl.as_millis() as u64);
        let call = invocation.invoke_async::<i64>(&mut redis);
        matches!(tokio::time::timeout(self.ttl / 3, call).await, Ok(Ok(1)))
    }

    /// Gives the lease up (when ours), so a successor need not wait it out.
    pub async fn release(&self) {
        let _ = LEASE
            .key(&self.key)
            .arg("release")
            .arg(&self.holder)
            .arg(0)
            .invoke_async::<i64>(&mut self.redis.clone())
            .await;
    }
}
