//! `loadtest buckets`: the K curve of a hot drop's stock buckets. For each K
//! in `--buckets`, a drop of `--stock` units split over K buckets is loaded
//! through the sale's own gate (`sale::gate::StockGate`, no HTTP, JWT or
//! PostgreSQL: the Redis side of the order path, which is what one master
//! bounds) and `--concurrency` workers order one unit each as a new user
//! until it is sold out or `--seconds` pass. Reported per K: orders/s,
//! latency, what borrowing cost (transfers between buckets, units moved,
//! `Moving` answers), CPU per order of this process and of the Redis
//! servers given by `--redis-pids`, and the check that exactly the stock was
//! sold once a buyer was told sold out (no phantom sold-out).
//! Writes `<out>/buckets.json`.

use crate::procfs::{CpuMeter, CpuUse};
use crate::tally::{Tally, TallySummary};
use sale::gate::{DropGateState, Refusal, Reservation, StockGate};
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `loadtest buckets` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Redis URL (a `redis+cluster://` one spreads the buckets over masters).
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// The bucket counts to run, one after the other.
    #[arg(long, value_delimiter = ',', default_value = "1,2,4,8")]
    pub buckets: Vec<u32>,
    /// Units of each run's drop.
    #[arg(long, default_value_t = 100_000)]
    pub stock: i64,
    /// Concurrent workers.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// Longest a run may take, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Redis server process ids (comma separated), for their CPU per order.
    #[arg(long, value_delimiter = ',')]
    pub redis_pids: Vec<u32>,
    /// Where buckets.json goes.
    #[arg(long, default_value = "loadtest/out")]
    pub out: PathBuf,
}

/// One K's figures.
#[derive(Debug, Clone, Serialize)]
pub struct BucketRun {
    pub buckets: u32,
    pub stock: i64,
    pub tally: TallySummary,
    /// Buyers told sold out, and whether the stock was all sold by then.
    pub sold_out_answers: u64,
    pub sold: i64,
    pub phantom_sold_out: bool,
    /// Answers "units moving between buckets, retry" (503 to a buyer).
    pub moving_answers: u64,
    /// Transfers between buckets, and the net units borrowed by buckets.
    pub transfers: u64,
    pub units_borrowed: i64,
    /// CPU per acknowledged order, microseconds: this process, the Redis
    /// servers (summed).
    pub client_cpu_us: Option<f64>,
    pub redis_cpu_us: Option<f64>,
    pub redis_cores: Option<f64>,
}

/// Runs `loadtest buckets`.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let redis = runtime::redis::connect(&args.redis).await?;
    let mut runs = Vec::new();
    for &k in &args.buckets {
        let run = one(&redis, &args, k).await?;
        println!(
            "K={k}: {:.0} orders/s (p50 {:.2} ms, p99 {:.2} ms), sold {} of {}, {} told sold out \
             (phantom: {}), {} moving, {} transfers ({} units borrowed), CPU/order: client {}, redis {} ({} cores)",
            run.tally.per_sec,
            run.tally.p50_ms,
            run.tally.p99_ms,
            run.sold,
            run.stock,
            run.sold_out_answers,
            run.phantom_sold_out,
            run.moving_answers,
            run.transfers,
            run.units_borrowed,
            fmt_us(run.client_cpu_us),
            fmt_us(run.redis_cpu_us),
            run.redis_cores.map_or("n/a".into(), |c| format!("{c:.2}")),
        );
        runs.push(run);
    }
    crate::output::write_json(&args.out, "buckets.json", &runs)
}

/// A drop straight in the gate, with no PostgreSQL behind it, open now
/// (cap 2, 1.00 EUR, one hour to pay): what the gate-only runs sell.
pub fn open_drop(stock: i64, buckets: u32) -> DropGateState {
    DropGateState {
        stock,
        state: admission::contract::DropState::Open,
        opens_at_ms: 0,
        cap: 2,
        price_cents: 100,
        currency: "EUR".into(),
        timeout_secs: 3600,
        version: 1,
        epoch: 1,
        seated: false,
        hold_ms: 0,
        buckets,
    }
}

fn fmt_us(us: Option<f64>) -> String {
    us.map_or("n/a".into(), |us| format!("{us:.1} µs"))
}

async fn one(redis: &runtime::redis::Redis, args: &Args, k: u32) -> anyhow::Result<BucketRun> {
    let prefix = format!("buckets-{}", uuid::Uuid::new_v4().simple());
    let gate = StockGate::new(redis.clone(), &prefix);
    let drop = "hot";
    gate.create(drop, &open_drop(args.stock, k)).await?;
    let tally = Tally::new()?;
    let (sold_out, moving) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let done = Arc::new(AtomicBool::new(false));
    let meters: Vec<CpuMeter> = args
        .redis_pids
        .iter()
        .filter_map(|pid| CpuMeter::start(*pid).ok())
        .collect();
    let me = CpuMeter::start(std::process::id())?;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..args.concurrency {
        let (gate, tally) = (gate.clone(), tally.clone());
        let (sold_out, moving, done) = (sold_out.clone(), moving.clone(), done.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline && !done.load(Ordering::Relaxed) {
                n += 1;
                let sent = Instant::now();
                let user = format!("w{w}-{n}");
                let order = uuid::Uuid::now_v7();
                let now_ms = chrono::Utc::now().timestamp_millis();
                let result = gate
                    .reserve(drop, &user, "jti", 1, now_ms, order, "k")
                    .await;
                match result {
                    Ok(Reservation::Reserved { .. }) => tally.record(true, sent),
                    Ok(Reservation::Refused(Refusal::SoldOut)) => {
                        sold_out.fetch_add(1, Ordering::Relaxed);
                        done.store(true, Ordering::Relaxed);
                    }
                    Ok(Reservation::Moving) => {
                        moving.fetch_add(1, Ordering::Relaxed);
                        tally.record(false, sent);
                    }
                    _ => tally.record(false, sent),
                }
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let elapsed = started.elapsed();
    let client = me.stop()?;
    let servers: Vec<CpuUse> = meters.iter().filter_map(|m| m.stop().ok()).collect();
    let summary = tally.summary(elapsed);
    let counters = gate
        .counters(drop)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the drop vanished"))?;
    let (mut transfers, mut units_borrowed) = (0u64, 0i64);
    if k > 1 {
        let parts = gate.bucket_counters(drop, k).await?;
        units_borrowed = parts.iter().flatten().map(|p| p.moved.max(0)).sum();
        for b in 0..k {
            let mut command = redis::cmd("ZCARD");
            command.arg(gate.bucket_keys(drop, b).credited());
            let n: u64 = command.query_async(&mut redis.clone()).await?;
            transfers += n;
        }
    }
    let sold_out_answers = sold_out.load(Ordering::Relaxed);
    let redis_cpu: f64 = servers.iter().map(|s| s.cpu_secs).sum();
    let orders = summary.ok;
    cleanup(redis, &prefix).await?;
    Ok(BucketRun {
        buckets: k,
        stock: args.stock,
        sold_out_answers,
        sold: counters.sold,
        phantom_sold_out: sold_out_answers > 0 && counters.sold < args.stock,
        moving_answers: moving.load(Ordering::Relaxed),
        transfers,
        units_borrowed,
        client_cpu_us: client.per_unit_us(orders),
        redis_cpu_us: (!servers.is_empty() && orders > 0).then(|| redis_cpu * 1e6 / orders as f64),
        redis_cores: (!servers.is_empty()).then(|| redis_cpu / elapsed.as_secs_f64()),
        tally: summary,
    })
}

/// Deletes a run's keys (every node of a cluster), in batches of one hash
/// tag (one slot) each.
async fn cleanup(redis: &runtime::redis::Redis, prefix: &str) -> anyhow::Result<()> {
    let mut by_tag: std::collections::HashMap<String, Vec<String>> = Default::default();
    for key in redis.scan_match(&format!("{prefix}:*")).await? {
        let tag = key.split(['{', '}']).nth(1).unwrap_or_default().to_string();
        by_tag.entry(tag).or_default().push(key);
    }
    for keys in by_tag.values() {
        for batch in keys.chunks(1000) {
            let _: () = redis::cmd("UNLINK")
                .arg(batch)
                .query_async(&mut redis.clone())
                .await?;
        }
    }
    Ok(())
}
