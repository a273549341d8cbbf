//! `loadtest sockets`: holds N idle fans on a queue node's WebSocket and
//! measures what they cost and how fast the node serves them:
//! - joins per second (upgrade + join + first status) at up to 1,000 in flight;
//! - the node's RSS before and after, per connection (from /proc, so the
//!   node must run on this machine; pass its pid);
//! - how long an operator's change (a pause, sent to the sale service's
//!   `PATCH /api/drops/{id}`) takes to reach every connected fan.
//!
//! Connections come from several loopback source addresses (127.0.0.x), so
//! more than one address's worth of ephemeral ports can be open; raise
//! `ulimit -n` for both processes first.

use admission::identity::DevIssuer;
use anyhow::Context;
use futures::StreamExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

pub struct Options {
    pub queue: std::net::SocketAddr,
    pub drop: String,
    pub user_secret: String,
    pub connections: usize,
    pub queue_pid: u32,
    /// The sale service and its operator key: the pause is an operator's
    /// `PATCH`, as in production.
    pub sale: String,
    pub operator_key: String,
    pub source_addresses: u8,
}

fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

pub async fn run(options: Options) -> anyhow::Result<()> {
    let issuer = DevIssuer::new(&options.user_secret);
    let http = reqwest::Client::new();
    let set_state = |state: &'static str| {
        http.patch(format!("{}/api/drops/{}", options.sale, options.drop))
            .bearer_auth(&options.operator_key)
            .json(&serde_json::json!({ "state": state }))
            .send()
    };
    set_state("open").await?.error_for_status()?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rss_before = rss_kib(options.queue_pid)?;

    let gate = Arc::new(Semaphore::new(1000));
    let joined = Arc::new(AtomicUsize::new(0));
    let paused_at: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let failures = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut fans = Vec::with_capacity(options.connections);
    for n in 0..options.connections {
        let permit = gate.clone().acquire_owned().await?;
        let token = issuer.issue(&format!("fan-{n}"), false, 3600)?;
        let (joined, paused_at, failures) = (joined.clone(), paused_at.clone(), failures.clone());
        let source = loadtest::connect::source_address(n, options.source_addresses.max(1));
        let (queue, drop_id) = (options.queue, options.drop.clone());
        fans.push(tokio::spawn(async move {
            let connected = async {
                let url = format!("ws://{queue}/api/drops/{drop_id}/queue/ws");
                let mut ws = loadtest::connect::websocket(&url, source, Some(&token)).await?;
                // The first status completes the join.
                while let Some(message) = ws.next().await {
                    if let Message::Text(_) = message? {
                        break;
                    }
                }
                anyhow::Ok(ws)
            }
            .await;
            drop(permit);
            let mut ws = match connected {
                Ok(ws) => ws,
                Err(_) => {
                    failures.fetch_add(1, Ordering::Relaxed);
                    return;
                }
            };
            joined.fetch_add(1, Ordering::Relaxed);
            // Idle, answering pings, until told the drop is paused.
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    if text.contains("\"state\":\"paused\"") {
                        paused_at.lock().map(|mut v| v.push(Instant::now())).ok();
                    }
                }
            }
        }));
    }
    while joined.load(Ordering::Relaxed) + failures.load(Ordering::Relaxed) < options.connections {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let join_time = started.elapsed();
    let connected = joined.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss_kib(options.queue_pid)?;
    println!(
        "sockets: {connected} connected ({} failed) in {:.1} s = {:.0} joins/s",
        failures.load(Ordering::Relaxed),
        join_time.as_secs_f64(),
        connected as f64 / join_time.as_secs_f64()
    );
    println!(
        "queue RSS: {:.1} MiB before, {:.1} MiB with {connected} idle fans = {:.1} KiB per connection",
        rss_before as f64 / 1024.0,
        rss_after as f64 / 1024.0,
        (rss_after.saturating_sub(rss_before)) as f64 / connected.max(1) as f64
    );

    let paused = Instant::now();
    set_state("paused").await?.error_for_status()?;
    let deadline = paused + Duration::from_secs(30);
    while paused_at.lock().map(|v| v.len()).unwrap_or(0) < connected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let times = paused_at.lock().map(|v| v.clone()).unwrap_or_default();
    let mut delays: Vec<f64> = times
        .iter()
        .map(|t| t.duration_since(paused).as_secs_f64())
        .collect();
    delays.sort_by(f64::total_cmp);
    let pick = |q: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * q) as usize)
            .copied()
            .unwrap_or(f64::NAN)
    };
    println!(
        "pause reached {} of {connected} fans: p50 {:.2} s, p99 {:.2} s, last {:.2} s after the change",
        delays.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    set_state("open").await?.error_for_status()?;
    for fan in fans {
        fan.abort();
    }
    Ok(())
}
