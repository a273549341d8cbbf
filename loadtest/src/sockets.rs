//! `loadtest sockets`: holds N idle fans on a queue node's WebSocket and
//! measures what they cost and how fast the node serves them:
//! - joins per second (upgrade + join + first status) at up to 1,000 in flight,
//!   with the node's CPU per join and this generator's own (the fans' user
//!   tokens are minted before, as an identity provider would have: a
//!   join's CPU is the connection's, not the token's);
//! - the node's RSS before and after, per connection, and its CPU time
//!   per join while the fans joined (from /proc, so the node must run on
//!   this machine; pass its pid);
//! - what holding them costs: the node's CPU over `--hold-secs` with every
//!   fan connected and idle (the drop's own admission rate, if any, admits
//!   some of them meanwhile), per fan and second, and the status messages
//!   pushed;
//! - how long an operator's change (a pause, sent to the sale service's
//!   `PATCH /api/drops/{id}`) takes to reach every connected fan.
//!
//! With `--solve-pow` each fan first asks for a proof-of-work challenge
//! (`GET .../queue/challenge`), solves it natively and joins with it in
//! `X-Pow`, as a queue with proof of work on requires (the join then costs
//! the node a challenge, a verification and a replay mark).
//!
//! Prints the figures and writes them to `<out>/sockets.json`.
//!
//! Connections come from several loopback source addresses (127.0.0.x), so
//! more than one address's worth of ephemeral ports can be open; raise
//! `ulimit -n` for both processes first.

use crate::procfs::{rss_kib, CpuMeter, CpuUse};
use crate::sale_api;
use admission::identity::DevIssuer;
use futures::StreamExt;
use serde::Serialize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio_tungstenite::tungstenite::Message;

/// `loadtest sockets` flags.
#[derive(clap::Args)]
pub struct Args {
    /// The queue node's address.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub queue: std::net::SocketAddr,
    /// The queue node's process id (its RSS and CPU time are read from /proc).
    #[arg(long)]
    pub queue_pid: u32,
    /// An open drop to wait in (its admission rate should be tiny).
    #[arg(long)]
    pub drop: String,
    /// The user-token secret the queue trusts (USER_JWT_SECRET).
    #[arg(long, env = "USER_JWT_SECRET")]
    pub user_secret: String,
    /// The sale service (the pause is sent there).
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    /// Operator API key.
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: String,
    /// How many idle WebSocket fans to hold.
    #[arg(long, default_value_t = 10_000)]
    pub connections: usize,
    /// How long to hold them all, measuring the node's CPU meanwhile.
    #[arg(long, default_value_t = 10)]
    pub hold_secs: u64,
    /// Loopback source addresses to spread connections over (127.0.0.1..).
    #[arg(long, default_value_t = 4)]
    pub source_addresses: u8,
    /// Ask for, solve and send a proof of work with each join.
    #[arg(long)]
    pub solve_pow: bool,
    /// Where sockets.json goes.
    #[arg(long, default_value = "loadtest/out")]
    pub out: std::path::PathBuf,
}

/// What the fans saw: how many joined or failed, and when each heard of
/// the pause.
#[derive(Default)]
struct Seen {
    joined: AtomicUsize,
    failures: AtomicUsize,
    /// Text messages the fans received after their first status.
    messages: AtomicUsize,
    paused_at: Mutex<Vec<Instant>>,
}

/// What `loadtest sockets` measured.
#[derive(Debug, Clone, Serialize)]
pub struct SocketsResult {
    pub connections: usize,
    pub connected: usize,
    pub failed: usize,
    pub join_secs: f64,
    pub joins_per_sec: f64,
    pub queue_rss_before_kib: u64,
    pub queue_rss_after_kib: u64,
    pub kib_per_connection: f64,
    /// The queue process's CPU while the fans joined, and per join.
    pub queue_cpu: CpuUse,
    pub queue_cpu_per_join_us: Option<f64>,
    /// This generator's own CPU over the same window, and per join (its
    /// side of each join: the token, the handshake, the first status), so
    /// the joins/s a shared box allows can be read from both sides.
    pub generator_cpu: CpuUse,
    pub generator_cpu_per_join_us: Option<f64>,
    /// The queue process's CPU while holding every fan for `--hold-secs`,
    /// per fan and second, and the messages pushed to them per second.
    pub hold_cpu: CpuUse,
    pub hold_us_per_fan_second: Option<f64>,
    pub hold_messages_per_sec: f64,
    /// Fans who heard of the pause, and when (seconds after the change).
    pub pause_reached: usize,
    pub pause_p50_secs: Option<f64>,
    pub pause_p99_secs: Option<f64>,
    pub pause_last_secs: Option<f64>,
}

/// Runs `loadtest sockets`.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let http = reqwest::Client::new();
    let set_state =
        |state| sale_api::set_drop_state(&http, &args.sale, &args.operator_key, &args.drop, state);
    set_state("open").await?;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let rss_before = rss_kib(args.queue_pid)?;
    let issuer = DevIssuer::new(&args.user_secret);
    let tokens = (0..args.connections)
        .map(|n| issuer.issue(&format!("fan-{n}"), false, 3600))
        .collect::<Result<Vec<_>, _>>()?;

    let seen = Arc::new(Seen::default());
    let meter = CpuMeter::start(args.queue_pid)?;
    let own_meter = CpuMeter::start(std::process::id())?;
    let started = Instant::now();
    let fans = connect_fans(&args, tokens, &seen).await?;
    let join_time = started.elapsed();
    let queue_cpu = meter.stop()?;
    let generator_cpu = own_meter.stop()?;
    let connected = seen.joined.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let rss_after = rss_kib(args.queue_pid)?;

    let hold = Duration::from_secs(args.hold_secs.max(1));
    let messages_before = seen.messages.load(Ordering::Relaxed);
    let meter = CpuMeter::start(args.queue_pid)?;
    tokio::time::sleep(hold).await;
    let hold_cpu = meter.stop()?;
    let hold_messages = seen.messages.load(Ordering::Relaxed) - messages_before;

    let paused = Instant::now();
    set_state("paused").await?;
    let delays = pause_delays(&seen, paused, connected).await;
    let pick = |q: f64| {
        delays
            .get(((delays.len() as f64 - 1.0) * q) as usize)
            .copied()
    };
    let result = SocketsResult {
        connections: args.connections,
        connected,
        failed: seen.failures.load(Ordering::Relaxed),
        join_secs: join_time.as_secs_f64(),
        joins_per_sec: connected as f64 / join_time.as_secs_f64(),
        queue_rss_before_kib: rss_before,
        queue_rss_after_kib: rss_after,
        kib_per_connection: rss_after.saturating_sub(rss_before) as f64 / connected.max(1) as f64,
        queue_cpu_per_join_us: queue_cpu.per_unit_us(connected as u64),
        queue_cpu,
        generator_cpu_per_join_us: generator_cpu.per_unit_us(connected as u64),
        generator_cpu,
        hold_us_per_fan_second: hold_cpu
            .per_unit_us(connected as u64)
            .map(|us| us / hold.as_secs_f64()),
        hold_cpu,
        hold_messages_per_sec: hold_messages as f64 / hold.as_secs_f64(),
        pause_reached: delays.len(),
        pause_p50_secs: pick(0.5),
        pause_p99_secs: pick(0.99),
        pause_last_secs: pick(1.0),
    };
    result.print();
    set_state("open").await?;
    for fan in fans {
        fan.abort();
    }
    crate::output::write_json(&args.out, "sockets.json", &result)
}

impl SocketsResult {
    fn print(&self) {
        let connected = self.connected;
        println!(
            "sockets: {connected} connected ({} failed) in {:.1} s = {:.0} joins/s",
            self.failed, self.join_secs, self.joins_per_sec
        );
        println!(
            "{}",
            CpuUse::describe(
                Some(&self.queue_cpu),
                "queue",
                "join",
                connected as u64,
                "--queue-pid"
            )
        );
        println!(
            "{}",
            CpuUse::describe(
                Some(&self.generator_cpu),
                "generator",
                "join",
                connected as u64,
                ""
            )
        );
        println!(
            "queue RSS: {:.1} MiB before, {:.1} MiB with {connected} idle fans = {:.1} KiB per connection",
            self.queue_rss_before_kib as f64 / 1024.0,
            self.queue_rss_after_kib as f64 / 1024.0,
            self.kib_per_connection
        );
        println!(
            "holding {connected} idle fans for {:.0} s: queue {:.2} cores = {:.2} µs per fan per second; {:.0} status messages pushed per second",
            self.hold_cpu.wall_secs,
            self.hold_cpu.cores(),
            self.hold_us_per_fan_second.unwrap_or(f64::NAN),
            self.hold_messages_per_sec
        );
        let secs = |s: Option<f64>| s.unwrap_or(f64::NAN);
        println!(
            "pause reached {} of {connected} fans: p50 {:.2} s, p99 {:.2} s, last {:.2} s after the change",
            self.pause_reached,
            secs(self.pause_p50_secs),
            secs(self.pause_p99_secs),
            secs(self.pause_last_secs)
        );
    }
}

/// A solved proof of work for the fan with `token` (`X-Pow`'s value).
async fn proof_of_work(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<String> {
    let body: serde_json::Value = client
        .get(url)
        .bearer_auth(token)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let challenge: queue::pow::Challenge = serde_json::from_value(body)?;
    let solution = tokio::task::spawn_blocking(move || queue::pow::solve(&challenge))
        .await?
        .ok_or_else(|| anyhow::anyhow!("challenge without a solution"))?;
    Ok(queue::pow::encode(&solution))
}

/// Opens every fan's socket (1,000 joins in flight at most), fan `n` with
/// `tokens[n]`, and returns once each has joined or failed; the fans stay
/// connected, idle.
async fn connect_fans(
    args: &Args,
    tokens: Vec<String>,
    seen: &Arc<Seen>,
) -> anyhow::Result<Vec<tokio::task::JoinHandle<()>>> {
    let gate = Arc::new(Semaphore::new(1000));
    let clients = crate::connect::http_clients(args.source_addresses.max(1))?;
    let solve_pow = args.solve_pow;
    let mut fans = Vec::with_capacity(args.connections);
    for (n, token) in tokens.into_iter().enumerate() {
        let permit = gate.clone().acquire_owned().await?;
        let source = crate::connect::source_address(n, args.source_addresses.max(1));
        let url = format!("ws://{}/api/drops/{}/queue/ws", args.queue, args.drop);
        let seen = seen.clone();
        let challenge_url = format!(
            "http://{}/api/drops/{}/queue/challenge",
            args.queue, args.drop
        );
        let client = clients[n % clients.len()].clone();
        fans.push(tokio::spawn(async move {
            let connected = async {
                let pow = match solve_pow {
                    true => Some(proof_of_work(&client, &challenge_url, &token).await?),
                    false => None,
                };
                let mut ws =
                    crate::connect::websocket_with(&url, source, Some(&token), pow.as_deref())
                        .await?;
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
            let Ok(mut ws) = connected else {
                seen.failures.fetch_add(1, Ordering::Relaxed);
                return;
            };
            seen.joined.fetch_add(1, Ordering::Relaxed);
            // Idle, answering pings; noting when it first heard of the pause.
            let mut heard_pause = false;
            while let Some(Ok(message)) = ws.next().await {
                if let Message::Text(text) = message {
                    seen.messages.fetch_add(1, Ordering::Relaxed);
                    if !heard_pause && text.contains("\"state\":\"paused\"") {
                        heard_pause = true;
                        seen.paused_at
                            .lock()
                            .map(|mut v| v.push(Instant::now()))
                            .ok();
                    }
                }
            }
        }));
    }
    while seen.joined.load(Ordering::Relaxed) + seen.failures.load(Ordering::Relaxed)
        < args.connections
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(fans)
}

/// Waits (up to 30 s) for every connected fan to hear of the pause sent at
/// `paused`; returns each fan's delay, seconds, sorted.
async fn pause_delays(seen: &Seen, paused: Instant, connected: usize) -> Vec<f64> {
    let deadline = paused + Duration::from_secs(30);
    while seen.paused_at.lock().map(|v| v.len()).unwrap_or(0) < connected
        && Instant::now() < deadline
    {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let times = seen.paused_at.lock().map(|v| v.clone()).unwrap_or_default();
    let mut delays: Vec<f64> = times
        .iter()
        .map(|t| t.duration_since(paused).as_secs_f64())
        .collect();
    delays.sort_by(f64::total_cmp);
    delays
}
