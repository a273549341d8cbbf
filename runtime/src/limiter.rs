//! Rate limits keyed by user or client address (`governor`'s keyed GCRA
//! limiter), with the housekeeping a long-running service needs: keys not
//! seen lately are forgotten every few seconds, so the limiter's memory
//! follows the users and addresses active now, not every one ever seen.

use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use std::hash::Hash;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// How often keys not seen lately are forgotten.
pub const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// `per_second` requests a second per key, with a burst of twice that.
#[derive(Clone)]
pub struct KeyedLimiter<K: Hash + Eq + Clone> {
    inner: Arc<DefaultKeyedRateLimiter<K>>,
}

impl<K: Hash + Eq + Clone + Send + Sync + 'static> KeyedLimiter<K> {
    pub fn per_second(per_second: u32) -> Self {
        let n = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = n.saturating_mul(NonZeroU32::MIN.saturating_add(1));
        Self {
            inner: Arc::new(RateLimiter::keyed(Quota::per_second(n).allow_burst(burst))),
        }
    }

    /// True when `key` may go ahead now (and counts it).
    pub fn allows(&self, key: &K) -> bool {
        self.inner.check_key(key).is_ok()
    }

    /// Keys remembered now.
    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Forgets keys whose limit has fully recovered (as if never seen).
    pub fn prune(&self) {
        self.inner.retain_recent();
        self.inner.shrink_to_fit();
    }

    /// Prunes every [`PRUNE_EVERY`] until `stop`.
    pub fn spawn_pruning(&self, stop: CancellationToken) -> tokio::task::JoinHandle<()> {
        let limiter = self.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(PRUNE_EVERY);
            loop {
                tokio::select! {
                    _ = stop.cancelled() => break,
                    _ = tick.tick() => limiter.prune(),
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_not_seen_lately_are_forgotten() {
        let limiter = KeyedLimiter::per_second(20);
        for user in 0..1_000 {
            assert!(limiter.allows(&format!("user-{user}")));
        }
        assert_eq!(limiter.len(), 1_000);
        limiter.prune();
        assert_eq!(limiter.len(), 1_000, "just seen: kept");
        // The burst (40 at 20/s) is back in full after 2 s.
        std::thread::sleep(Duration::from_millis(2_100));
        limiter.prune();
        assert_eq!(limiter.len(), 0, "recovered keys are dropped");
    }

    #[test]
    fn the_limit_holds_per_key() {
        let limiter = KeyedLimiter::per_second(2);
        let allowed = (0..10).filter(|_| limiter.allows(&"a")).count();
        assert_eq!(allowed, 4, "burst of twice the rate");
        assert!(limiter.allows(&"b"), "another key is not affected");
    }
}
