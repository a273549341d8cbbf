//! What the fans of a rush tell the run, under one lock: each fan's join
//! window and outcome, the counters, errors by code, acknowledged orders
//! and the per-second samples.

use serde::Serialize;
use std::collections::{BTreeMap, HashSet};
use std::sync::Mutex;
use std::time::Instant;

/// One live fan as the run saw it.
#[derive(Debug, Default)]
pub(crate) struct Fan {
    pub user: String,
    /// When the join request left and when its answer came back: a fan
    /// whose answer came before another's request left surely holds the
    /// earlier place.
    pub join_window: Option<(Instant, Instant)>,
    pub prequeue: bool,
    pub admitted: bool,
    pub abandoned: bool,
}

/// The run's record, shared by every fan task, the ticker and the report.
#[derive(Default)]
pub(crate) struct Shared {
    pub fans: Vec<Fan>,
    pub acknowledged: HashSet<String>,
    pub errors: BTreeMap<String, u64>,
    pub joined: u64,
    pub admitted: u64,
    pub orders: u64,
    pub paid: u64,
    pub declined: u64,
    pub first_join: Option<Instant>,
    pub last_join: Option<Instant>,
    /// Order latency in the current second (sum ms, count), for the plot.
    pub order_ms: (f64, u64),
    pub samples: Vec<Sample>,
}

impl Shared {
    /// A record for `fans` live fans, named `fan-0` …
    pub fn new(fans: usize) -> Self {
        Self {
            fans: (0..fans)
                .map(|n| Fan {
                    user: format!("fan-{n}"),
                    ..Fan::default()
                })
                .collect(),
            ..Self::default()
        }
    }

    /// Fans who left right after joining.
    pub fn abandoned(&self) -> usize {
        self.fans.iter().filter(|f| f.abandoned).count()
    }
}

/// Counts one error under `code` (e.g. `"order 409 sold_out"`).
pub(crate) fn error(shared: &Mutex<Shared>, code: impl Into<String>) {
    if let Ok(mut s) = shared.lock() {
        *s.errors.entry(code.into()).or_default() += 1;
    }
}

/// One second of the run, for the plot.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct Sample {
    pub second: f64,
    pub joined: u64,
    pub admitted: u64,
    pub orders: u64,
    /// Live fans joined and still waiting (not admitted, not abandoned).
    pub waiting: u64,
    /// The drop's whole line in Redis (live and idle fans).
    pub line: u64,
    /// Redis `used_memory`, MiB.
    pub redis_mib: f64,
    /// Mean order latency in that second, ms.
    pub order_ms: f64,
}
