//! The admission pump: for each open drop, the node holding the drop's lease
//! admits fans from the head of the line each tick, as many as the
//! [`AdmissionGovernor`] allows (rate, `max_active`, stock left), skipping
//! fans who left. Admissions are announced on a Redis channel so every node
//! can hand the token to its own connected fans at once.
//!
//! One pump per drop across all nodes: the lease (`admission::lease`) is
//! renewed every third of its time; a node that cannot renew stops admitting
//! for that drop, and another takes over within one lease time, starting
//! its governor empty (no burst).

use crate::catalog::Catalog;
use crate::clock::QueueClock;
use crate::line::Lines;
use admission::contract::DropState as OperatorState;
use admission::governor::AdmissionGovernor;
use admission::lease::Lease;
use runtime::shutdown::CancellationToken;
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

/// How long a pump trusts its own reading of an empty line (unless the
/// catalog sees someone waiting sooner), in ms: an empty drop costs one
/// Redis call a second, not one a tick.
const EMPTY_RECHECK_MS: i64 = 1_000;

/// Fans just admitted in a drop, as announced to every node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admitted {
    pub drop: String,
    pub at_ms: i64,
    pub users: Vec<String>,
}

/// The Redis channel admissions are announced on (between queue nodes).
pub fn channel(prefix: &str) -> String {
    format!("{prefix}:queue:admitted")
}

struct Led {
    lease: Lease,
    held: bool,
    /// When the lease was last taken, renewed or tried for (real time: the
    /// lease expires in Redis by real time, whatever the drop clock says).
    tried_at: Option<std::time::Instant>,
    /// When this pump last found the line empty: it looks again a second
    /// later, or as soon as the catalog sees someone waiting.
    empty_at_ms: Option<i64>,
    governor: Option<AdmissionGovernor>,
}

/// What a pump is made of.
pub struct PumpSettings {
    pub lines: Lines,
    pub catalog: Catalog,
    pub clock: QueueClock,
    pub node_id: String,
    pub prefix: String,
    pub lease_ttl: Duration,
    pub admission_ttl: Duration,
    pub abandon_after: Duration,
}

pub struct Pump {
    lines: Lines,
    catalog: Catalog,
    clock: QueueClock,
    node_id: String,
    prefix: String,
    lease_ttl: Duration,
    admission_ttl: Duration,
    abandon_after: Duration,
    led: HashMap<String, Led>,
    /// Closed drops whose line this node has freed (once per process: the
    /// catalog keeps a closed drop for a day).
    freed: HashSet<String>,
}

impl Pump {
    pub fn new(settings: PumpSettings) -> Self {
        Self {
            lines: settings.lines,
            catalog: settings.catalog,
            clock: settings.clock,
            node_id: settings.node_id,
            prefix: settings.prefix,
            lease_ttl: settings.lease_ttl,
            admission_ttl: settings.admission_ttl,
            abandon_after: settings.abandon_after,
            led: HashMap::new(),
            freed: HashSet::new(),
        }
    }

    /// The drops whose pump this node runs now.
    pub fn leading(&self) -> Vec<String> {
        let mut drops: Vec<String> = self
            .led
            .iter()
            .filter(|(_, led)| led.held)
            .map(|(drop, _)| drop.clone())
            .collect();
        drops.sort();
        drops
    }

    /// One round over every drop; returns what was admitted.
    pub async fn tick(&mut self) -> Vec<Admitted> {
        let now = self.clock.now();
        let now_ms = self.clock.now_ms();
        let mut all = Vec::new();
        for state in self.catalog.all() {
            let settings = &state.settings;
            if settings.state == OperatorState::Closed {
                self.free_line(&settings.id).await;
                continue;
            }
            if settings.state != OperatorState::Open || now < settings.opens_at {
                continue;
            }
            let drop_id = settings.id.clone();
            let led = self.led.entry(drop_id.clone()).or_insert_with(|| Led {
                lease: Lease::new(
                    self.lines.redis(),
                    self.lines.keys(&drop_id).lease(),
                    self.node_id.clone(),
                    self.lease_ttl,
                ),
                held: false,
                tried_at: None,
                empty_at_ms: None,
                governor: None,
            });
            // Held: renewed every third of the lease. Not held: tried as
            // often, so a dead holder is replaced within a lease time without
            // every node asking every tick.
            let every = self.lease_ttl / 3;
            if led.tried_at.is_none_or(|at| at.elapsed() >= every) {
                led.tried_at = Some(std::time::Instant::now());
                let held = led.lease.acquire().await;
                if held && !led.held {
                    tracing::info!(drop = drop_id, node = self.node_id, "pump lease taken");
                }
                if !held && led.held {
                    tracing::warn!(drop = drop_id, node = self.node_id, "pump lease lost");
                }
                led.held = held;
                if !held {
                    led.governor = None;
                }
            }
            if !led.held {
                continue;
            }
            let governor = led.governor.get_or_insert_with(|| {
                AdmissionGovernor::new(settings.admission_rate_per_sec, self.clock.pump_clock())
            });
            governor.set_rate(settings.admission_rate_per_sec);
            let recently_empty = led
                .empty_at_ms
                .is_some_and(|at| now_ms.saturating_sub(at) < EMPTY_RECHECK_MS);
            if recently_empty && !self.catalog.may_have_waiting(&drop_id) {
                continue;
            }
            let active_since = now_ms - self.admission_ttl.as_millis() as i64;
            let line = match self.lines.snapshot(&drop_id, active_since).await {
                Ok(line) => line,
                Err(error) => {
                    tracing::debug!(%error, drop = drop_id, "pump: Redis unavailable");
                    continue;
                }
            };
            if line.waiting == 0 {
                led.empty_at_ms = Some(now_ms);
                self.catalog.saw_empty(&drop_id);
                continue;
            }
            led.empty_at_ms = None;
            let units_left = line.units_left.unwrap_or(i64::MAX);
            let budget = governor.budget(
                line.active,
                u64::try_from(settings.max_active).unwrap_or(0),
                units_left,
            );
            if budget == 0 {
                continue;
            }
            let cutoff = now_ms - self.abandon_after.as_millis() as i64;
            match self.lines.admit(&drop_id, budget, now_ms, cutoff).await {
                Ok(users) if !users.is_empty() => {
                    metrics::counter!("queue_admitted_total").increment(users.len() as u64);
                    let admitted = Admitted {
                        drop: drop_id.clone(),
                        at_ms: now_ms,
                        users,
                    };
                    self.announce(&admitted).await;
                    all.push(admitted);
                }
                Ok(_) => {}
                Err(error) => tracing::warn!(%error, drop = drop_id, "pump: admit failed"),
            }
        }
        all
    }

    /// A closed drop's line is of no more use (nobody is admitted, every fan
    /// is told `closed`): its memory, which for a big drop is a gigabyte or
    /// more, is given back. Idempotent, so any node may do it.
    async fn free_line(&mut self, drop_id: &str) {
        if self.freed.contains(drop_id) {
            return;
        }
        match self.lines.remove_line(drop_id).await {
            Ok(()) => {
                tracing::info!(drop = drop_id, "closed drop: line freed");
                self.freed.insert(drop_id.to_string());
            }
            Err(error) => {
                tracing::warn!(%error, drop = drop_id, "closed drop: freeing the line failed")
            }
        }
    }

    async fn announce(&self, admitted: &Admitted) {
        let Ok(message) = serde_json::to_string(admitted) else {
            return;
        };
        let mut redis = self.lines.redis();
        let published: redis::RedisResult<i64> = runtime::redis::bounded(
            redis
                .publish_cmd(&channel(&self.prefix), &message)
                .query_async(&mut redis),
        )
        .await;
        if let Err(error) = published {
            // Fans learn it on their next exact refresh instead.
            tracing::debug!(%error, "pump: announcement lost");
        }
    }

    /// Gives up every lease (on shutdown), so successors need not wait.
    pub async fn release_all(&mut self) {
        for led in self.led.values_mut().filter(|led| led.held) {
            led.lease.release().await;
            led.held = false;
        }
    }
}

/// The background pump: ticks every `every` until `stop`, then gives up
/// its leases so another node takes over at once instead of waiting a lease
/// time out.
pub async fn run(mut pump: Pump, every: Duration, stop: CancellationToken) {
    tracing::info!(node = pump.node_id, ?every, "admission pump started");
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        pump.tick().await;
    }
    pump.release_all().await;
    tracing::info!(
        node = pump.node_id,
        "admission pump stopped; leases released"
    );
}
