//! `rush`: fans arrive (all at once or over a ramp), wait in the queue over a
//! WebSocket or by polling HTTP, some abandon, and the admitted buy 1 or 2
//! units and then pay, decline, or let the order expire, in chosen shares.
//! Ends with a report: joins/s, admission rate achieved, fairness, orders,
//! latency percentiles per endpoint (HDR, corrected for coordinated
//! omission where a client waits on a schedule), errors by code, and the
//! invariants checked against PostgreSQL and Redis.

use crate::idle::{self, RedisWatch};
use crate::invariants::{self, InvariantReport};
use admission::identity::DevIssuer;
use futures::{SinkExt, StreamExt};
use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// How arrivals spread over the ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// Evenly.
    Ramp,
    /// 80 % of the fans in the first 5 % of the ramp, the rest evenly after.
    Spike,
}

impl Curve {
    /// When fan `n` of `fans` arrives, in seconds after the start.
    pub fn offset(self, n: usize, fans: usize, ramp_secs: u64) -> f64 {
        if ramp_secs == 0 || fans < 2 {
            return 0.0;
        }
        let x = n as f64 / (fans - 1) as f64;
        let ramp = ramp_secs as f64;
        match self {
            Self::Ramp => ramp * x,
            Self::Spike if x <= 0.8 => ramp * 0.05 * (x / 0.8),
            Self::Spike => ramp * (0.05 + 0.95 * (x - 0.8) / 0.2),
        }
    }
}

/// How a rush is run.
#[derive(Debug, Clone)]
pub struct RushOptions {
    pub queue_url: String,
    pub sale_url: String,
    pub operator_key: String,
    pub user_secret: String,
    pub database_url: String,
    pub redis_url: String,
    pub redis_prefix: String,
    pub fans: usize,
    /// Idle fans joined behind the live ones straight through the queue's
    /// join script (see `crate::idle`); removed again at the end.
    pub idle_fans: u64,
    /// Share of fans holding a WebSocket; the rest poll over HTTP.
    pub websocket_share: f64,
    /// Share of fans who leave right after joining.
    pub abandon_share: f64,
    /// Of the admitted: share who pay with a good card, share declined; the
    /// rest let their order expire.
    pub pay_share: f64,
    pub decline_share: f64,
    pub stock: i64,
    pub rate: f64,
    pub max_active: i32,
    /// Seconds until the drop opens (fans arriving before it are drawn).
    pub opens_in_secs: u64,
    /// Fans arrive over this many seconds (0: all at once), along `curve`.
    pub ramp_secs: u64,
    pub curve: Curve,
    /// HTTP pollers poll this often.
    pub poll_every: Duration,
    /// Hard bound on the run.
    pub max_duration: Duration,
    /// Spread the fans' connections over this many loopback source
    /// addresses (127.0.0.1 …); 0: the system picks (see `crate::connect`).
    pub source_addresses: u8,
    pub show_progress: bool,
}

#[derive(Debug, Default)]
struct Fan {
    user: String,
    /// When the join request left and when its answer came back: a fan
    /// whose answer came before another's request left surely holds the
    /// earlier place.
    join_window: Option<(Instant, Instant)>,
    prequeue: bool,
    admitted: bool,
    abandoned: bool,
}

#[derive(Default)]
struct Shared {
    fans: Vec<Fan>,
    acknowledged: HashSet<String>,
    errors: BTreeMap<String, u64>,
    joined: u64,
    admitted: u64,
    orders: u64,
    paid: u64,
    declined: u64,
    first_join: Option<Instant>,
    last_join: Option<Instant>,
    /// Order latency in the current second (sum ms, count), for the plot.
    order_ms: (f64, u64),
    samples: Vec<Sample>,
}

/// One line of the plot: name, colour, (second, value) points.
type Line = (&'static str, &'static str, Vec<(f64, f64)>);

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

struct Latencies(Mutex<HashMap<&'static str, Histogram<u64>>>);

impl Latencies {
    fn record(&self, endpoint: &'static str, took: Duration, expected_interval: Option<Duration>) {
        let micros = (took.as_micros() as u64).clamp(1, 600_000_000);
        if let Ok(mut all) = self.0.lock() {
            let histogram = all.entry(endpoint).or_insert_with(|| {
                Histogram::new_with_bounds(1, 600_000_000, 3)
                    .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
            });
            let _ = match expected_interval {
                Some(interval) => histogram.record_correct(micros, interval.as_micros() as u64),
                None => histogram.record(micros),
            };
        }
    }
}

/// Percentiles of one endpoint, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

/// Everything a rush measured.
#[derive(Debug, Clone, Serialize)]
pub struct RushReport {
    pub drop: String,
    pub fans: usize,
    /// Idle fans joined (see `crate::idle`), and at what rate.
    pub idle_fans: u64,
    pub idle_joins_per_sec: f64,
    /// Redis `used_memory` before the run and at its peak, with the line's
    /// length at that peak; their difference per fan in the line.
    pub redis_before_mib: f64,
    pub redis_peak_mib: f64,
    pub line_at_peak: u64,
    pub redis_bytes_per_waiting_fan: f64,
    pub duration_secs: f64,
    pub joined: u64,
    pub joins_per_sec: f64,
    pub websocket_fans: usize,
    pub abandoned: usize,
    pub admitted: u64,
    pub admission_rate_configured: f64,
    /// Admissions per second in the busiest 10 s of the run.
    pub admission_rate_achieved: f64,
    /// Pairs admitted against join order (after opening).
    pub fifo_inversions: u64,
    /// Pairs admitted against the published draw (pre-queue).
    pub draw_inversions: u64,
    pub draw_verified: Option<bool>,
    pub orders_acknowledged: u64,
    pub orders_per_sec: f64,
    pub paid: u64,
    pub declined: u64,
    pub errors: BTreeMap<String, u64>,
    pub latency: BTreeMap<String, LatencyReport>,
    pub invariants: InvariantReport,
    /// One sample per second: joins, admissions, orders, the line, latency.
    pub timeline: Vec<Sample>,
}

impl RushReport {
    /// The run over time as an SVG: throughput (joins, admissions and orders
    /// per second), the waiting line, and mean order latency.
    pub fn svg(&self) -> String {
        let (w, h, pad) = (720.0, 140.0, 30.0);
        let t_max = self.timeline.last().map_or(1.0, |s| s.second.max(1.0));
        let rate = |f: fn(&Sample) -> u64| -> Vec<(f64, f64)> {
            self.timeline
                .windows(2)
                .map(|p| {
                    let dt = (p[1].second - p[0].second).max(0.001);
                    (p[1].second, f(&p[1]).saturating_sub(f(&p[0])) as f64 / dt)
                })
                .collect()
        };
        let panels: Vec<(&str, Vec<Line>)> = vec![
            (
                "per second",
                vec![
                    ("joins", "#1d4ed8", rate(|s| s.joined)),
                    ("admitted", "#16a34a", rate(|s| s.admitted)),
                    ("orders", "#dc2626", rate(|s| s.orders)),
                ],
            ),
            (
                "waiting",
                vec![
                    (
                        "live fans",
                        "#7c3aed",
                        self.timeline
                            .iter()
                            .map(|s| (s.second, s.waiting as f64))
                            .collect(),
                    ),
                    (
                        "line (Redis)",
                        "#0891b2",
                        self.timeline
                            .iter()
                            .map(|s| (s.second, s.line as f64))
                            .collect(),
                    ),
                ],
            ),
            (
                "Redis used_memory, MiB",
                vec![(
                    "used",
                    "#475569",
                    self.timeline
                        .iter()
                        .map(|s| (s.second, s.redis_mib))
                        .collect(),
                )],
            ),
            (
                "order latency, ms",
                vec![(
                    "mean",
                    "#ea580c",
                    self.timeline
                        .iter()
                        .map(|s| (s.second, s.order_ms))
                        .collect(),
                )],
            ),
        ];
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">",
            (h + pad) * panels.len() as f64
        );
        for (i, (title, lines)) in panels.iter().enumerate() {
            let top = i as f64 * (h + pad) + pad;
            let y_max = lines
                .iter()
                .flat_map(|l| l.2.iter().map(|p| p.1))
                .fold(1.0, f64::max);
            svg.push_str(&format!(
                "<text x=\"4\" y=\"{}\">{title} (max {y_max:.0})</text><rect x=\"40\" y=\"{top}\" width=\"{}\" height=\"{h}\" fill=\"none\" stroke=\"#ccc\"/>",
                top - 8.0,
                w - 50.0
            ));
            for (j, (name, color, points)) in lines.iter().enumerate() {
                let path: Vec<String> = points
                    .iter()
                    .map(|(t, v)| {
                        format!(
                            "{:.1},{:.1}",
                            40.0 + (w - 50.0) * t / t_max,
                            top + h - h * v / y_max
                        )
                    })
                    .collect();
                svg.push_str(&format!(
                    "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/><text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
                    path.join(" "),
                    w - 200.0 + j as f64 * 60.0,
                    top - 8.0
                ));
            }
        }
        svg.push_str("</svg>");
        svg
    }

    /// The report as Markdown.
    pub fn markdown(&self) -> String {
        let mut md = format!(
            "# Rush report: drop `{}`\n\n| measure | value |\n|---|---|\n\
             | fans | {} ({} on WebSockets, {} abandoned) |\n| run | {:.1} s |\n\
             | joins | {} ({:.0}/s) |\n| admitted | {}; {:.2}/s in the busiest 10 s (configured {:.2}/s) |\n\
             | fairness | {} FIFO inversions, {} draw inversions, draw verified: {} |\n\
             | orders acknowledged | {} ({:.1}/s); paid {}, declined {} |\n\
             | idle fans | {} joined behind the live ones ({:.0}/s) |\n\
             | Redis | {:.0} MiB before, {:.0} MiB at peak with {} in line: {:.0} bytes per waiting fan |\n\
             | invariants | {} |\n\n",
            self.drop,
            self.fans,
            self.websocket_fans,
            self.abandoned,
            self.duration_secs,
            self.joined,
            self.joins_per_sec,
            self.admitted,
            self.admission_rate_achieved,
            self.admission_rate_configured,
            self.fifo_inversions,
            self.draw_inversions,
            self.draw_verified
                .map_or("n/a".to_string(), |v| v.to_string()),
            self.orders_acknowledged,
            self.orders_per_sec,
            self.paid,
            self.declined,
            self.idle_fans,
            self.idle_joins_per_sec,
            self.redis_before_mib,
            self.redis_peak_mib,
            self.line_at_peak,
            self.redis_bytes_per_waiting_fan,
            if self.invariants.holds() {
                "hold".to_string()
            } else {
                self.invariants.broken.join("; ")
            },
        );
        md.push_str("| endpoint | count | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|\n");
        for (endpoint, l) in &self.latency {
            md.push_str(&format!(
                "| {endpoint} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            ));
        }
        if !self.errors.is_empty() {
            md.push_str("\n| error | count |\n|---|---|\n");
            for (code, n) in &self.errors {
                md.push_str(&format!("| {code} | {n} |\n"));
            }
        }
        md
    }
}

fn share(n: usize, fraction: f64) -> bool {
    // Deterministic spread: fan n is in the share when its slot falls below it.
    ((n as f64 * 0.618_033_988_75) % 1.0) < fraction
}

fn error(shared: &Mutex<Shared>, code: impl Into<String>) {
    if let Ok(mut s) = shared.lock() {
        *s.errors.entry(code.into()).or_default() += 1;
    }
}

async fn error_code(response: reqwest::Response) -> String {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    format!("{status} {}", body["error"].as_str().unwrap_or(""))
}

/// Runs one rush; the report's invariants say whether it held.
pub async fn run(options: RushOptions) -> anyhow::Result<RushReport> {
    let clients = crate::connect::http_clients(options.source_addresses)?;
    let http = clients[0].clone();
    let drop = format!("rush-{}", chrono::Utc::now().timestamp_millis());
    let opens_at = chrono::Utc::now() + chrono::Duration::seconds(options.opens_in_secs as i64);
    let created = http
        .post(format!("{}/api/drops", options.sale_url))
        .bearer_auth(&options.operator_key)
        .json(
            &serde_json::json!({"id": drop, "name": "Rush", "stock": options.stock,
            "price_cents": 1000, "currency": "EUR", "opens_at": opens_at,
            "admission_rate_per_sec": options.rate, "max_active": options.max_active,
            "order_timeout_secs": 60}),
        )
        .send()
        .await?;
    anyhow::ensure!(
        created.status() == 201,
        "creating the drop: {}",
        error_code(created).await
    );
    let (watch, redis_before, watcher) =
        RedisWatch::start(&options.redis_url, &options.redis_prefix, &drop).await?;
    // The queue reads drops every second.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let shared = Arc::new(Mutex::new(Shared {
        fans: (0..options.fans)
            .map(|n| Fan {
                user: format!("fan-{n}"),
                ..Fan::default()
            })
            .collect(),
        ..Shared::default()
    }));
    let latencies = Arc::new(Latencies(Mutex::new(HashMap::new())));
    let issuer = Arc::new(DevIssuer::new(&options.user_secret));
    let started = Instant::now();
    let deadline = started + options.max_duration;
    let progress = progress_bar(options.show_progress, options.fans as u64);
    let idle_loaded = Arc::new(AtomicU64::new(0));
    let idle_loader = (options.idle_fans > 0).then(|| {
        let (shared, options, drop) = (shared.clone(), options.clone(), drop.clone());
        let loaded = idle_loaded.clone();
        let arrivals_end = started + Duration::from_secs(options.ramp_secs);
        tokio::spawn(async move {
            live_joins_settled(&shared, options.fans as u64, arrivals_end, deadline).await;
            let began = Instant::now();
            let loading = idle::load(
                &options.redis_url,
                &options.redis_prefix,
                &drop,
                options.idle_fans,
                loaded,
                deadline,
            )
            .await;
            (loading, began.elapsed())
        })
    });
    let ticker = {
        let (shared, progress, watch) = (shared.clone(), progress.clone(), watch.clone());
        let idle_loaded = idle_loaded.clone();
        tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                tick += 1;
                if let Ok(mut s) = shared.lock() {
                    if tick.is_multiple_of(4) {
                        let abandoned = s.fans.iter().filter(|f| f.abandoned).count() as u64;
                        let (sum, n) = std::mem::take(&mut s.order_ms);
                        let sample = Sample {
                            second: started.elapsed().as_secs_f64(),
                            joined: s.joined,
                            admitted: s.admitted,
                            orders: s.orders,
                            waiting: s.joined.saturating_sub(s.admitted + abandoned),
                            line: watch.line.load(Ordering::Relaxed),
                            redis_mib: mib(watch.used_bytes.load(Ordering::Relaxed)),
                            order_ms: if n > 0 { sum / n as f64 } else { 0.0 },
                        };
                        s.samples.push(sample);
                    }
                    progress.set_position(s.joined);
                    progress.set_message(format!(
                        "admitted {} · orders {} · paid {} · errors {} · idle {} · line {} · Redis {:.0} MiB",
                        s.admitted,
                        s.orders,
                        s.paid,
                        s.errors.values().sum::<u64>(),
                        idle_loaded.load(Ordering::Relaxed),
                        watch.line.load(Ordering::Relaxed),
                        mib(watch.used_bytes.load(Ordering::Relaxed)),
                    ));
                }
            }
        })
    };
    let mut tasks = Vec::with_capacity(options.fans);
    for n in 0..options.fans {
        let offset =
            Duration::from_secs_f64(options.curve.offset(n, options.fans, options.ramp_secs));
        let token = issuer.issue(&format!("fan-{n}"), false, 24 * 3600)?;
        let context = FanContext {
            n,
            token,
            drop: drop.clone(),
            options: options.clone(),
            http: clients[n % clients.len()].clone(),
            shared: shared.clone(),
            latencies: latencies.clone(),
        };
        tasks.push(tokio::spawn(async move {
            tokio::time::sleep(offset).await;
            let _ = tokio::time::timeout_at(deadline.into(), fan(context)).await;
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    let idle_secs = match idle_loader {
        Some(loader) => {
            let (loading, took) = loader.await?;
            loading?;
            took.as_secs_f64()
        }
        None => 0.0,
    };
    ticker.abort();
    progress.finish_and_clear();
    let duration = started.elapsed();

    let db = sqlx::PgPool::connect(&options.database_url).await?;
    let (acknowledged, websocket_fans, abandoned) = {
        let s = shared.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        (
            s.acknowledged.clone(),
            (0..options.fans)
                .filter(|n| share(*n, options.websocket_share))
                .count(),
            s.fans.iter().filter(|f| f.abandoned).count(),
        )
    };
    let invariants = invariants::check(
        &db,
        &options.redis_url,
        &options.redis_prefix,
        &drop,
        &acknowledged,
    )
    .await?;
    let (fifo_inversions, draw_inversions, draw_verified, rate_achieved) =
        fairness(&options, &http, &drop, &shared).await?;
    watcher.abort();
    let (peak, line_at_peak) = (
        watch.peak_bytes.load(Ordering::Relaxed),
        watch.line_at_peak.load(Ordering::Relaxed),
    );
    let idle_fans = idle_loaded.load(Ordering::Relaxed);
    if idle_fans > 0 {
        idle::remove_line(&options.redis_url, &options.redis_prefix, &drop).await?;
    }
    let s = shared.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
    let join_window = match (s.first_join, s.last_join) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => duration.as_secs_f64(),
    };
    let latency = latencies
        .0
        .lock()
        .map(|all| {
            all.iter()
                .map(|(endpoint, h)| {
                    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
                    (
                        endpoint.to_string(),
                        LatencyReport {
                            count: h.len(),
                            p50_ms: ms(0.5),
                            p90_ms: ms(0.9),
                            p99_ms: ms(0.99),
                            p999_ms: ms(0.999),
                            max_ms: h.max() as f64 / 1000.0,
                        },
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Ok(RushReport {
        drop,
        fans: options.fans,
        idle_fans,
        idle_joins_per_sec: idle_fans as f64 / idle_secs.max(0.001),
        redis_before_mib: mib(redis_before),
        redis_peak_mib: mib(peak),
        line_at_peak,
        redis_bytes_per_waiting_fan: peak.saturating_sub(redis_before) as f64
            / line_at_peak.max(1) as f64,
        duration_secs: duration.as_secs_f64(),
        joined: s.joined,
        joins_per_sec: s.joined as f64 / join_window.max(0.001),
        websocket_fans,
        abandoned,
        admitted: s.admitted,
        admission_rate_configured: options.rate,
        admission_rate_achieved: rate_achieved,
        fifo_inversions,
        draw_inversions,
        draw_verified,
        orders_acknowledged: s.acknowledged.len() as u64,
        orders_per_sec: s.acknowledged.len() as f64 / duration.as_secs_f64(),
        paid: s.paid,
        declined: s.declined,
        errors: s.errors.clone(),
        latency,
        invariants,
        timeline: s.samples.clone(),
    })
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Waits until every live fan has joined, or (the arrivals over) no join has
/// come for two seconds, or the deadline: idle fans then join behind them.
async fn live_joins_settled(
    shared: &Mutex<Shared>,
    fans: u64,
    arrivals_end: Instant,
    deadline: Instant,
) {
    let (mut last, mut since) = (u64::MAX, Instant::now());
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let joined = shared.lock().map_or(0, |s| s.joined);
        if joined >= fans {
            return;
        }
        if joined != last {
            (last, since) = (joined, Instant::now());
        } else if Instant::now() > arrivals_end && since.elapsed() > Duration::from_secs(2) {
            return;
        }
    }
}

fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{elapsed_precise} joined {pos}/{len} · {msg}")
    {
        bar.set_style(style);
    }
    bar
}

/// Admissions per second in the busiest `window_ms` (the whole span when
/// shorter): the rate the pump achieved while it had fans and stock, not
/// diluted by the wait for expiring orders after a sell-out.
fn peak_rate(times_ms: &[i64], window_ms: i64) -> f64 {
    let mut times = times_ms.to_vec();
    times.sort_unstable();
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return 0.0;
    };
    if last - first <= window_ms {
        return if last > first {
            (times.len() - 1) as f64 * 1000.0 / (last - first) as f64
        } else {
            0.0
        };
    }
    let (mut best, mut start) = (0usize, 0usize);
    for end in 0..times.len() {
        while times[end] - times[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as f64 * 1000.0 / window_ms as f64
}

/// FIFO inversions seen from the client: pairs (A, B) where A's join answer
/// arrived before B's join request was sent (so A surely joined first) but
/// B was admitted strictly earlier. Pairs whose joins overlapped in time are
/// not counted: their server order is unknown. O(n log n) with a Fenwick
/// tree over admission times.
fn fifo_inversions(fans: Vec<((Instant, Instant), i64)>) -> u64 {
    let mut times: Vec<i64> = fans.iter().map(|f| f.1).collect();
    times.sort_unstable();
    times.dedup();
    let rank = |t: i64| times.partition_point(|x| *x < t);
    let mut tree = vec![0u64; times.len() + 1];
    let add = |tree: &mut Vec<u64>, i: usize| {
        let mut i = i + 1;
        while i < tree.len() {
            tree[i] += 1;
            i += i & i.wrapping_neg();
        }
    };
    let below_or_at = |tree: &Vec<u64>, i: usize| {
        let (mut i, mut sum) = (i + 1, 0);
        while i > 0 {
            sum += tree[i];
            i -= i & i.wrapping_neg();
        }
        sum
    };
    let mut by_done: Vec<&((Instant, Instant), i64)> = fans.iter().collect();
    by_done.sort_by_key(|f| f.0 .1);
    let mut by_sent: Vec<&((Instant, Instant), i64)> = fans.iter().collect();
    by_sent.sort_by_key(|f| f.0 .0);
    let (mut inserted, mut count) = (0usize, 0u64);
    for b in by_sent {
        while inserted < by_done.len() && by_done[inserted].0 .1 < b.0 .0 {
            add(&mut tree, rank(by_done[inserted].1));
            inserted += 1;
        }
        // Of the fans surely ahead of B, those admitted after B.
        count += inserted as u64 - below_or_at(&tree, rank(b.1));
    }
    count
}

/// Counts pairs ordered one way by `key` and the other by admission time
/// (strictly), by merge sort: O(n log n).
fn inversions(mut pairs: Vec<(u64, i64)>) -> u64 {
    pairs.sort_by_key(|p| p.0);
    let mut times: Vec<i64> = pairs.into_iter().map(|p| p.1).collect();
    fn sort_count(v: &mut [i64]) -> u64 {
        let n = v.len();
        if n < 2 {
            return 0;
        }
        let (left, right) = v.split_at_mut(n / 2);
        let mut count = sort_count(left) + sort_count(right);
        let (mut merged, mut i, mut j) = (Vec::with_capacity(n), 0, 0);
        while i < left.len() && j < right.len() {
            if left[i] <= right[j] {
                merged.push(left[i]);
                i += 1;
            } else {
                count += (left.len() - i) as u64;
                merged.push(right[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&left[i..]);
        merged.extend_from_slice(&right[j..]);
        v.copy_from_slice(&merged);
        count
    }
    sort_count(&mut times)
}

async fn fairness(
    options: &RushOptions,
    http: &reqwest::Client,
    drop: &str,
    shared: &Mutex<Shared>,
) -> anyhow::Result<(u64, u64, Option<bool>, f64)> {
    let mut redis = redis::Client::open(options.redis_url.as_str())?
        .get_multiplexed_async_connection()
        .await?;
    let admitted: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(queue::line::LineKeys::new(&options.redis_prefix, drop).admitted())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await?;
    let at: HashMap<String, i64> = admitted
        .iter()
        .map(|(u, t)| (u.clone(), *t as i64))
        .collect();
    let rate = peak_rate(
        &admitted.iter().map(|(_, t)| *t as i64).collect::<Vec<_>>(),
        10_000,
    );
    let (fifo, prequeue_users) = {
        let s = shared.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let fifo: Vec<((Instant, Instant), i64)> = s
            .fans
            .iter()
            .filter(|f| !f.prequeue)
            .filter_map(|f| Some((f.join_window?, *at.get(&f.user)?)))
            .collect();
        let pre: Vec<String> = s
            .fans
            .iter()
            .filter(|f| f.prequeue && at.contains_key(&f.user))
            .map(|f| f.user.clone())
            .collect();
        (fifo, pre)
    };
    let mut draw_inversions = 0;
    let mut draw_verified = None;
    if !prequeue_users.is_empty() {
        let draw: serde_json::Value = http
            .get(format!("{}/api/drops/{drop}/draw", options.queue_url))
            .send()
            .await?
            .json()
            .await?;
        if let (Some(seed), Some(hash)) = (draw["seed"].as_str(), draw["seed_sha256"].as_str()) {
            let order = queue::draw::draw_order(seed, &prequeue_users);
            let pairs = order
                .iter()
                .enumerate()
                .filter_map(|(rank, u)| Some((rank as u64, *at.get(u)?)))
                .collect();
            draw_inversions = inversions(pairs);
            draw_verified = Some(queue::draw::seed_hash(seed) == hash && draw_inversions == 0);
        }
    }
    Ok((fifo_inversions(fifo), draw_inversions, draw_verified, rate))
}

struct FanContext {
    n: usize,
    token: String,
    drop: String,
    options: RushOptions,
    http: reqwest::Client,
    shared: Arc<Mutex<Shared>>,
    latencies: Arc<Latencies>,
}

enum Waited {
    Admitted(String),
    Over,
}

async fn fan(c: FanContext) {
    let websocket = share(c.n, c.options.websocket_share);
    let abandon = share(c.n.wrapping_mul(7).wrapping_add(3), c.options.abandon_share);
    let waited = if websocket {
        wait_on_socket(&c, abandon).await
    } else {
        wait_by_polling(&c, abandon).await
    };
    let Ok(Waited::Admitted(admission)) = waited else {
        if let Err(e) = waited {
            error(&c.shared, format!("wait: {e}"));
        }
        return;
    };
    if let Ok(mut s) = c.shared.lock() {
        s.admitted += 1;
        if let Some(f) = s.fans.get_mut(c.n) {
            f.admitted = true;
        }
    }
    buy_and_pay(&c, &admission).await;
}

fn joined(c: &FanContext, status: &serde_json::Value, abandon: bool, sent: Instant) {
    if let Ok(mut s) = c.shared.lock() {
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

async fn wait_on_socket(c: &FanContext, abandon: bool) -> anyhow::Result<Waited> {
    let url = format!(
        "{}/api/drops/{}/queue/ws",
        c.options.queue_url.replacen("http", "ws", 1),
        c.drop
    );
    let sent = Instant::now();
    let source = crate::connect::source_address(c.n, c.options.source_addresses);
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
            c.latencies.record("ws join", sent.elapsed(), None);
            joined(c, &status, abandon, sent);
            if abandon {
                return Ok(Waited::Over);
            }
        }
        match status["state"].as_str() {
            Some("admitted") => {
                return Ok(Waited::Admitted(
                    status["admission_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ))
            }
            Some("sold_out" | "closed") => return Ok(Waited::Over),
            _ => {}
        }
    }
    anyhow::bail!("socket closed")
}

async fn wait_by_polling(c: &FanContext, abandon: bool) -> anyhow::Result<Waited> {
    let url = format!("{}/api/drops/{}/queue", c.options.queue_url, c.drop);
    let sent = Instant::now();
    let response = c.http.post(&url).bearer_auth(&c.token).send().await?;
    c.latencies.record("POST queue", sent.elapsed(), None);
    if !response.status().is_success() {
        anyhow::bail!("join {}", error_code(response).await);
    }
    let mut status: serde_json::Value = response.json().await?;
    joined(c, &status, abandon, sent);
    if abandon {
        return Ok(Waited::Over);
    }
    loop {
        match status["state"].as_str() {
            Some("admitted") => {
                return Ok(Waited::Admitted(
                    status["admission_token"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ))
            }
            Some("sold_out" | "closed") => return Ok(Waited::Over),
            _ => {}
        }
        tokio::time::sleep(c.options.poll_every).await;
        let sent = Instant::now();
        let response = c.http.get(&url).bearer_auth(&c.token).send().await?;
        c.latencies
            .record("GET queue", sent.elapsed(), Some(c.options.poll_every));
        if response.status().is_success() {
            status = response.json().await?;
        } else {
            error(&c.shared, format!("poll {}", error_code(response).await));
        }
    }
}

async fn buy_and_pay(c: &FanContext, admission: &str) {
    let quantity = 1 + (c.n % 2);
    let sent = Instant::now();
    let response = c
        .http
        .post(format!(
            "{}/api/drops/{}/orders",
            c.options.sale_url, c.drop
        ))
        .bearer_auth(admission)
        .header("idempotency-key", format!("rush-{}", c.n))
        .json(&serde_json::json!({ "quantity": quantity }))
        .send()
        .await;
    c.latencies.record("POST orders", sent.elapsed(), None);
    if let Ok(mut s) = c.shared.lock() {
        s.order_ms.0 += sent.elapsed().as_secs_f64() * 1000.0;
        s.order_ms.1 += 1;
    }
    let response = match response {
        Ok(r) => r,
        Err(e) => return error(&c.shared, format!("order: {e}")),
    };
    if response.status().as_u16() != 201 {
        return error(&c.shared, format!("order {}", error_code(response).await));
    }
    let order: serde_json::Value = response.json().await.unwrap_or_default();
    let id = order["id"].as_str().unwrap_or_default().to_string();
    if let Ok(mut s) = c.shared.lock() {
        s.orders += 1;
        s.acknowledged.insert(id.clone());
    }
    let method = if share(c.n.wrapping_mul(13).wrapping_add(5), c.options.pay_share) {
        "card_ok"
    } else if share(
        c.n.wrapping_mul(17).wrapping_add(11),
        c.options.decline_share / (1.0 - c.options.pay_share).max(0.001),
    ) {
        "card_declined"
    } else {
        return; // lets the order expire
    };
    let token = DevIssuer::new(&c.options.user_secret).issue(&format!("fan-{}", c.n), false, 3600);
    let Ok(token) = token else { return };
    let sent = Instant::now();
    let paid = c
        .http
        .post(format!("{}/api/orders/{id}/pay", c.options.sale_url))
        .bearer_auth(token)
        .json(&serde_json::json!({ "method": method }))
        .send()
        .await;
    c.latencies.record("POST pay", sent.elapsed(), None);
    match paid {
        Ok(r) if r.status().as_u16() == 202 => {
            if let Ok(mut s) = c.shared.lock() {
                if method == "card_ok" {
                    s.paid += 1
                } else {
                    s.declined += 1
                }
            }
        }
        Ok(r) => error(&c.shared, format!("pay {}", error_code(r).await)),
        Err(e) => error(&c.shared, format!("pay: {e}")),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn inversions_are_counted() {
        assert_eq!(super::inversions(vec![(1, 10), (2, 20), (3, 30)]), 0);
        assert_eq!(super::inversions(vec![(1, 30), (2, 20), (3, 10)]), 3);
        assert_eq!(super::inversions(vec![(1, 10), (2, 10), (3, 5)]), 2);
    }

    #[test]
    fn fifo_inversions_count_only_sure_orders() {
        let t0 = std::time::Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        // A joined (0-10) surely before B (20-30) and C (25-40); C overlaps B.
        let fair = vec![
            ((at(0), at(10)), 100),
            ((at(20), at(30)), 200),
            ((at(25), at(40)), 150),
        ];
        assert_eq!(
            super::fifo_inversions(fair),
            0,
            "B and C overlapped: either order is fair"
        );
        let unfair = vec![
            ((at(0), at(10)), 300),
            ((at(20), at(30)), 200),
            ((at(50), at(60)), 100),
        ];
        assert_eq!(super::fifo_inversions(unfair), 3);
    }

    #[test]
    fn the_peak_rate_ignores_idle_stretches() {
        let mut times: Vec<i64> = (0..1000).map(|i| i * 10).collect(); // 100/s for 10 s
        times.extend((0..10).map(|i| 60_000 + i * 1000)); // then a trickle
        assert!((super::peak_rate(&times, 10_000) - 100.0).abs() < 1.0);
    }

    #[test]
    fn arrival_curves_spread_fans() {
        use super::Curve;
        assert_eq!(Curve::Ramp.offset(5, 10, 0), 0.0);
        assert_eq!(Curve::Ramp.offset(9, 10, 90), 90.0);
        assert!(Curve::Spike.offset(799, 1000, 100) <= 5.0);
        assert!((Curve::Spike.offset(999, 1000, 100) - 100.0).abs() < 1e-9);
    }
}
