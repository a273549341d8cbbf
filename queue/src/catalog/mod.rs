//! The drops this node serves, loaded on demand and kept only while live.
//!
//! A drop enters the catalog on the first request that names it (one
//! PostgreSQL query; an unknown id is remembered for a moment so a flood of
//! bogus ids cannot hammer PostgreSQL), and leaves it once nobody here has
//! asked about it for a while and nobody waits in its line. While loaded, its
//! settings are refreshed every second (in pages of loaded ids, so the cost
//! grows with the drops served, not with history) and at once when the sale
//! announces a change to it; its line is snapshotted every half second for
//! all loaded drops in one Redis round trip.
//!
//! Each drop's state is published on a `watch` channel: every connection
//! computes its fan's status from it locally, so status costs no Redis call
//! per fan. A change of settings, or of what the line says beyond progress
//! (sold out, all reserved, the shop full), wakes every session; a snapshot
//! that only moves the line is stored without waking them, and each reads
//! it on its next tick (once a second).

pub mod state;

pub use state::{DropSettings, DropState};

use crate::clock::QueueClock;
use crate::line::Lines;
use admission::contract::DropState as OperatorState;
use admission::contract::PowAlgorithm;
use runtime::shutdown::CancellationToken;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// How long an unknown drop id is answered from memory.
const UNKNOWN_FOR_MS: i64 = 2_000;
/// Most unknown ids remembered (beyond, the oldest are forgotten).
const MAX_UNKNOWN: usize = 10_000;
/// A drop nobody asked about for this long, with nobody waiting, is dropped.
const EVICT_AFTER_MS: i64 = 10 * 60 * 1000;
/// Loaded drops refreshed per query / per Redis pipeline.
const PAGE: usize = 500;
/// Admission samples kept per drop (two a second: a minute).
const HISTORY: usize = 120;

/// Why loading a drop failed.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("the drop database is unavailable: {0}")]
    Database(#[from] sqlx::Error),
    #[error("Redis is unavailable: {0}")]
    Redis(#[from] redis::RedisError),
}

struct Entry {
    tx: watch::Sender<Arc<DropState>>,
    /// Someone joined since the last snapshot that saw the line empty.
    joined_since: std::sync::atomic::AtomicBool,
    used_ms: AtomicI64,
    history: Mutex<VecDeque<(i64, u64)>>,
}

struct Inner {
    db: sqlx::PgPool,
    lines: Lines,
    clock: QueueClock,
    admission_ttl: Duration,
    drops: RwLock<HashMap<String, Arc<Entry>>>,
    unknown: Mutex<HashMap<String, i64>>,
    loading: tokio::sync::Mutex<()>,
}

/// The drops this node serves; cheap to clone.
#[derive(Clone)]
pub struct Catalog {
    inner: Arc<Inner>,
}

impl Catalog {
    pub fn new(db: sqlx::PgPool, lines: Lines, clock: QueueClock, admission_ttl: Duration) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                lines,
                clock,
                admission_ttl,
                drops: RwLock::default(),
                unknown: Mutex::default(),
                loading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    fn entry(&self, drop_id: &str) -> Option<Arc<Entry>> {
        let drops = self.inner.drops.read().unwrap_or_else(|e| e.into_inner());
        drops.get(drop_id).cloned()
    }

    /// The drop's state channel, loading the drop on first use; `None` for
    /// a drop PostgreSQL does not know.
    pub async fn watch(
        &self,
        drop_id: &str,
    ) -> Result<Option<watch::Receiver<Arc<DropState>>>, CatalogError> {
        if let Some(entry) = self.entry(drop_id) {
            entry
                .used_ms
                .store(runtime::monotonic_ms(), Ordering::Relaxed);
            return Ok(Some(entry.tx.subscribe()));
        }
        if self.known_unknown(drop_id) {
            return Ok(None);
        }
        let _one_load_at_a_time = self.inner.loading.lock().await;
        if let Some(entry) = self.entry(drop_id) {
            return Ok(Some(entry.tx.subscribe()));
        }
        let mut found = load_settings(&self.inner.db, &[drop_id.to_string()]).await?;
        let Some(settings) = found.pop() else {
            self.remember_unknown(drop_id);
            return Ok(None);
        };
        let active_since = self.active_since_ms();
        let line = self.inner.lines.snapshot(drop_id, active_since).await?;
        let entry = Arc::new(Entry {
            tx: watch::channel(Arc::new(DropState {
                settings,
                line,
                measured_rate: 0.0,
                measured_rate_minute: 0.0,
            }))
            .0,
            joined_since: std::sync::atomic::AtomicBool::new(false),
            used_ms: AtomicI64::new(runtime::monotonic_ms()),
            history: Mutex::new(VecDeque::from([(
                self.inner.clock.now_ms(),
                line.progress.admitted,
            )])),
        });
        let rx = entry.tx.subscribe();
        let mut drops = self.inner.drops.write().unwrap_or_else(|e| e.into_inner());
        drops.insert(drop_id.to_string(), entry);
        metrics::gauge!("queue_catalog_drops").set(drops.len() as f64);
        Ok(Some(rx))
    }

    /// The drop's current state, loading it on first use.
    pub async fn get(&self, drop_id: &str) -> Result<Option<Arc<DropState>>, CatalogError> {
        Ok(self.watch(drop_id).await?.map(|rx| rx.borrow().clone()))
    }

    /// The state of a drop already loaded (no loading).
    pub fn cached(&self, drop_id: &str) -> Option<Arc<DropState>> {
        self.entry(drop_id).map(|entry| entry.tx.borrow().clone())
    }

    /// Every loaded drop's state.
    pub fn all(&self) -> Vec<Arc<DropState>> {
        let drops = self.inner.drops.read().unwrap_or_else(|e| e.into_inner());
        drops
            .values()
            .map(|entry| entry.tx.borrow().clone())
            .collect()
    }

    /// A fan joined `drop_id`'s line here (the next snapshot may be up to
    /// half a second away; the pump must not skip the drop meanwhile).
    pub fn note_join(&self, drop_id: &str) {
        if let Some(entry) = self.entry(drop_id) {
            entry.joined_since.store(true, Ordering::Relaxed);
        }
    }

    /// Whether anybody may be waiting in `drop_id`'s line: per the last
    /// snapshot, or because someone joined since.
    pub fn may_have_waiting(&self, drop_id: &str) -> bool {
        self.entry(drop_id).is_some_and(|entry| {
            entry.tx.borrow().line.waiting > 0 || entry.joined_since.load(Ordering::Relaxed)
        })
    }

    /// The pump saw the line empty itself.
    pub fn saw_empty(&self, drop_id: &str) {
        if let Some(entry) = self.entry(drop_id) {
            entry.joined_since.store(false, Ordering::Relaxed);
        }
    }

    /// How many drops are loaded.
    pub fn len(&self) -> usize {
        self.inner.drops.read().map(|d| d.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn known_unknown(&self, drop_id: &str) -> bool {
        let unknown = self.inner.unknown.lock().unwrap_or_else(|e| e.into_inner());
        unknown
            .get(drop_id)
            .is_some_and(|until| *until > runtime::monotonic_ms())
    }

    fn remember_unknown(&self, drop_id: &str) {
        let now = runtime::monotonic_ms();
        let mut unknown = self.inner.unknown.lock().unwrap_or_else(|e| e.into_inner());
        if unknown.len() >= MAX_UNKNOWN {
            unknown.retain(|_, until| *until > now);
            if unknown.len() >= MAX_UNKNOWN {
                unknown.clear();
            }
        }
        unknown.insert(drop_id.to_string(), now + UNKNOWN_FOR_MS);
    }

    fn forget_unknown(&self, drop_id: &str) {
        let mut unknown = self.inner.unknown.lock().unwrap_or_else(|e| e.into_inner());
        unknown.remove(drop_id);
    }

    fn active_since_ms(&self) -> i64 {
        self.inner.clock.now_ms() - self.inner.admission_ttl.as_millis() as i64
    }

    fn loaded_ids(&self) -> Vec<String> {
        let drops = self.inner.drops.read().unwrap_or_else(|e| e.into_inner());
        drops.keys().cloned().collect()
    }

    /// Re-reads the settings of the given loaded drops from PostgreSQL.
    pub async fn refresh_settings(&self, ids: &[String]) -> Result<(), CatalogError> {
        for page in ids.chunks(PAGE) {
            for settings in load_settings(&self.inner.db, page).await? {
                if let Some(entry) = self.entry(&settings.id) {
                    entry.tx.send_if_modified(|current| {
                        if current.settings == settings {
                            return false;
                        }
                        *current = Arc::new(DropState {
                            settings: settings.clone(),
                            ..(**current).clone()
                        });
                        true
                    });
                }
            }
        }
        Ok(())
    }

    /// Takes a snapshot of every loaded drop's line (one pipeline per page).
    pub async fn refresh_lines(&self) -> Result<(), CatalogError> {
        let ids = self.loaded_ids();
        let now_ms = self.inner.clock.now_ms();
        for page in ids.chunks(PAGE) {
            let names: Vec<&str> = page.iter().map(String::as_str).collect();
            let lines = self
                .inner
                .lines
                .snapshots(&names, self.active_since_ms())
                .await?;
            for (id, line) in page.iter().zip(lines) {
                let Some(entry) = self.entry(id) else {
                    continue;
                };
                let (rate, rate_minute) = {
                    let mut history = entry.history.lock().unwrap_or_else(|e| e.into_inner());
                    history.push_back((now_ms, line.progress.admitted));
                    while history.len() > HISTORY {
                        history.pop_front();
                    }
                    (rate_over(&history, 20), rate_over(&history, HISTORY))
                };
                entry.tx.send_if_modified(|current| {
                    if current.line == line
                        && current.measured_rate == rate
                        && current.measured_rate_minute == rate_minute
                    {
                        return false;
                    }
                    let next = DropState {
                        line,
                        measured_rate: rate,
                        measured_rate_minute: rate_minute,
                        ..(**current).clone()
                    };
                    let says_more = next.line_says() != current.line_says();
                    *current = Arc::new(next);
                    // Stored either way; the sessions are woken only when
                    // a status says more than progress. Progress alone
                    // they read on their next tick (a second at most, as
                    // often as they push it at all): woken by every
                    // snapshot, every waiting fan cost two more wake-ups
                    // a second.
                    says_more
                });
            }
        }
        Ok(())
    }

    /// Forgets drops nobody here asked about lately, that nobody here
    /// watches, and whose line is empty (or which are closed).
    pub fn evict_idle(&self) -> usize {
        let now = runtime::monotonic_ms();
        let mut drops = self.inner.drops.write().unwrap_or_else(|e| e.into_inner());
        let before = drops.len();
        drops.retain(|_, entry| {
            let state = entry.tx.borrow();
            let idle = now - entry.used_ms.load(Ordering::Relaxed) > EVICT_AFTER_MS;
            let unwatched = entry.tx.receiver_count() == 0;
            let nobody_waits = state.line.waiting == 0 || state.is_closed();
            !(idle && unwatched && nobody_waits)
        });
        metrics::gauge!("queue_catalog_drops").set(drops.len() as f64);
        before - drops.len()
    }
}

/// Admissions per second between the oldest and newest of the last `n`
/// samples.
fn rate_over(history: &VecDeque<(i64, u64)>, n: usize) -> f64 {
    let skip = history.len().saturating_sub(n);
    match (history.get(skip), history.back()) {
        (Some(&(t0, a0)), Some(&(t1, a1))) if t1 > t0 => {
            a1.saturating_sub(a0) as f64 * 1000.0 / (t1 - t0) as f64
        }
        _ => 0.0,
    }
}

/// The settings of the given drops (unknown ids are left out).
pub async fn load_settings(db: &sqlx::PgPool, ids: &[String]) -> sqlx::Result<Vec<DropSettings>> {
    sqlx::query_as!(
        DropSettings,
        r#"SELECT d.id, d.name, d.opens_at, d.state AS "state: OperatorState",
             d.admission_rate_per_sec, d.max_active, d.draw_seed,
             LEAST(
               (SELECT min(o.expires_at) FROM orders o
                 WHERE o.drop_id = d.id AND o.status = 'pending'),
               (SELECT min(h.expires_at) FROM holds h
                 WHERE h.drop_id = d.id AND h.order_id IS NULL AND h.released_at IS NULL
                   AND h.expires_at > now())) AS earliest_pending_expiry,
             COALESCE(a.mode, 'open') AS "access!",
             COALESCE(a.proof_of_work, true) AS "proof_of_work!",
             COALESCE(a.pow_algorithm, 'SHA-256') AS "pow_algorithm!: PowAlgorithm",
             COALESCE(a.captcha, true) AS "captcha!"
           FROM drops d LEFT JOIN drop_access a ON a.drop_id = d.id
           WHERE d.id = ANY($1)"#,
        ids
    )
    .fetch_all(db)
    .await
}

/// Keeps the catalog fresh until `stop`: line snapshots every half second,
/// settings every second and at once for a drop whose change is announced
/// (`changed` carries drop ids), idle drops evicted every minute.
pub async fn run(catalog: Catalog, mut changed: mpsc::Receiver<String>, stop: CancellationToken) {
    tracing::info!("drop catalog started");
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            Some(drop_id) = changed.recv() => {
                // A new drop may have been asked for before it existed.
                catalog.forget_unknown(&drop_id);
                if catalog.entry(&drop_id).is_some() {
                    if let Err(error) = catalog.refresh_settings(&[drop_id]).await {
                        tracing::debug!(%error, "catalog: announced change not loaded; next refresh will");
                    }
                }
                continue;
            }
            _ = tick.tick() => {}
        }
        n += 1;
        if n.is_multiple_of(2) {
            if let Err(error) = catalog.refresh_settings(&catalog.loaded_ids()).await {
                tracing::debug!(%error, "catalog: settings not refreshed");
            }
        }
        if let Err(error) = catalog.refresh_lines().await {
            tracing::debug!(%error, "catalog: lines not refreshed");
        }
        if n.is_multiple_of(120) {
            let evicted = catalog.evict_idle();
            if evicted > 0 {
                tracing::debug!(evicted, "catalog: idle drops forgotten");
            }
        }
    }
    tracing::info!("drop catalog stopped");
}
