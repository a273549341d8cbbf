//! Open seat maps: `--viewers` clients each following the sale's seat
//! stream (Server-Sent Events), and a probe that holds one free seat every
//! second and measures how long each viewer takes to see it: from the hold
//! request's send to the change arriving on every open map.

use super::setup::SeatedSale;
use crate::tally::Latencies;
use rand::Rng;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The seat the probe holds now, and when it asked (ms since the run's start).
#[derive(Default)]
pub struct Probe {
    seat: AtomicI64,
    sent_ms: AtomicI64,
    /// Viewers that saw the current probe seat.
    seen: AtomicU64,
    pub probes: AtomicU64,
}

/// Viewers and the probe of one run.
pub struct Watch {
    pub latencies: Arc<Latencies>,
    pub probe: Arc<Probe>,
    pub open: Arc<AtomicU64>,
    started: Instant,
}

impl Watch {
    pub fn new(latencies: Arc<Latencies>) -> Arc<Self> {
        Arc::new(Self {
            latencies,
            probe: Arc::new(Probe {
                seat: AtomicI64::new(-1),
                ..Probe::default()
            }),
            open: Arc::default(),
            started: Instant::now(),
        })
    }

    fn now_ms(&self) -> i64 {
        self.started.elapsed().as_millis() as i64
    }

    /// Opens `count` streams (spread over the loopback source addresses).
    pub async fn open_viewers(
        self: &Arc<Self>,
        sale_url: &str,
        drop: &str,
        count: usize,
        clients: &[reqwest::Client],
    ) -> Vec<tokio::task::JoinHandle<()>> {
        let url = format!("{sale_url}/api/drops/{drop}/seats/stream");
        let mut viewers = Vec::with_capacity(count);
        for n in 0..count {
            let (watch, url) = (self.clone(), url.clone());
            let client = clients[n % clients.len()].clone();
            viewers.push(tokio::spawn(async move { watch.view(client, url).await }));
            if n % 500 == 499 {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        viewers
    }

    async fn view(&self, client: reqwest::Client, url: String) {
        let Ok(mut response) = client
            .get(&url)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
        else {
            return;
        };
        self.open.fetch_add(1, Ordering::Relaxed);
        let mut buffer = String::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            buffer.push_str(&String::from_utf8_lossy(&chunk));
            while let Some(end) = buffer.find("\n\n") {
                let event: String = buffer.drain(..end + 2).collect();
                self.on_event(&event);
            }
        }
        self.open.fetch_sub(1, Ordering::Relaxed);
    }

    /// A `seats` event that includes the probe's seat counts, once a viewer.
    fn on_event(&self, event: &str) {
        let probe = self.probe.seat.load(Ordering::Acquire);
        if probe < 0 || !event.starts_with("event: seats") {
            return;
        }
        let Some(data) = event.lines().find_map(|l| l.strip_prefix("data: ")) else {
            return;
        };
        let Ok(value) = serde_json::from_str::<Value>(data) else {
            return;
        };
        let hit = value["changes"].as_array().is_some_and(|changes| {
            changes
                .iter()
                .any(|c| c[0].as_i64() == Some(probe) && c[1].as_str() == Some("h"))
        });
        if hit {
            let took = self.now_ms() - self.probe.sent_ms.load(Ordering::Acquire);
            self.probe.seen.fetch_add(1, Ordering::Relaxed);
            self.latencies.record(
                "seat change to every map",
                Duration::from_millis(took.max(0) as u64),
                None,
            );
        }
    }

    /// Holds one free seat a second until `deadline`, as a probe user with
    /// its own admission tokens.
    pub async fn probe(
        self: Arc<Self>,
        sale_url: String,
        sale: Arc<SeatedSale>,
        minter: Arc<crate::tokens::Minter>,
        deadline: Instant,
    ) {
        let client = reqwest::Client::new();
        let tried = Mutex::new(std::collections::HashSet::new());
        let mut n = 0;
        while Instant::now() < deadline {
            tokio::time::sleep(Duration::from_secs(1)).await;
            n += 1;
            let seat = rand::thread_rng().gen_range(0..sale.map.seat_count() as u32);
            if !tried.lock().map(|mut t| t.insert(seat)).unwrap_or(false) {
                continue;
            }
            let Some(id) = sale.map.seat_id(seat) else {
                continue;
            };
            let Ok(token) = minter.mint(&format!("probe-{n}"), &sale.drop) else {
                continue;
            };
            self.probe.seen.store(0, Ordering::Relaxed);
            self.probe.sent_ms.store(self.now_ms(), Ordering::Release);
            self.probe.seat.store(i64::from(seat), Ordering::Release);
            let held = client
                .post(format!("{sale_url}/api/drops/{}/holds", sale.drop))
                .bearer_auth(token)
                .header("idempotency-key", format!("probe-{n}"))
                .json(&json!({"seats": [id]}))
                .send()
                .await;
            if held.is_ok_and(|r| r.status() == 201) {
                self.probe.probes.fetch_add(1, Ordering::Relaxed);
            } else {
                self.probe.seat.store(-1, Ordering::Release);
            }
        }
        self.probe.seat.store(-1, Ordering::Release);
    }
}
