//! Hold decisions at a chosen rate (open loop) or as fast as answered
//! (closed loop), straight at the sale with minted admission tokens (no
//! waiting room): every buyer a distinct user holding once, half asking for
//! two chosen seats (a random pair next to each other), half for the best
//! two of a category. A decision is an answer: held (201) or refused
//! because the seats went (409). Latency counts from the scheduled send
//! time in the open loop, so queueing shows.

use super::setup::SeatedSale;
use crate::tally::Latencies;
use crate::tokens::Buyer;
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How the bench runs.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Offered holds per second; `None`: closed loop with `concurrency`.
    pub rate: Option<u32>,
    pub concurrency: usize,
    pub seconds: u64,
}

/// What the bench measured.
#[derive(Debug, Default, Serialize)]
pub struct Decisions {
    pub held: u64,
    pub taken: u64,
    pub no_adjacent: u64,
    pub failed: u64,
    pub seconds: f64,
    /// Decisions (held or refused for taken seats) per second.
    pub per_sec: f64,
}

#[derive(Default)]
struct Counters {
    held: AtomicU64,
    taken: AtomicU64,
    no_adjacent: AtomicU64,
    failed: AtomicU64,
}

/// Adjacent pairs anywhere in the venue (chosen-seat requests).
fn pairs(sale: &SeatedSale) -> Vec<[String; 2]> {
    let map = &sale.map;
    (0..map.seat_count().saturating_sub(1) as u32)
        .filter(
            |i| matches!((map.seat(*i), map.seat(i + 1)), (Some(a), Some(b)) if a.block == b.block),
        )
        .filter_map(|i| Some([map.seat_id(i)?.to_string(), map.seat_id(i + 1)?.to_string()]))
        .collect()
}

/// Where the holds go and where their outcomes are counted.
struct Target {
    http: reqwest::Client,
    url: String,
    counters: Counters,
    latencies: Arc<Latencies>,
}

impl Target {
    /// One hold of `buyer`; latency from `since` (the scheduled time).
    async fn hold(
        &self,
        buyer: &Buyer,
        request: (&'static str, serde_json::Value),
        since: Instant,
    ) {
        let (kind, body) = request;
        let (counters, latencies) = (&self.counters, &self.latencies);
        let answer = self
            .http
            .post(&self.url)
            .bearer_auth(&buyer.token)
            .header("idempotency-key", buyer.order_key(0))
            .json(&body)
            .send()
            .await;
        let (status, error) = match answer {
            Ok(response) => {
                let status = response.status().as_u16();
                let body: serde_json::Value = response.json().await.unwrap_or_default();
                (
                    status,
                    body["error"].as_str().unwrap_or_default().to_string(),
                )
            }
            Err(_) => (0, String::new()),
        };
        let counter = match (status, error.as_str()) {
            (201, _) => &counters.held,
            (409, "seats_taken") => &counters.taken,
            (409, "no_adjacent_seats") => &counters.no_adjacent,
            _ => &counters.failed,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        if status == 201 || status == 409 {
            latencies.record(kind, since.elapsed(), None);
        }
    }
}

/// Runs the bench against `sale`, with `buyers` (one hold each).
pub async fn run(
    http: &reqwest::Client,
    sale_url: &str,
    sale: &SeatedSale,
    buyers: Vec<Buyer>,
    load: Load,
    latencies: Arc<Latencies>,
) -> Decisions {
    let target = Arc::new(Target {
        http: http.clone(),
        url: format!("{sale_url}/api/drops/{}/holds", sale.drop),
        counters: Counters::default(),
        latencies,
    });
    let pairs = Arc::new(pairs(sale));
    let categories = Arc::new(sale.categories.clone());
    let buyers = Arc::new(buyers);
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let deadline = started + Duration::from_secs(load.seconds);
    let request = move |n: usize| {
        if n.is_multiple_of(2) && !pairs.is_empty() {
            let pair = &pairs[rand::thread_rng().gen_range(0..pairs.len())];
            ("hold chosen", json!({"seats": pair}))
        } else {
            let category = &categories[n % categories.len()];
            (
                "hold best",
                json!({"best_available": {"quantity": 2, "category": category}}),
            )
        }
    };
    let request = Arc::new(request);
    let mut tasks = Vec::new();
    match load.rate {
        Some(rate) => {
            let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
            let mut due = started;
            while due < deadline {
                let n = next.fetch_add(1, Ordering::Relaxed);
                let Some(buyer) = buyers.get(n).cloned() else {
                    break;
                };
                tokio::time::sleep_until(due.into()).await;
                let (target, request) = (target.clone(), request.clone());
                let scheduled = due;
                tasks.push(tokio::spawn(async move {
                    target.hold(&buyer, request(n), scheduled).await;
                }));
                due += gap;
            }
        }
        None => {
            for _ in 0..load.concurrency {
                let (target, request, buyers, next) = (
                    target.clone(),
                    request.clone(),
                    buyers.clone(),
                    next.clone(),
                );
                tasks.push(tokio::spawn(async move {
                    while Instant::now() < deadline {
                        let n = next.fetch_add(1, Ordering::Relaxed);
                        let Some(buyer) = buyers.get(n) else { break };
                        target.hold(buyer, request(n), Instant::now()).await;
                    }
                }));
            }
        }
    }
    for task in tasks {
        let _ = task.await;
    }
    let seconds = started
        .elapsed()
        .as_secs_f64()
        .min(load.seconds as f64)
        .max(0.001);
    let counters = &target.counters;
    let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
    let (held, taken) = (get(&counters.held), get(&counters.taken));
    Decisions {
        held,
        taken,
        no_adjacent: get(&counters.no_adjacent),
        failed: get(&counters.failed),
        seconds,
        per_sec: (held + taken) as f64 / seconds,
    }
}
