//! `rush`: fans arrive (all at once or over a ramp), wait in the queue over a
//! WebSocket or by polling HTTP, some abandon, and the admitted buy 1 or 2
//! units and then pay, decline, or let the order expire, in chosen shares.
//! Ends with a report: joins/s, admission rate achieved, fairness, orders,
//! latency percentiles per endpoint (HDR, corrected for coordinated
//! omission where a client waits on a schedule), errors by code, and the
//! invariants checked against PostgreSQL and Redis.
//!
//! - `options`: the run's settings ([`RushOptions`]) and the `rush` / `soak` flags.
//! - `fans`: the simulated fans, one task each.
//! - `shared`: what the fans tell the run (counters, joins, errors).
//! - `timeline`: one sample a second, and the progress line.
//! - `fairness`: FIFO and draw inversions, the admission rate achieved.
//! - [`invariants`]: no oversell, nobody over the cap, every 201 recorded.
//! - `thresholds`: when a run whose invariants held still failed ([`Thresholds`]).
//! - `report`: the report ([`RushReport`]) as JSON and Markdown.
//! - `plot`: the report's SVG plot.

mod fairness;
pub(crate) mod fans;
pub mod invariants;
mod options;
mod plot;
mod report;
mod shared;
mod thresholds;
mod timeline;

pub use options::{Curve, RushArgs, RushOptions, SoakArgs};
pub use report::RushReport;
pub use shared::Sample;
pub use thresholds::{Counts, RunFailure, Thresholds, EXIT_INVARIANTS, EXIT_THRESHOLDS};

use crate::idle::{self, RedisWatch};
use fans::Crowd;
use shared::Shared;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use timeline::{mib, progress_bar, Ticker};

/// Runs `loadtest rush`: the run, its report written to `--out` and
/// printed, then a FAILED line on standard error when the run failed. The
/// exit code: 0 passed, [`EXIT_INVARIANTS`] (1) an invariant broke,
/// [`EXIT_THRESHOLDS`] (2) only thresholds were breached.
pub async fn main(args: RushArgs) -> anyhow::Result<ExitCode> {
    let report = run(args.options()?).await?;
    report.write(&args.out)?;
    println!("{}", report.markdown());
    Ok(match report.check() {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            eprintln!("{failure}");
            ExitCode::from(failure.exit_code())
        }
    })
}

/// Runs `loadtest soak`: a rush whose fans arrive evenly over the soak.
pub async fn soak(args: SoakArgs) -> anyhow::Result<ExitCode> {
    main(args.into_rush()).await
}

/// Runs one rush; the report's invariants say whether it held.
pub async fn run(options: RushOptions) -> anyhow::Result<RushReport> {
    let clients = crate::connect::http_clients(options.source_addresses)?;
    let http = clients[0].clone();
    let drop = create_drop(&http, &options).await?;
    let (watch, redis_before, watcher) =
        RedisWatch::start(&options.redis_url, &options.redis_prefix, &drop).await?;
    // The queue reads drops every second.
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let crowd = Crowd {
        drop: drop.clone(),
        options: options.clone(),
        clients,
        shared: Arc::new(Mutex::new(Shared::new(options.fans))),
        latencies: Arc::default(),
        requests: Arc::default(),
    };
    let started = Instant::now();
    let deadline = started + options.max_duration;
    let progress = progress_bar(options.show_progress, options.fans as u64);
    let idle_loaded = Arc::new(AtomicU64::new(0));
    let idle_loader = spawn_idle_loader(&crowd, idle_loaded.clone(), started, deadline);
    let ticker = Ticker::start(
        crowd.shared.clone(),
        watch.clone(),
        idle_loaded.clone(),
        started,
        progress,
    );
    crowd.run(deadline).await?;
    let idle_secs = match idle_loader {
        Some(loader) => {
            let (loading, took) = loader.await?;
            loading?;
            took.as_secs_f64()
        }
        None => 0.0,
    };
    ticker.stop();
    let ran = Ran {
        duration: started.elapsed(),
        idle_fans: idle_loaded.load(Ordering::Relaxed),
        idle_secs,
        redis_before,
        watch,
        watcher,
    };
    settle(&crowd, &http, ran).await
}

/// Creates the rush's drop (`rush-<ms>`), opening `opens_in_secs` from now.
async fn create_drop(http: &reqwest::Client, options: &RushOptions) -> anyhow::Result<String> {
    let drop = format!("rush-{}", chrono::Utc::now().timestamp_millis());
    let opens_at = chrono::Utc::now() + chrono::Duration::seconds(options.opens_in_secs as i64);
    let body = serde_json::json!({"id": drop, "name": "Rush", "stock": options.stock,
        "price_cents": 1000, "currency": "EUR", "opens_at": opens_at,
        "admission_rate_per_sec": options.rate, "max_active": options.max_active,
        "order_timeout_secs": 60});
    crate::sale_api::create_drop(http, &options.sale_url, &options.operator_key, &body).await?;
    Ok(drop)
}

type IdleLoader = tokio::task::JoinHandle<(anyhow::Result<()>, Duration)>;

/// With idle fans asked for: a task that joins them behind the live fans
/// once those have joined, counting them in `loaded`; it returns how the
/// loading went and how long it took.
fn spawn_idle_loader(
    crowd: &Crowd,
    loaded: Arc<AtomicU64>,
    started: Instant,
    deadline: Instant,
) -> Option<IdleLoader> {
    let options = crowd.options.clone();
    if options.idle_fans == 0 {
        return None;
    }
    let (shared, drop) = (crowd.shared.clone(), crowd.drop.clone());
    let arrivals_end = started + Duration::from_secs(options.ramp_secs);
    Some(tokio::spawn(async move {
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
    }))
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

/// What the run measured besides the fans' record.
struct Ran {
    duration: Duration,
    idle_fans: u64,
    idle_secs: f64,
    redis_before: u64,
    /// Redis watched until the checks are done (its peak read then).
    watch: Arc<RedisWatch>,
    watcher: tokio::task::JoinHandle<()>,
}

/// After the fans: the invariants and fairness checked, the idle fans'
/// line removed, and the report put together.
async fn settle(crowd: &Crowd, http: &reqwest::Client, ran: Ran) -> anyhow::Result<RushReport> {
    let options = &crowd.options;
    let db = sqlx::PgPool::connect(&options.database_url).await?;
    let acknowledged = crowd
        .shared
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?
        .acknowledged
        .clone();
    let invariants = invariants::check(
        &db,
        &options.redis_url,
        &options.redis_prefix,
        &crowd.drop,
        &acknowledged,
    )
    .await?;
    let fairness = fairness::check(options, http, &crowd.drop, &crowd.shared).await?;
    ran.watcher.abort();
    let (peak, line_at_peak) = (
        ran.watch.peak_bytes.load(Ordering::Relaxed),
        ran.watch.line_at_peak.load(Ordering::Relaxed),
    );
    if ran.idle_fans > 0 {
        idle::remove_line(&options.redis_url, &options.redis_prefix, &crowd.drop).await?;
    }
    let s = crowd
        .shared
        .lock()
        .map_err(|_| anyhow::anyhow!("poisoned"))?;
    let redis = RedisUse {
        before: ran.redis_before,
        peak,
        line_at_peak,
    };
    Ok(report(crowd, &s, &ran, redis, fairness, invariants))
}

/// What the thresholds judge the run on, and the thresholds with the
/// least admissions worked out for the drop's stock.
fn judged_by(crowd: &Crowd, s: &Shared) -> (Counts, Thresholds) {
    let options = &crowd.options;
    let counts = Counts {
        fans: options.fans,
        joined: s.joined,
        admitted: s.admitted,
        stock: options.stock,
        requests: crowd.requests.load(Ordering::Relaxed),
        errors: s.errors.clone(),
    };
    let thresholds = Thresholds {
        min_admitted: Some(options.thresholds.min_admitted_for(options.stock)),
        ..options.thresholds
    };
    (counts, thresholds)
}

/// Redis's memory before the run and at its peak, with the line then.
struct RedisUse {
    before: u64,
    peak: u64,
    line_at_peak: u64,
}

/// The report, from the fans' record `s` and the checks.
fn report(
    crowd: &Crowd,
    s: &Shared,
    ran: &Ran,
    redis: RedisUse,
    fairness: fairness::Fairness,
    invariants: invariants::InvariantReport,
) -> RushReport {
    let options = &crowd.options;
    let duration = ran.duration.as_secs_f64();
    let join_window = match (s.first_join, s.last_join) {
        (Some(a), Some(b)) if b > a => (b - a).as_secs_f64(),
        _ => duration,
    };
    let (counts, thresholds) = judged_by(crowd, s);
    RushReport {
        drop: crowd.drop.clone(),
        fans: options.fans,
        idle_fans: ran.idle_fans,
        idle_joins_per_sec: ran.idle_fans as f64 / ran.idle_secs.max(0.001),
        redis_before_mib: mib(redis.before),
        redis_peak_mib: mib(redis.peak),
        line_at_peak: redis.line_at_peak,
        redis_bytes_per_waiting_fan: redis.peak.saturating_sub(redis.before) as f64
            / redis.line_at_peak.max(1) as f64,
        duration_secs: duration,
        joined: s.joined,
        joins_per_sec: s.joined as f64 / join_window.max(0.001),
        websocket_fans: crowd.websocket_fans(),
        abandoned: s.abandoned(),
        admitted: s.admitted,
        admission_rate_configured: options.rate,
        admission_rate_achieved: fairness.admission_rate,
        fifo_inversions: fairness.fifo_inversions,
        draw_inversions: fairness.draw_inversions,
        draw_verified: fairness.draw_verified,
        orders_acknowledged: s.acknowledged.len() as u64,
        orders_per_sec: s.acknowledged.len() as f64 / duration,
        paid: s.paid,
        declined: s.declined,
        requests: counts.requests,
        failed_requests: counts.failures(),
        error_share: counts.error_share(),
        breaches: thresholds.breaches(&counts),
        thresholds,
        errors: s.errors.clone(),
        latency: crowd.latencies.report(),
        invariants,
        timeline: s.samples.clone(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn arrival_curves_spread_fans() {
        use super::Curve;
        assert_eq!(Curve::Ramp.offset(5, 10, 0), 0.0);
        assert_eq!(Curve::Ramp.offset(9, 10, 90), 90.0);
        assert!(Curve::Spike.offset(799, 1000, 100) <= 5.0);
        assert!((Curve::Spike.offset(999, 1000, 100) - 100.0).abs() < 1e-9);
    }
}
