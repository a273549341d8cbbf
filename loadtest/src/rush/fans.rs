//! The simulated fans of a rush. Each fan is a task: it arrives on the
//! curve's schedule, joins over a WebSocket or by HTTP polling, may abandon
//! right after joining, waits to be admitted, then buys 1 or 2 units and
//! pays with a good card, is declined, or lets the order expire. Which fan
//! does what is a deterministic spread over the shares in [`RushOptions`].

use super::options::RushOptions;
use super::shared::{error, Shared};
use crate::sale_api::error_code;
use crate::tally::Latencies;
use admission::identity::DevIssuer;
use futures::{SinkExt, StreamExt};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// What every fan of one run shares.
#[derive(Clone)]
pub(crate) struct Crowd {
    pub drop: String,
    pub options: RushOptions,
    pub clients: Vec<reqwest::Client>,
    pub shared: Arc<Mutex<Shared>>,
    pub latencies: Arc<Latencies>,
    /// Requests sent: WebSocket joins, HTTP joins and polls, orders, payments.
    pub requests: Arc<AtomicU64>,
}

impl Crowd {
    /// Runs every fan to the end (or `deadline`), each arriving at its
    /// offset on the curve after now.
    pub async fn run(&self, deadline: Instant) -> anyhow::Result<()> {
        let issuer = DevIssuer::new(&self.options.user_secret);
        let fans = self.options.fans;
        let mut tasks = Vec::with_capacity(fans);
        for n in 0..fans {
            let offset = self.options.curve.offset(n, fans, self.options.ramp_secs);
            let context = FanContext {
                n,
                token: issuer.issue(&format!("fan-{n}"), false, 24 * 3600)?,
                http: self.clients[n % self.clients.len()].clone(),
                crowd: self.clone(),
            };
            tasks.push(tokio::spawn(async move {
                tokio::time::sleep(Duration::from_secs_f64(offset)).await;
                let _ = tokio::time::timeout_at(deadline.into(), fan(context)).await;
            }));
        }
        for task in tasks {
            let _ = task.await;
        }
        Ok(())
    }

    /// How many fans wait on a WebSocket (the rest poll).
    pub fn websocket_fans(&self) -> usize {
        (0..self.options.fans)
            .filter(|n| share(*n, self.options.websocket_share))
            .count()
    }
}

/// Deterministic spread: fan `n` is in the share when its slot falls below it.
pub(crate) fn share(n: usize, fraction: f64) -> bool {
    ((n as f64 * 0.618_033_988_75) % 1.0) < fraction
}

/// An error in words for the report's error codes: its whole chain of
/// causes (reqwest's top line alone, "error sending request", hides why),
/// without the request's URL, so one failure of many fans counts as one code.
pub(crate) fn cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut words: Vec<String> = Vec::new();
    let mut next = Some(e);
    while let Some(e) = next {
        let mut text = e.to_string();
        if let Some(at) = text.find(" for url (") {
            let end = text[at..].find(')').map_or(text.len(), |i| at + i + 1);
            text.replace_range(at..end, "");
        }
        if !words.last().is_some_and(|last| last.contains(&text)) {
            words.push(text);
        }
        next = e.source();
    }
    words.join(": ")
}

struct FanContext {
    n: usize,
    /// The fan's user token.
    token: String,
    http: reqwest::Client,
    crowd: Crowd,
}

impl FanContext {
    /// Counts one request about to be sent.
    fn sending(&self) {
        self.crowd.requests.fetch_add(1, Ordering::Relaxed);
    }
}

enum Waited {
    Admitted(String),
    Over,
}

async fn fan(c: FanContext) {
    let options = &c.crowd.options;
    let websocket = share(c.n, options.websocket_share);
    let abandon = share(c.n.wrapping_mul(7).wrapping_add(3), options.abandon_share);
    let waited = if websocket {
        wait_on_socket(&c, abandon).await
    } else {
        wait_by_polling(&c, abandon).await
    };
    let Ok(Waited::Admitted(admission)) = waited else {
        if let Err(e) = waited {
            error(&c.crowd.shared, format!("wait: {}", cause(e.as_ref())));
        }
        return;
    };
    if let Ok(mut s) = c.crowd.shared.lock() {
        s.admitted += 1;
        if let Some(f) = s.fans.get_mut(c.n) {
            f.admitted = true;
        }
    }
    if let Some(order) = buy(&c, &admission).await {
        pay(&c, &order).await;
    }
}

fn joined(c: &FanContext, status: &serde_json::Value, abandon: bool, sent: Instant) {
    if let Ok(mut s) = c.crowd.shared.lock() {
        s.joined += 1;
        let now = Instant::now();
        s.first_join.get_or_insert(now);
        s.last_join = Some(now);
        if let Some(f) = s.fans.get_mut(c.n) {
            f.prequeue = status["state"] == "prequeue";
            f.join_window = Some((sent, now));
            f.abandoned = abandon;
        }
    }
}

/// Where a status leaves the fan: admitted (with the token), out of the
/// running (sold out, closed), or still waiting (`None`).
fn settled(status: &serde_json::Value) -> Option<Waited> {
    match status["state"].as_str() {
        Some("admitted") => Some(Waited::Admitted(
            status["admission_token"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        )),
        Some("sold_out" | "closed") => Some(Waited::Over),
        _ => None,
    }
}

async fn wait_on_socket(c: &FanContext, abandon: bool) -> anyhow::Result<Waited> {
    let options = &c.crowd.options;
    let url = format!(
        "{}/api/drops/{}/queue/ws",
        options.queue_url.replacen("http", "ws", 1),
        c.crowd.drop
    );
    c.sending();
    let sent = Instant::now();
    let source = crate::connect::source_address(c.n, options.source_addresses);
    let mut ws = crate::connect::websocket(&url, source, None).await?;
    ws.send(Message::Text(
        serde_json::json!({"token": c.token}).to_string().into(),
    ))
    .await?;
    let mut first = true;
    while let Some(message) = ws.next().await {
        let Message::Text(text) = message? else {
            continue;
        };
        let status: serde_json::Value = serde_json::from_str(&text)?;
        if first {
            first = false;
            c.crowd.latencies.record("ws join", sent.elapsed(), None);
            joined(c, &status, abandon, sent);
            if abandon {
                return Ok(Waited::Over);
            }
        }
        if let Some(waited) = settled(&status) {
            return Ok(waited);
        }
    }
    anyhow::bail!("socket closed")
}

async fn wait_by_polling(c: &FanContext, abandon: bool) -> anyhow::Result<Waited> {
    let (options, latencies) = (&c.crowd.options, &c.crowd.latencies);
    let url = format!("{}/api/drops/{}/queue", options.queue_url, c.crowd.drop);
    c.sending();
    let sent = Instant::now();
    let response = c.http.post(&url).bearer_auth(&c.token).send().await?;
    latencies.record("POST queue", sent.elapsed(), None);
    if !response.status().is_success() {
        anyhow::bail!("join {}", error_code(response).await);
    }
    let mut status: serde_json::Value = response.json().await?;
    joined(c, &status, abandon, sent);
    if abandon {
        return Ok(Waited::Over);
    }
    loop {
        if let Some(waited) = settled(&status) {
            return Ok(waited);
        }
        tokio::time::sleep(options.poll_every).await;
        c.sending();
        let sent = Instant::now();
        let response = c.http.get(&url).bearer_auth(&c.token).send().await?;
        latencies.record("GET queue", sent.elapsed(), Some(options.poll_every));
        if response.status().is_success() {
            status = response.json().await?;
        } else {
            error(
                &c.crowd.shared,
                format!("poll {}", error_code(response).await),
            );
        }
    }
}

/// Orders 1 or 2 units with the admission token; the order's id once
/// acknowledged (201).
async fn buy(c: &FanContext, admission: &str) -> Option<String> {
    let quantity = 1 + (c.n % 2);
    c.sending();
    let sent = Instant::now();
    let response = c
        .http
        .post(format!(
            "{}/api/drops/{}/orders",
            c.crowd.options.sale_url, c.crowd.drop
        ))
        .bearer_auth(admission)
        .header("idempotency-key", format!("rush-{}", c.n))
        .json(&serde_json::json!({ "quantity": quantity }))
        .send()
        .await;
    c.crowd
        .latencies
        .record("POST orders", sent.elapsed(), None);
    let shared = &c.crowd.shared;
    if let Ok(mut s) = shared.lock() {
        s.order_ms.0 += sent.elapsed().as_secs_f64() * 1000.0;
        s.order_ms.1 += 1;
    }
    let response = match response {
        Ok(r) => r,
        Err(e) => {
            error(shared, format!("order: {}", cause(&e)));
            return None;
        }
    };
    if response.status().as_u16() != 201 {
        error(shared, format!("order {}", error_code(response).await));
        return None;
    }
    let order: serde_json::Value = response.json().await.unwrap_or_default();
    let id = order["id"].as_str().unwrap_or_default().to_string();
    if let Ok(mut s) = shared.lock() {
        s.orders += 1;
        s.acknowledged.insert(id.clone());
    }
    Some(id)
}

/// Pays `order` with a good card or a declined one, or does nothing (the
/// order expires), by the fan's place in the shares.
async fn pay(c: &FanContext, order: &str) {
    let options = &c.crowd.options;
    let method = if share(c.n.wrapping_mul(13).wrapping_add(5), options.pay_share) {
        "card_ok"
    } else if share(
        c.n.wrapping_mul(17).wrapping_add(11),
        options.decline_share / (1.0 - options.pay_share).max(0.001),
    ) {
        "card_declined"
    } else {
        return; // lets the order expire
    };
    let token = DevIssuer::new(&options.user_secret).issue(&format!("fan-{}", c.n), false, 3600);
    let Ok(token) = token else { return };
    c.sending();
    let sent = Instant::now();
    let paid = c
        .http
        .post(format!("{}/api/orders/{order}/pay", options.sale_url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "method": method }))
        .send()
        .await;
    c.crowd.latencies.record("POST pay", sent.elapsed(), None);
    let shared = &c.crowd.shared;
    match paid {
        Ok(r) if r.status().as_u16() == 202 => {
            if let Ok(mut s) = shared.lock() {
                if method == "card_ok" {
                    s.paid += 1
                } else {
                    s.declined += 1
                }
            }
        }
        Ok(r) => error(shared, format!("pay {}", error_code(r).await)),
        Err(e) => error(shared, format!("pay: {}", cause(&e))),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn an_error_is_named_by_its_causes_without_the_url() {
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let e = anyhow::Error::new(refused)
            .context("tcp connect error")
            .context("error sending request for url (http://127.0.0.1:1/api/drops/d/queue)");
        assert_eq!(
            super::cause(e.as_ref()),
            "error sending request: tcp connect error: refused"
        );
    }
}
