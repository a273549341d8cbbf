//! `loadtest orders`: the order path's capacity against a running sale
//! service. Creates a drop with ample stock and mints, before the clock
//! starts, one admission token per buyer: every buyer is a distinct user
//! who places at most `--per-user-cap` orders of one unit with its token,
//! each with its own Idempotency-Key, as in a real rush. Then either
//! `--concurrency` workers order as fast as they are answered for
//! `--seconds` (closed loop), or `--rate` orders a second are offered at a
//! constant pace (open loop, latency counted from each order's scheduled
//! time, so a slow server cannot hide queueing). With `--sale-pid`, the
//! sale process's CPU per acknowledged order over the measured window.
//! Prints the figures and writes them to `<out>/orders.json`.

use crate::boxcpu::{BoxMeter, BoxUse, Parts};
use crate::procfs::{CpuMeter, CpuUse};
use crate::sale_api;
use crate::tally::{Tally, TallySummary};
use crate::tokens::{Buyer, Minter};
use crate::wire;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `loadtest orders` flags.
#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Concurrent workers (closed loop), each ordering as soon as its last
    /// order was answered, buyer after buyer.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Open loop: offer this many orders per second at a constant pace
    /// (latency counted from each order's scheduled time, so a slow
    /// server cannot hide queueing), instead of `--concurrency` workers
    /// ordering as fast as they are answered.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Buyers minted up front for the closed loop [default: enough for
    /// 30,000 orders/s over --seconds]; a run that uses them all says so.
    #[arg(long)]
    pub buyers: Option<usize>,
    /// Where orders.json goes.
    #[arg(long, default_value = "loadtest/out")]
    pub out: PathBuf,
}

/// The sale service under test and how orders are made for it.
#[derive(clap::Args, Clone)]
pub struct TargetArgs {
    /// Base URL of the sale service.
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    /// Operator API key (to create the test drop).
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: String,
    #[command(flatten)]
    pub keys: crate::tokens::MintKeys,
    /// The drop's cap per user, and the most orders (of one unit) each
    /// buyer places with its token. Keep it within the sale service's
    /// ORDER_RATE_PER_USER (5/s) or later orders are refused 429.
    #[arg(long, default_value_t = 2)]
    pub per_user_cap: u32,
    /// The sale process's id: its CPU time is read from /proc/PID/stat
    /// before and after the measured window (so it must run on this
    /// machine), giving CPU per acknowledged order.
    #[arg(long)]
    pub sale_pid: Option<u32>,
    /// The deployment's Redis, to count its CPU per order (the
    /// `redis-server` serving this URL's port, on this machine).
    #[arg(long = "count-redis", env = "REDIS_URL")]
    pub redis_url: Option<String>,
    /// The deployment's PostgreSQL, to count its CPU per order (the
    /// postmaster started with this URL's port and its backends).
    #[arg(long = "count-postgres", env = "DATABASE_URL")]
    pub database_url: Option<String>,
}

impl TargetArgs {
    /// What the whole-machine CPU meter counts besides the machine.
    fn parts(&self) -> Parts {
        Parts {
            service: self.sale_pid,
            redis_url: self.redis_url.clone(),
            database_url: self.database_url.clone(),
        }
    }
}

/// What a run of orders measured.
#[derive(Debug, Clone, Serialize)]
pub struct OrdersResult {
    /// `closed loop, 200 workers` or `open loop, 2000/s offered`.
    pub mode: String,
    pub drop: String,
    pub per_user_cap: u32,
    /// Distinct users with their own token, minted before the clock.
    pub buyers_minted: usize,
    /// Buyers who placed at least one order.
    pub buyers_used: usize,
    /// The closed loop used every buyer before the time was up.
    pub ran_out_of_buyers: bool,
    #[serde(flatten)]
    pub tally: TallySummary,
    /// The sale process's CPU over the measured window (with `--sale-pid`).
    pub sale_cpu: Option<CpuUse>,
    pub sale_cpu_per_order_us: Option<f64>,
    /// The machine's CPU over the window, by part (sale, generator, Redis,
    /// PostgreSQL), with the load average.
    pub machine_cpu: BoxUse,
}

/// Runs `loadtest orders`.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let run = Duration::from_secs(args.seconds);
    let result = match args.rate {
        Some(rate) => open_loop(&args.target, rate, run).await?,
        None => {
            let buyers = args
                .buyers
                .unwrap_or_else(|| default_buyers(args.seconds, args.target.per_user_cap));
            closed_loop(&args.target, args.concurrency, buyers, run).await?
        }
    };
    crate::output::write_json(&args.out, "orders.json", &result)
}

/// Enough buyers for 30,000 orders a second over `seconds` (the 10,000/s
/// target, and the 18,000-22,000/s a quiet development box reaches, with
/// room).
pub fn default_buyers(seconds: u64, per_user_cap: u32) -> usize {
    (seconds.max(1) * 30_000).div_ceil(u64::from(per_user_cap.max(1))) as usize
}

/// A drop for the run and its buyers, minted now (before any clock).
async fn prepare(
    target: &TargetArgs,
    http: &reqwest::Client,
    buyers: usize,
) -> anyhow::Result<(String, Vec<Buyer>)> {
    let minter = Minter::load(&target.keys)?;
    let drop = sale_api::create_load_drop(
        http,
        &target.sale,
        &target.operator_key,
        target.per_user_cap,
    )
    .await?;
    let minting = Instant::now();
    let buyers = minter.buyers(&drop, "buyer", buyers)?;
    println!(
        "minted {} buyers' tokens in {:.1} s (outside the measured window)",
        buyers.len(),
        minting.elapsed().as_secs_f64()
    );
    Ok((drop, buyers))
}

/// Offers `rate` orders per second for `run`, order `n` from buyer
/// `n / cap` (its `n % cap`-th order), and reports latency from each
/// order's scheduled send time. Each order is its own task on a shared
/// pool of keep-alive connections ([`wire::Pool`]), so a slow answer never
/// delays the next order's send.
pub async fn open_loop(
    target: &TargetArgs,
    rate: u32,
    run: Duration,
) -> anyhow::Result<OrdersResult> {
    let cap = target.per_user_cap.max(1);
    let http = sale_api::client(4)?;
    let total = (u64::from(rate.max(1)) * run.as_secs().max(1)) as usize;
    let (drop, buyers) = prepare(target, &http, total.div_ceil(cap as usize)).await?;
    let wire_target = wire::Target::parse(&target.sale)?;
    let path = orders_path(&drop);
    // Every request formatted before the clock starts.
    let requests: Arc<Vec<wire::Post>> = Arc::new(
        (0..total)
            .map(|n| {
                order_request(
                    &wire_target,
                    &path,
                    &buyers[n / cap as usize],
                    n as u32 % cap,
                )
            })
            .collect::<anyhow::Result<_>>()?,
    );
    let pool = Arc::new(wire::Pool::new(wire_target));
    let tally = Tally::new()?;
    let window = Window::open(target)?;
    let started = tokio::time::Instant::from_std(window.started);
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut inflight = Vec::with_capacity(total);
    for n in 0..total {
        let scheduled = started + gap * n as u32;
        tokio::time::sleep_until(scheduled).await;
        let (pool, tally, requests) = (pool.clone(), tally.clone(), requests.clone());
        inflight.push(tokio::spawn(async move {
            let answer = pool.send(&requests[n], Duration::from_secs(30)).await;
            tally.record_status(&answer, 201, scheduled.into_std());
        }));
    }
    for task in inflight {
        task.await?;
    }
    let used = BuyersUsed {
        minted: buyers.len(),
        used: buyers.len(),
        ran_out: false,
    };
    let what = format!("orders offered at {rate}/s (open loop)");
    window.close(what, drop, target, used, &tally)
}

/// `concurrency` workers order as fast as they are answered for `run`:
/// each takes the next unused buyer and places its `per_user_cap` orders,
/// one after the other, then the next buyer. Each worker keeps one
/// keep-alive connection ([`wire::Conn`]).
pub async fn closed_loop(
    target: &TargetArgs,
    concurrency: usize,
    buyers: usize,
    run: Duration,
) -> anyhow::Result<OrdersResult> {
    let http = sale_api::client(4)?;
    let (drop, buyers) = prepare(target, &http, buyers).await?;
    let wire_target = wire::Target::parse(&target.sale)?;
    let path: Arc<str> = orders_path(&drop).into();
    let (buyers, next) = (Arc::new(buyers), Arc::new(AtomicUsize::new(0)));
    let tally = Tally::new()?;
    let mut conns = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        conns.push(wire::Conn::connect(&wire_target).await?);
    }
    let window = Window::open(target)?;
    let deadline = window.started + run;
    let cap = target.per_user_cap.max(1);
    let mut workers = Vec::with_capacity(concurrency);
    for conn in conns {
        let (tally, wire_target, path) = (tally.clone(), wire_target.clone(), path.clone());
        let (buyers, next) = (buyers.clone(), next.clone());
        workers.push(tokio::spawn(async move {
            let mut conn = Some(conn);
            while Instant::now() < deadline {
                let Some(buyer) = buyers.get(next.fetch_add(1, Ordering::Relaxed)) else {
                    return true; // ran out of buyers
                };
                for k in 0..cap {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let answer = match order_request(&wire_target, &path, buyer, k) {
                        Ok(request) => send_on(&mut conn, &wire_target, &request).await,
                        Err(error) => Err(std::io::Error::other(error)),
                    };
                    tally.record_status(&answer, 201, sent);
                }
            }
            false
        }));
    }
    let mut ran_out = false;
    for worker in workers {
        ran_out |= worker.await?;
    }
    let used = BuyersUsed {
        minted: buyers.len(),
        used: next.load(Ordering::Relaxed).min(buyers.len()),
        ran_out,
    };
    let what = format!("orders ({concurrency} concurrent workers)");
    window.close(what, drop, target, used, &tally)
}

/// The measured window of a run: when it started, and the sale's and the
/// whole machine's CPU meters running since.
struct Window {
    started: Instant,
    sale: Option<CpuMeter>,
    machine: BoxMeter,
}

impl Window {
    fn open(target: &TargetArgs) -> anyhow::Result<Self> {
        Ok(Self {
            sale: target.sale_pid.map(CpuMeter::start).transpose()?,
            machine: BoxMeter::start(target.parts()),
            started: Instant::now(),
        })
    }

    /// Closes the window and reports the run.
    fn close(
        self,
        what: String,
        drop: String,
        target: &TargetArgs,
        buyers: BuyersUsed,
        tally: &Tally,
    ) -> anyhow::Result<OrdersResult> {
        let summary = tally.report(&what, self.started.elapsed());
        let sale_cpu = self.sale.map(|m| m.stop()).transpose()?;
        let machine_cpu = self.machine.stop();
        Ok(OrdersResult::new(
            what,
            drop,
            target,
            buyers,
            summary,
            (sale_cpu, machine_cpu),
        ))
    }
}

/// Sends `request` on the worker's connection (connecting again after an
/// error, a `Connection: close` or a close by the server); the answer's status.
async fn send_on(
    conn: &mut Option<wire::Conn>,
    target: &wire::Target,
    request: &wire::Post,
) -> std::io::Result<Option<u16>> {
    let mut current = match conn.take() {
        Some(current) if current.reusable() => current,
        _ => wire::Conn::connect(target).await?,
    };
    let status = current.send(request).await?;
    if current.reusable() {
        *conn = Some(current);
    }
    Ok(Some(status))
}

fn orders_path(drop: &str) -> String {
    format!("/api/drops/{drop}/orders")
}

/// Buyer's `k`-th order of one unit, with its own Idempotency-Key.
fn order_request(
    target: &wire::Target,
    path: &str,
    buyer: &Buyer,
    k: u32,
) -> anyhow::Result<wire::Post> {
    let authorization = format!("Bearer {}", buyer.token);
    let key = buyer.order_key(k);
    target.post_json(
        path,
        &[("Authorization", &authorization), ("Idempotency-Key", &key)],
        r#"{"quantity":1}"#,
    )
}

/// How many buyers were minted and used, and whether they ran out.
struct BuyersUsed {
    minted: usize,
    used: usize,
    ran_out: bool,
}

impl OrdersResult {
    /// The result of a run, with its buyers and CPU lines printed.
    fn new(
        mode: String,
        drop: String,
        target: &TargetArgs,
        buyers: BuyersUsed,
        tally: TallySummary,
        (sale_cpu, machine_cpu): (Option<CpuUse>, BoxUse),
    ) -> Self {
        let cap = target.per_user_cap;
        println!(
            "buyers: {} distinct users placed orders, each with its own token and at most {cap} orders",
            buyers.used
        );
        if buyers.ran_out {
            println!(
                "WARNING: all {} buyers were used before the time was up: raise --buyers",
                buyers.minted
            );
        }
        println!(
            "{}",
            CpuUse::describe(sale_cpu.as_ref(), "sale", "order", tally.ok, "--sale-pid")
        );
        println!("{}", machine_cpu.describe("sale", "order", tally.ok));
        Self {
            mode,
            drop,
            per_user_cap: cap,
            buyers_minted: buyers.minted,
            buyers_used: buyers.used,
            ran_out_of_buyers: buyers.ran_out,
            sale_cpu_per_order_us: sale_cpu.and_then(|c| c.per_unit_us(tally.ok)),
            tally,
            sale_cpu,
            machine_cpu,
        }
    }
}
