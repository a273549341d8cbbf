//! Fans of a seated sale: each arrives on a ramp, waits in the line over a
//! WebSocket until admitted, then shops with the admission token: "hot
//! seat" fans ask for two seats next to each other near the stage (and try
//! other pairs, then best available, when someone was faster), the others
//! ask for the best available seats of a category; then most order the
//! hold, some pay, some walk away and let it lapse.

use super::setup::SeatedSale;
use crate::tally::Latencies;
use futures::{SinkExt, StreamExt};
use rand::Rng;
use serde::Serialize;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// How the crowd behaves.
#[derive(Debug, Clone)]
pub struct Behaviour {
    pub fans: usize,
    pub arrival: Duration,
    pub hot_share: f64,
    pub abandon_share: f64,
    pub pay_share: f64,
    pub cap: u32,
    pub source_addresses: u8,
}

/// What the crowd did.
#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub joined: u64,
    pub admitted: u64,
    pub holds: u64,
    pub seats_held: u64,
    pub seats_taken: u64,
    pub no_adjacent: u64,
    pub cap_exceeded: u64,
    pub hold_errors: u64,
    pub orders: u64,
    pub paid: u64,
    pub abandoned: u64,
    pub errors: u64,
    /// Failed requests by what and why (`"<request> <status> <code>"`).
    pub failures: std::collections::BTreeMap<String, u64>,
}

#[derive(Default)]
struct Counters {
    joined: AtomicU64,
    admitted: AtomicU64,
    holds: AtomicU64,
    seats_held: AtomicU64,
    seats_taken: AtomicU64,
    no_adjacent: AtomicU64,
    cap_exceeded: AtomicU64,
    hold_errors: AtomicU64,
    orders: AtomicU64,
    paid: AtomicU64,
    abandoned: AtomicU64,
    errors: AtomicU64,
    failures: std::sync::Mutex<std::collections::BTreeMap<String, u64>>,
}

impl Counters {
    fn failed(&self, what: &str, status: u16, body: &Value) {
        let code = body["error"].as_str().unwrap_or("-");
        if let Ok(mut failures) = self.failures.lock() {
            *failures
                .entry(format!("{what} {status} {code}"))
                .or_default() += 1;
        }
    }

    fn counts(&self) -> Counts {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counts {
            joined: get(&self.joined),
            admitted: get(&self.admitted),
            holds: get(&self.holds),
            seats_held: get(&self.seats_held),
            seats_taken: get(&self.seats_taken),
            no_adjacent: get(&self.no_adjacent),
            cap_exceeded: get(&self.cap_exceeded),
            hold_errors: get(&self.hold_errors),
            orders: get(&self.orders),
            paid: get(&self.paid),
            abandoned: get(&self.abandoned),
            errors: get(&self.errors),
            failures: self.failures.lock().map(|f| f.clone()).unwrap_or_default(),
        }
    }
}

/// Everything a fan needs.
pub struct Crowd {
    pub sale_url: String,
    pub queue_url: String,
    pub user_issuer: admission::identity::DevIssuer,
    pub sale: Arc<SeatedSale>,
    pub behaviour: Behaviour,
    pub latencies: Arc<Latencies>,
    pub http: Vec<reqwest::Client>,
    counters: Counters,
}

impl Crowd {
    pub fn new(
        sale_url: &str,
        queue_url: &str,
        user_secret: &str,
        sale: Arc<SeatedSale>,
        behaviour: Behaviour,
        latencies: Arc<Latencies>,
    ) -> anyhow::Result<Arc<Self>> {
        let http = crate::connect::http_clients(behaviour.source_addresses)?;
        Ok(Arc::new(Self {
            sale_url: sale_url.trim_end_matches('/').into(),
            queue_url: queue_url.trim_end_matches('/').into(),
            user_issuer: admission::identity::DevIssuer::new(user_secret),
            sale,
            behaviour,
            latencies,
            http,
            counters: Counters::default(),
        }))
    }

    pub fn counts(&self) -> Counts {
        self.counters.counts()
    }

    /// Every fan, arriving evenly over the ramp; returns when all are done
    /// or `deadline` passes.
    pub async fn run(self: &Arc<Self>, deadline: Instant) {
        let fans = self.behaviour.fans;
        let gap = self.behaviour.arrival.as_secs_f64() / fans.max(1) as f64;
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(fans);
        for n in 0..fans {
            let due = started + Duration::from_secs_f64(gap * n as f64);
            tokio::time::sleep_until(due.into()).await;
            if Instant::now() >= deadline {
                break;
            }
            let crowd = self.clone();
            tasks.push(tokio::spawn(async move {
                let until = tokio::time::Instant::from_std(deadline);
                let _ = tokio::time::timeout_at(until, crowd.fan(n)).await;
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
    }

    fn client(&self, n: usize) -> &reqwest::Client {
        &self.http[n % self.http.len()]
    }

    async fn fan(&self, n: usize) {
        let user = format!("fan-{n}");
        let Ok(user_token) = self.user_issuer.issue(&user, false, 3600) else {
            return;
        };
        match self.wait_in_line(n, &user_token).await {
            Ok(Some(admission)) => {
                self.counters.admitted.fetch_add(1, Ordering::Relaxed);
                self.shop(n, &user_token, &admission).await;
            }
            Ok(None) => {}
            Err(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Joins over a WebSocket and waits; the admission token, or `None`
    /// when the sale ended first.
    async fn wait_in_line(&self, n: usize, user_token: &str) -> anyhow::Result<Option<String>> {
        let url = format!(
            "{}/api/drops/{}/queue/ws",
            self.queue_url.replacen("http", "ws", 1),
            self.sale.drop
        );
        let source = crate::connect::source_address(n, self.behaviour.source_addresses);
        let sent = Instant::now();
        let mut ws = crate::connect::websocket(&url, source, None).await?;
        ws.send(Message::Text(
            json!({"token": user_token}).to_string().into(),
        ))
        .await?;
        let mut first = true;
        while let Some(message) = ws.next().await {
            let Message::Text(text) = message? else {
                continue;
            };
            let status: Value = serde_json::from_str(&text)?;
            if first {
                first = false;
                self.latencies.record("ws join", sent.elapsed(), None);
                self.counters.joined.fetch_add(1, Ordering::Relaxed);
            }
            match status["state"].as_str() {
                Some("admitted") => {
                    let token = status["admission_token"].as_str().unwrap_or_default();
                    let _ = ws.close(None).await;
                    return Ok(Some(token.to_string()));
                }
                Some("sold_out" | "closed") => return Ok(None),
                _ => {}
            }
        }
        anyhow::bail!("the socket closed")
    }

    /// Holds, then orders, pays or walks away.
    async fn shop(&self, n: usize, user_token: &str, admission: &str) {
        let hot = crate::rush::fans::share(n, self.behaviour.hot_share);
        let Some(hold) = self.hold(n, admission, hot).await else {
            return;
        };
        if crate::rush::fans::share(
            n.wrapping_mul(7).wrapping_add(3),
            self.behaviour.abandon_share,
        ) {
            self.counters.abandoned.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(order) = self.order(n, admission, &hold).await else {
            return;
        };
        if crate::rush::fans::share(n.wrapping_mul(13).wrapping_add(5), self.behaviour.pay_share) {
            self.pay(n, user_token, &order).await;
        }
    }

    /// One hold request; the answer's status and body.
    async fn ask(
        &self,
        n: usize,
        admission: &str,
        key: &str,
        body: Value,
        kind: &'static str,
    ) -> Option<(u16, Value)> {
        let sent = Instant::now();
        let response = self
            .client(n)
            .post(format!(
                "{}/api/drops/{}/holds",
                self.sale_url, self.sale.drop
            ))
            .bearer_auth(admission)
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .ok()?;
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        self.latencies.record(kind, sent.elapsed(), None);
        Some((status, body))
    }

    /// Tries to hold seats; the hold's id.
    async fn hold(&self, n: usize, admission: &str, hot: bool) -> Option<String> {
        let pairs = &self.sale.hot_pairs;
        let mut tries = 0;
        loop {
            tries += 1;
            let key = format!("h{n}-{tries}");
            let (kind, body) = if hot && tries <= 3 && !pairs.is_empty() {
                let pair = &pairs[rand::thread_rng().gen_range(0..pairs.len())];
                ("hold chosen", json!({"seats": pair}))
            } else {
                let categories = &self.sale.categories;
                let category = &categories[rand::thread_rng().gen_range(0..categories.len())];
                let quantity = 1 + n % self.behaviour.cap.max(1) as usize;
                let quantity = if tries > 4 { 1 } else { quantity };
                (
                    "hold best",
                    json!({"best_available": {"quantity": quantity, "category": category}}),
                )
            };
            let Some((status, body)) = self.ask(n, admission, &key, body, kind).await else {
                self.counters.hold_errors.fetch_add(1, Ordering::Relaxed);
                self.counters.failed("hold", 0, &Value::Null);
                return None;
            };
            match (status, body["error"].as_str()) {
                (201, _) => {
                    self.counters.holds.fetch_add(1, Ordering::Relaxed);
                    let seats = body["seats"].as_array().map_or(0, |s| s.len());
                    self.counters
                        .seats_held
                        .fetch_add(seats as u64, Ordering::Relaxed);
                    return body["id"].as_str().map(str::to_string);
                }
                (409, Some("seats_taken")) => {
                    self.counters.seats_taken.fetch_add(1, Ordering::Relaxed);
                }
                (409, Some("no_adjacent_seats")) => {
                    self.counters.no_adjacent.fetch_add(1, Ordering::Relaxed);
                }
                (409, Some("cap_exceeded")) => {
                    self.counters.cap_exceeded.fetch_add(1, Ordering::Relaxed);
                    return None;
                }
                _ => {
                    self.counters.hold_errors.fetch_add(1, Ordering::Relaxed);
                    self.counters.failed("hold", status, &body);
                    return None;
                }
            }
            if tries >= 8 {
                return None;
            }
        }
    }

    async fn order(&self, n: usize, admission: &str, hold: &str) -> Option<String> {
        let sent = Instant::now();
        let response = self
            .client(n)
            .post(format!(
                "{}/api/drops/{}/orders",
                self.sale_url, self.sale.drop
            ))
            .bearer_auth(admission)
            .header("idempotency-key", format!("o{n}"))
            .json(&json!({"hold_id": hold}))
            .send()
            .await
            .ok()?;
        self.latencies.record("order hold", sent.elapsed(), None);
        if response.status() != 201 {
            self.counters.errors.fetch_add(1, Ordering::Relaxed);
            let status = response.status().as_u16();
            let body = response.json().await.unwrap_or(Value::Null);
            self.counters.failed("order", status, &body);
            return None;
        }
        self.counters.orders.fetch_add(1, Ordering::Relaxed);
        let body: Value = response.json().await.ok()?;
        body["id"].as_str().map(str::to_string)
    }

    async fn pay(&self, n: usize, user_token: &str, order: &str) {
        let sent = Instant::now();
        let response = self
            .client(n)
            .post(format!("{}/api/orders/{order}/pay", self.sale_url))
            .bearer_auth(user_token)
            .json(&json!({"method": "card_ok"}))
            .send()
            .await;
        self.latencies.record("pay", sent.elapsed(), None);
        match response {
            Ok(r) if r.status() == 202 => {
                self.counters.paid.fetch_add(1, Ordering::Relaxed);
            }
            Ok(r) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                let status = r.status().as_u16();
                let body = r.json().await.unwrap_or(Value::Null);
                self.counters.failed("pay", status, &body);
            }
            Err(_) => {
                self.counters.errors.fetch_add(1, Ordering::Relaxed);
                self.counters.failed("pay", 0, &Value::Null);
            }
        }
    }
}
