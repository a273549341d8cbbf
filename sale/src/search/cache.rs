//! The answer cache: whole answers (a first page with its facets, a list of
//! suggestions) kept in this process, keyed by the normalised query, for at
//! most [`MAX_AGE_SECS`], the `max-age` the HTTP answers carry anyway.
//!
//! - **Fresh**: an entry serves only while it is younger than
//!   [`MAX_AGE_SECS`] (by the injectable clock) *and* the engine's change
//!   generation is the one it was computed at
//!   ([`super::SearchEngine::generation`]: PostgreSQL bumps a sequence on
//!   every statement that writes the search tables). So a change that has
//!   committed before a search starts is seen by it, and an answer computed
//!   while a change committed is at most [`MAX_AGE_SECS`] stale: never
//!   staler than what the `Cache-Control` header already allows (and the
//!   HTTP layer says its `Age`).
//! - **Bounded**: at most `entries` answers and `bytes` of their JSON;
//!   the oldest go first (they are also the first to expire).
//! - **Single-flight**: identical misses at the same generation share one
//!   computation. It runs on a task of its own, so a caller that goes away
//!   (a fan closing the page cancels the handler) neither cancels it for
//!   the others nor leaves it half done: it finishes (within the search's
//!   time limit) and its answer is kept for the next asker.
//!
//! Errors are not kept; every caller waiting on a failed computation gets
//! the error.

use super::SearchError;
use chrono::{DateTime, Utc};
use futures::future::{BoxFuture, FutureExt, Shared};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long an answer may be reused, in seconds: the search answers'
/// `max-age`.
pub const MAX_AGE_SECS: u32 = 10;

/// Bounds of one cache (`entries` 0 turns it off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    pub entries: usize,
    pub bytes: usize,
}

impl CacheConfig {
    /// No caching: every search goes to the engine.
    pub const OFF: Self = Self {
        entries: 0,
        bytes: 0,
    };
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            entries: 10_000,
            bytes: 64 << 20,
        }
    }
}

/// How an answer was served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Served {
    /// From the cache, computed this long ago.
    Hit(Duration),
    /// Computed for this caller (alone, or with others waiting on it).
    Miss,
    /// Waited for an identical search already running.
    Coalesced,
    /// The cache is off.
    Uncached,
}

/// Counters since start.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    pub coalesced: u64,
    pub entries: usize,
    pub bytes: usize,
}

type Outcome<V> = Result<Arc<V>, Arc<SearchError>>;
type Pending<V> = Shared<BoxFuture<'static, Outcome<V>>>;

enum Slot<V> {
    Ready {
        value: Arc<V>,
        generation: Option<i64>,
        at: DateTime<Utc>,
        bytes: usize,
        id: u64,
    },
    Running {
        generation: Option<i64>,
        pending: Pending<V>,
        id: u64,
    },
}

struct Inner<V> {
    slots: HashMap<String, Slot<V>>,
    /// Ready entries in the order they were stored (key, id): who goes
    /// first when a bound is reached or an entry expires. An id that no
    /// longer matches its slot is a leftover and skipped.
    order: VecDeque<(String, u64, DateTime<Utc>)>,
    ready: usize,
    bytes: usize,
    next_id: u64,
}

/// A cache of answers of type `V`.
pub struct AnswerCache<V> {
    config: CacheConfig,
    max_age: chrono::Duration,
    inner: Mutex<Inner<V>>,
    hits: AtomicU64,
    misses: AtomicU64,
    coalesced: AtomicU64,
}

/// An error for every caller of a shared computation (the database error's
/// text is kept; its source is not clonable).
fn shared_error(error: &SearchError) -> SearchError {
    match error {
        SearchError::Invalid(code, message) => SearchError::Invalid(code, message.clone()),
        SearchError::Timeout => SearchError::Timeout,
        SearchError::Encode(e) => SearchError::Encode(e.clone()),
        SearchError::Database(e) => SearchError::Database(sqlx::Error::Protocol(e.to_string())),
    }
}

impl<V: Send + Sync + 'static> AnswerCache<V> {
    pub fn new(config: CacheConfig) -> Arc<Self> {
        Arc::new(Self {
            config,
            max_age: chrono::Duration::seconds(i64::from(MAX_AGE_SECS)),
            inner: Mutex::new(Inner {
                slots: HashMap::new(),
                order: VecDeque::new(),
                ready: 0,
                bytes: 0,
                next_id: 0,
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            coalesced: AtomicU64::new(0),
        })
    }

    pub fn enabled(&self) -> bool {
        self.config.entries > 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner<V>> {
        // A panic while holding the lock leaves consistent-enough state
        // (counters at worst): keep serving.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn stats(&self) -> CacheStats {
        let inner = self.lock();
        CacheStats {
            hits: self.hits.load(Ordering::Relaxed),
            misses: self.misses.load(Ordering::Relaxed),
            coalesced: self.coalesced.load(Ordering::Relaxed),
            entries: inner.ready,
            bytes: inner.bytes,
        }
    }

    /// The answer for `key` at `generation` (the engine's, read just now)
    /// and `now`: a fresh cached one, the one being computed, or
    /// `compute`'s (run on a task of its own; `size` is what it holds).
    pub async fn get_or_compute(
        self: &Arc<Self>,
        key: String,
        generation: Option<i64>,
        now: DateTime<Utc>,
        compute: BoxFuture<'static, Result<V, SearchError>>,
        size: fn(&V) -> usize,
    ) -> Result<(Arc<V>, Served), SearchError> {
        if !self.enabled() {
            return compute.await.map(|v| (Arc::new(v), Served::Uncached));
        }
        let (pending, served) = {
            let mut inner = self.lock();
            if let Some(hit) = self.hit(inner.slots.get(&key), generation, now) {
                return Ok(hit);
            }
            match inner.slots.get(&key) {
                Some(Slot::Running {
                    generation: g,
                    pending,
                    ..
                }) if *g == generation => {
                    self.coalesced.fetch_add(1, Ordering::Relaxed);
                    (pending.clone(), Served::Coalesced)
                }
                _ => {
                    self.misses.fetch_add(1, Ordering::Relaxed);
                    let id = inner.next_id;
                    inner.next_id += 1;
                    let pending = self.spawn(key.clone(), id, generation, now, compute, size);
                    if let Some(Slot::Ready { bytes, .. }) = inner.slots.insert(
                        key,
                        Slot::Running {
                            generation,
                            pending: pending.clone(),
                            id,
                        },
                    ) {
                        inner.ready -= 1;
                        inner.bytes -= bytes;
                    }
                    (pending, Served::Miss)
                }
            }
        };
        match pending.await {
            Ok(value) => Ok((value, served)),
            Err(e) => Err(shared_error(&e)),
        }
    }

    /// A fresh answer for `key` at `generation` and `now`, if one is kept
    /// (nothing is computed; a miss is not counted).
    pub fn get(
        &self,
        key: &str,
        generation: Option<i64>,
        now: DateTime<Utc>,
    ) -> Option<(Arc<V>, Served)> {
        if !self.enabled() {
            return None;
        }
        let inner = self.lock();
        self.hit(inner.slots.get(key), generation, now)
    }

    /// `slot`'s answer when it is ready, of `generation` and fresh at
    /// `now` (counted as a hit).
    fn hit(
        &self,
        slot: Option<&Slot<V>>,
        generation: Option<i64>,
        now: DateTime<Utc>,
    ) -> Option<(Arc<V>, Served)> {
        match slot {
            Some(Slot::Ready {
                value,
                generation: g,
                at,
                ..
            }) if *g == generation && now >= *at && now - *at < self.max_age => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                let age = (now - *at).to_std().unwrap_or_default();
                Some((value.clone(), Served::Hit(age)))
            }
            _ => None,
        }
    }

    /// Keeps an answer computed alongside another (a later page read ahead
    /// with the one asked), unless that key is being computed right now.
    pub fn put(
        &self,
        key: String,
        generation: Option<i64>,
        at: DateTime<Utc>,
        value: V,
        bytes: usize,
    ) {
        if !self.enabled() || bytes > self.config.bytes {
            return;
        }
        let mut inner = self.lock();
        if matches!(inner.slots.get(&key), Some(Slot::Running { .. })) {
            return;
        }
        let id = inner.next_id;
        inner.next_id += 1;
        if let Some(Slot::Ready { bytes: old, .. }) = inner.slots.insert(
            key.clone(),
            Slot::Ready {
                value: Arc::new(value),
                generation,
                at,
                bytes,
                id,
            },
        ) {
            inner.ready -= 1;
            inner.bytes -= old;
        }
        inner.ready += 1;
        inner.bytes += bytes;
        inner.order.push_back((key, id, at));
        self.evict(&mut inner, at);
    }

    /// Runs a computation on its own task; it stores its answer (or clears
    /// its slot on an error) when done, whoever is still waiting.
    fn spawn(
        self: &Arc<Self>,
        key: String,
        id: u64,
        generation: Option<i64>,
        at: DateTime<Utc>,
        compute: BoxFuture<'static, Result<V, SearchError>>,
        size: fn(&V) -> usize,
    ) -> Pending<V> {
        let cache = self.clone();
        let task = tokio::spawn(async move {
            let outcome = compute.await.map(Arc::new).map_err(Arc::new);
            let bytes = outcome.as_ref().map(|v| size(v)).unwrap_or(0);
            cache.store(key, id, generation, at, &outcome, bytes);
            outcome
        });
        async move {
            task.await.unwrap_or_else(|e| {
                Err(Arc::new(SearchError::Database(sqlx::Error::Protocol(
                    format!("the search task failed: {e}"),
                ))))
            })
        }
        .boxed()
        .shared()
    }

    fn store(
        &self,
        key: String,
        id: u64,
        generation: Option<i64>,
        at: DateTime<Utc>,
        outcome: &Outcome<V>,
        bytes: usize,
    ) {
        let mut inner = self.lock();
        // Only the computation that owns the slot settles it.
        if !matches!(inner.slots.get(&key), Some(Slot::Running { id: i, .. }) if *i == id) {
            return;
        }
        match outcome {
            Ok(value) if bytes <= self.config.bytes => {
                inner.slots.insert(
                    key.clone(),
                    Slot::Ready {
                        value: value.clone(),
                        generation,
                        at,
                        bytes,
                        id,
                    },
                );
                inner.ready += 1;
                inner.bytes += bytes;
                inner.order.push_back((key, id, at));
            }
            _ => {
                inner.slots.remove(&key);
            }
        }
        self.evict(&mut inner, at);
    }

    /// Drops the oldest entries while a bound is exceeded or they have
    /// expired (relative to `now`, the newest entry's time).
    fn evict(&self, inner: &mut Inner<V>, now: DateTime<Utc>) {
        while let Some((key, id, at)) = inner.order.front().cloned() {
            let over = inner.ready > self.config.entries || inner.bytes > self.config.bytes;
            if !over && now - at < self.max_age {
                break;
            }
            inner.order.pop_front();
            if let Some(Slot::Ready { id: i, bytes, .. }) = inner.slots.get(&key) {
                if *i == id {
                    inner.ready -= 1;
                    inner.bytes -= bytes;
                    inner.slots.remove(&key);
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;

    fn t0() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-12-03T08:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    fn answer(
        calls: &Arc<AtomicUsize>,
        value: &str,
        delay_ms: u64,
    ) -> BoxFuture<'static, Result<String, SearchError>> {
        let (calls, value) = (calls.clone(), value.to_string());
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            Ok(value)
        }
        .boxed()
    }

    #[tokio::test]
    async fn a_hit_serves_the_same_answer_until_it_is_older_than_max_age() {
        let cache = AnswerCache::<String>::new(CacheConfig::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let get = |now, value: &str| {
            cache.get_or_compute(
                "q".into(),
                Some(1),
                now,
                answer(&calls, value, 0),
                String::len,
            )
        };
        let (first, served) = get(t0(), "one").await.unwrap();
        assert_eq!(served, Served::Miss);
        let later = t0() + chrono::Duration::milliseconds(9_999);
        let (again, served) = get(later, "two").await.unwrap();
        assert!(Arc::ptr_eq(&first, &again));
        assert_eq!(served, Served::Hit(Duration::from_millis(9_999)));
        // At max-age it is computed again.
        let (fresh, served) = get(t0() + chrono::Duration::seconds(10), "three")
            .await
            .unwrap();
        assert_eq!((fresh.as_str(), served), ("three", Served::Miss));
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 2, 1));
    }

    #[tokio::test]
    async fn a_new_generation_is_never_served_an_older_answer() {
        let cache = AnswerCache::<String>::new(CacheConfig::default());
        let calls = Arc::new(AtomicUsize::new(0));
        let get = |generation, value: &str| {
            cache.get_or_compute(
                "q".into(),
                Some(generation),
                t0(),
                answer(&calls, value, 0),
                String::len,
            )
        };
        assert_eq!(*get(1, "before").await.unwrap().0, "before");
        assert_eq!(*get(2, "after").await.unwrap().0, "after");
        assert_eq!(*get(2, "unused").await.unwrap().0, "after");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn identical_misses_share_one_computation_even_if_its_caller_leaves() {
        let cache = AnswerCache::<String>::new(CacheConfig::default());
        let calls = Arc::new(AtomicUsize::new(0));
        // The first caller gives up at once: the computation goes on.
        let first = cache.get_or_compute(
            "q".into(),
            Some(1),
            t0(),
            answer(&calls, "shared", 100),
            String::len,
        );
        assert!(tokio::time::timeout(Duration::from_millis(5), first)
            .await
            .is_err());
        let waiting: Vec<_> = (0..50)
            .map(|_| {
                let cache = cache.clone();
                let calls = calls.clone();
                tokio::spawn(async move {
                    cache
                        .get_or_compute(
                            "q".into(),
                            Some(1),
                            t0(),
                            answer(&calls, "second", 100),
                            String::len,
                        )
                        .await
                })
            })
            .collect();
        for w in waiting {
            let (value, served) = w.await.unwrap().unwrap();
            assert_eq!((value.as_str(), served), ("shared", Served::Coalesced));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        let (value, served) = cache
            .get_or_compute(
                "q".into(),
                Some(1),
                t0(),
                answer(&calls, "x", 0),
                String::len,
            )
            .await
            .unwrap();
        assert_eq!(
            (value.as_str(), served),
            ("shared", Served::Hit(Duration::ZERO))
        );
        assert_eq!(cache.stats().coalesced, 50);
    }

    #[tokio::test]
    async fn errors_reach_every_waiter_and_are_not_kept() {
        let cache = AnswerCache::<String>::new(CacheConfig::default());
        let failing = || async { Err(SearchError::Timeout) }.boxed();
        let a = cache.get_or_compute("q".into(), None, t0(), failing(), String::len);
        let b = cache.get_or_compute("q".into(), None, t0(), failing(), String::len);
        let (a, b) = tokio::join!(a, b);
        assert!(matches!(a, Err(SearchError::Timeout)));
        assert!(matches!(b, Err(SearchError::Timeout)));
        let calls = Arc::new(AtomicUsize::new(0));
        let (value, served) = cache
            .get_or_compute("q".into(), None, t0(), answer(&calls, "ok", 0), String::len)
            .await
            .unwrap();
        assert_eq!((value.as_str(), served), ("ok", Served::Miss));
    }

    #[tokio::test]
    async fn entries_and_bytes_stay_within_their_bounds() {
        let cache = AnswerCache::<String>::new(CacheConfig {
            entries: 10,
            bytes: 100,
        });
        let calls = Arc::new(AtomicUsize::new(0));
        for n in 0..50 {
            let at = t0() + chrono::Duration::milliseconds(n);
            let value = if n % 7 == 0 {
                "x".repeat(30)
            } else {
                "y".into()
            };
            cache
                .get_or_compute(
                    format!("q{n}"),
                    None,
                    at,
                    answer(&calls, &value, 0),
                    String::len,
                )
                .await
                .unwrap();
            let stats = cache.stats();
            assert!(stats.entries <= 10 && stats.bytes <= 100, "{stats:?}");
        }
        // The newest stayed, the oldest went.
        let at = t0() + chrono::Duration::milliseconds(50);
        let get = |key: &str| {
            cache.get_or_compute(key.into(), None, at, answer(&calls, "new", 0), String::len)
        };
        assert!(matches!(get("q49").await.unwrap().1, Served::Hit(_)));
        assert_eq!(get("q0").await.unwrap().1, Served::Miss);
        // An answer bigger than the whole budget is served, not kept.
        let big = cache
            .get_or_compute(
                "big".into(),
                None,
                at,
                answer(&calls, &"z".repeat(200), 0),
                String::len,
            )
            .await
            .unwrap();
        assert_eq!(big.1, Served::Miss);
        assert!(cache.stats().bytes <= 100);
        // Expired entries are dropped as newer ones arrive.
        let much_later = t0() + chrono::Duration::seconds(60);
        cache
            .get_or_compute(
                "last".into(),
                None,
                much_later,
                answer(&calls, "l", 0),
                String::len,
            )
            .await
            .unwrap();
        assert_eq!(cache.stats().entries, 1);
    }

    #[tokio::test]
    async fn a_page_put_alongside_serves_until_max_age_or_a_new_generation() {
        let cache = AnswerCache::<String>::new(CacheConfig {
            entries: 2,
            bytes: 1 << 20,
        });
        cache.put("p3".into(), Some(1), t0(), "three".into(), 5);
        let later = t0() + chrono::Duration::milliseconds(9_999);
        let (value, served) = cache.get("p3", Some(1), later).unwrap();
        assert_eq!(
            (value.as_str(), served),
            ("three", Served::Hit(Duration::from_millis(9_999)))
        );
        assert!(
            cache.get("p3", Some(2), later).is_none(),
            "a new generation"
        );
        assert!(cache
            .get("p3", Some(1), t0() + chrono::Duration::seconds(10))
            .is_none());
        assert!(cache.get("p4", Some(1), later).is_none());
        // Bounded like the rest: a third entry pushes the oldest out.
        cache.put("p4".into(), Some(1), t0(), "four".into(), 4);
        cache.put("p5".into(), Some(1), t0(), "five".into(), 4);
        assert!(cache.get("p3", Some(1), later).is_none());
        assert_eq!(cache.stats().entries, 2);
        // A key being computed is left to its computation.
        let calls = Arc::new(AtomicUsize::new(0));
        let running = cache.get_or_compute(
            "p6".into(),
            Some(1),
            t0(),
            answer(&calls, "computed", 50),
            String::len,
        );
        let put_meanwhile = async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            cache.put("p6".into(), Some(1), t0(), "put".into(), 3);
        };
        let ((value, _), ()) = tokio::join!(async { running.await.unwrap() }, put_meanwhile);
        assert_eq!(value.as_str(), "computed");
        assert_eq!(
            cache.get("p6", Some(1), later).unwrap().0.as_str(),
            "computed"
        );
    }
}
