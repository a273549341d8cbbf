//! The drops this node serves: their settings (from PostgreSQL, refreshed
//! every second, so an operator's change to rate, `max_active`, pause or
//! resume takes effect within a second) and their live line snapshot (from
//! Redis, every half second). Each drop's state is published on a `watch`
//! channel: every connection computes its fan's status from it locally, so
//! status costs no Redis call per fan.

use crate::line::{LineSnapshot, Lines};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;

/// A drop's settings as the queue needs them.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct DropSettings {
    pub id: String,
    pub name: String,
    pub opens_at: DateTime<Utc>,
    pub state: String,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    pub draw_seed: String,
    /// Units of pending orders (they may come back when they expire).
    pub pending_units: i64,
}

/// Everything a status is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct DropState {
    pub settings: DropSettings,
    pub line: LineSnapshot,
    /// Admissions per second, measured over the last few seconds.
    pub measured_rate: f64,
}

impl DropState {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        now >= self.settings.opens_at
    }

    /// Nothing left and nothing pending that could come back.
    pub fn sold_out(&self) -> bool {
        self.line.units_left.is_some_and(|left| left <= 0) && self.settings.pending_units == 0
    }
}

#[derive(Clone, Default)]
pub struct Catalog {
    drops: Arc<RwLock<HashMap<String, watch::Sender<Arc<DropState>>>>>,
}

impl Catalog {
    /// The drop's state channel, if the drop exists.
    pub fn watch(&self, drop_id: &str) -> Option<watch::Receiver<Arc<DropState>>> {
        let drops = self.drops.read().unwrap_or_else(|e| e.into_inner());
        drops.get(drop_id).map(|tx| tx.subscribe())
    }

    pub fn get(&self, drop_id: &str) -> Option<Arc<DropState>> {
        self.watch(drop_id).map(|rx| rx.borrow().clone())
    }

    pub fn all(&self) -> Vec<Arc<DropState>> {
        let drops = self.drops.read().unwrap_or_else(|e| e.into_inner());
        drops.values().map(|tx| tx.borrow().clone()).collect()
    }

    fn publish(&self, state: DropState) {
        let mut drops = self.drops.write().unwrap_or_else(|e| e.into_inner());
        match drops.get(&state.settings.id) {
            Some(tx) => {
                tx.send_if_modified(|current| {
                    if **current == state {
                        false
                    } else {
                        *current = Arc::new(state.clone());
                        true
                    }
                });
            }
            None => {
                let id = state.settings.id.clone();
                drops.insert(id, watch::channel(Arc::new(state)).0);
            }
        }
    }
}

pub async fn load_settings(db: &sqlx::PgPool) -> sqlx::Result<Vec<DropSettings>> {
    sqlx::query_as::<_, DropSettings>(
        "SELECT d.id, d.name, d.opens_at, d.state, d.admission_rate_per_sec, d.max_active, \
           d.draw_seed, COALESCE((SELECT sum(o.quantity) FROM orders o \
             WHERE o.drop_id = d.id AND o.status = 'pending'), 0)::BIGINT AS pending_units \
         FROM drops d WHERE d.state <> 'closed' OR d.updated_at > now() - interval '1 day' \
         ORDER BY d.opens_at DESC LIMIT 500",
    )
    .fetch_all(db)
    .await
}

/// Refreshes the catalog until the task is dropped: settings every second
/// and at once when a change is announced (`changed`), line snapshots every
/// half second.
pub async fn run(
    catalog: Catalog,
    db: sqlx::PgPool,
    lines: Lines,
    clock: crate::clock::QueueClock,
    admission_ttl: Duration,
    changed: std::sync::Arc<tokio::sync::Notify>,
) {
    tracing::info!("drop catalog started");
    let mut settings: Vec<DropSettings> = Vec::new();
    let mut history: HashMap<String, std::collections::VecDeque<(i64, u64)>> = HashMap::new();
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut n = 0u64;
    loop {
        let announced = tokio::select! {
            _ = tick.tick() => false,
            _ = changed.notified() => true,
        };
        if announced || n.is_multiple_of(2) || settings.is_empty() {
            match load_settings(&db).await {
                Ok(fresh) => settings = fresh,
                Err(error) => tracing::debug!(%error, "catalog: PostgreSQL unavailable"),
            }
        }
        n += 1;
        let now_ms = clock.now_ms();
        for drop in &settings {
            let active_since = now_ms - admission_ttl.as_millis() as i64;
            let line = match lines.snapshot(&drop.id, active_since).await {
                Ok(line) => line,
                Err(error) => {
                    tracing::debug!(%error, "catalog: Redis unavailable");
                    break;
                }
            };
            let samples = history.entry(drop.id.clone()).or_default();
            samples.push_back((now_ms, line.progress.admitted));
            while samples.len() > 20 {
                samples.pop_front();
            }
            let measured_rate = match (samples.front(), samples.back()) {
                (Some(&(t0, a0)), Some(&(t1, a1))) if t1 > t0 => {
                    (a1.saturating_sub(a0)) as f64 * 1000.0 / (t1 - t0) as f64
                }
                _ => 0.0,
            };
            catalog.publish(DropState {
                settings: drop.clone(),
                line,
                measured_rate,
            });
        }
    }
}
