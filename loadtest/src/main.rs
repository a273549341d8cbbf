//! `loadtest`: proves the order path's capacity against a running deployment.
//!
//! - `orders`: creates a drop with ample stock, mints admission tokens up front,
//!   then `--concurrency` buyers place orders as fast as they are answered for
//!   `--seconds`; prints acknowledged orders per second and latency percentiles.
//! - `baseline`: in the same run, (a) the sale service's own `reserve.lua` called
//!   straight against Redis by `--concurrency` tasks, and (b) a plain PostgreSQL
//!   checkout (one stock row, `UPDATE ... WHERE stock >= n` plus an insert, per
//!   order, in a transaction); prints each rate.
//!
//! - `sockets`: idle WebSocket fans on a queue node (see [`sockets`]).
//! - `rush`: the whole flow with a report and invariants (see `loadtest::rush`).
//!
//! Every run is bounded by `--seconds` or its connection count.

mod sockets;

use admission::keys::AdmissionKeyPair;
use admission::token::{AdmissionClaims, AdmissionSigner};
use anyhow::Context;
use clap::{Parser, Subcommand};
use hdrhistogram::Histogram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(name = "loadtest", about = "Lineup load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Orders at the highest rate the sale service takes.
    Orders {
        /// Base URL of the sale service.
        #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
        sale: String,
        /// Operator API key (to create the test drop).
        #[arg(long, env = "OPERATOR_API_KEY")]
        operator_key: String,
        /// Admission signing key (PKCS#8 PEM) trusted by the sale service.
        #[arg(long, env = "ADMISSION_KEY")]
        key: std::path::PathBuf,
        /// Concurrent buyers.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// How long to run.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Open loop: offer this many orders per second at a constant pace
        /// (latency counted from each order's scheduled time, so a slow
        /// server cannot hide queueing), instead of `--concurrency` buyers
        /// ordering as fast as they are answered.
        #[arg(long)]
        rate: Option<u32>,
    },
    /// Idle WebSocket fans on a queue node: joins/s, memory per connection,
    /// and how fast a status change reaches all of them.
    Sockets {
        /// The queue node's address.
        #[arg(long, default_value = "127.0.0.1:8080")]
        queue: std::net::SocketAddr,
        /// The queue node's process id (its RSS is read from /proc).
        #[arg(long)]
        queue_pid: u32,
        /// An open drop to wait in (its admission rate should be tiny).
        #[arg(long)]
        drop: String,
        /// The user-token secret the queue trusts (USER_JWT_SECRET).
        #[arg(long, env = "USER_JWT_SECRET")]
        user_secret: String,
        /// PostgreSQL URL of the deployment (invariant checks and baselines).
        /// The sale service (the pause is sent there).
        #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
        sale: String,
        /// Operator API key.
        #[arg(long, env = "OPERATOR_API_KEY")]
        operator_key: String,
        /// How many idle WebSocket fans to hold.
        #[arg(long, default_value_t = 10_000)]
        connections: usize,
        /// Loopback source addresses to spread connections over (127.0.0.1..).
        #[arg(long, default_value_t = 4)]
        source_addresses: u8,
    },
    /// Fans arrive, wait, some abandon; the admitted buy and pay. Ends with a
    /// report (JSON and Markdown) and the invariants; exits non-zero when an
    /// invariant is broken.
    Rush(RushArgs),
    /// A steady mixed load for a chosen time: fans arrive evenly at
    /// `--fans-per-sec` for `--minutes`, then everything of `rush` applies.
    Soak {
        #[command(flatten)]
        rush: RushArgs,
        /// How long the soak runs.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
        /// Fans arriving per second during the soak.
        #[arg(long, default_value_t = 20.0)]
        fans_per_sec: f64,
    },
    /// Raw Lua rate against Redis and a plain PostgreSQL checkout, side by side.
    Baseline {
        /// Redis URL of the deployment.
        #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
        redis: String,
        /// PostgreSQL URL of the deployment (invariant checks and baselines).
        #[arg(long, env = "DATABASE_URL")]
        database: String,
        /// Concurrent workers.
        #[arg(long, default_value_t = 200)]
        concurrency: usize,
        /// How long to run, seconds.
        #[arg(long, default_value_t = 10)]
        seconds: u64,
        /// Also run `orders` against this sale service first and print its
        /// rate as a ratio of each baseline.
        #[arg(long)]
        sale: Option<String>,
        /// Operator API key for the `orders` run.
        #[arg(long, env = "OPERATOR_API_KEY")]
        operator_key: Option<String>,
        /// Admission signing key for the `orders` run.
        #[arg(long, env = "ADMISSION_KEY")]
        key: Option<std::path::PathBuf>,
    },
}

/// Settings of a rush (and of a soak, which sets fans and ramp itself).
#[derive(clap::Args, Clone)]
struct RushArgs {
    /// The queue service's base URL.
    #[arg(long, env = "QUEUE_URL", default_value = "http://127.0.0.1:8080")]
    pub queue: String,
    /// The sale service's base URL.
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    /// Operator API key (creates the drop).
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: String,
    /// The user-token secret both services trust (USER_JWT_SECRET).
    #[arg(long, env = "USER_JWT_SECRET")]
    pub user_secret: String,
    /// PostgreSQL URL of the deployment (invariant checks and baselines).
    #[arg(long, env = "DATABASE_URL")]
    pub database: String,
    /// Redis URL of the deployment.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Redis key prefix of the deployment (REDIS_PREFIX of the services).
    #[arg(long, env = "REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,
    /// How many live fans (each a task holding a WebSocket or polling).
    #[arg(long, default_value_t = 2000)]
    pub fans: usize,
    /// Idle fans on top: places nobody holds a connection for, joined behind
    /// the live fans through the queue's own join script straight against
    /// Redis (up to 10,000,000 and more; ~60k/s here). The report gives
    /// Redis's memory per waiting fan; the line is removed at the end.
    #[arg(long, default_value_t = 0)]
    pub idle_fans: u64,
    /// Share of fans on WebSockets (the rest poll over HTTP).
    #[arg(long, default_value_t = 0.7)]
    pub websocket_share: f64,
    /// Share of fans who leave right after joining.
    #[arg(long, default_value_t = 0.1)]
    pub abandon_share: f64,
    /// Share of buyers who pay with a good card.
    #[arg(long, default_value_t = 0.7)]
    pub pay_share: f64,
    /// Share of buyers whose card is declined (the rest let orders expire).
    #[arg(long, default_value_t = 0.1)]
    pub decline_share: f64,
    /// Units on sale.
    #[arg(long, default_value_t = 300)]
    pub stock: i64,
    /// Admission rate of the drop, fans per second.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Most shoppers admitted at once.
    #[arg(long, default_value_t = 1000)]
    pub max_active: i32,
    /// Seconds until opening: fans arriving before are drawn at random.
    #[arg(long, default_value_t = 3)]
    pub opens_in: u64,
    /// Spread arrivals over this many seconds (0: all at once).
    #[arg(long, default_value_t = 0)]
    pub ramp: u64,
    /// HTTP pollers poll this often, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// Hard bound on the run, seconds.
    #[arg(long, default_value_t = 120)]
    pub max_seconds: u64,
    /// Spread the fans' sockets over this many loopback source addresses
    /// (127.0.0.1, 127.0.0.2, …) to hold more than ~28k connections to one
    /// local node; 0 lets the system pick (needed for a remote deployment).
    #[arg(long, default_value_t = 0)]
    pub source_addresses: u8,
    /// Where report.json, report.md and report.svg go.
    #[arg(long, default_value = "loadtest/out")]
    pub out: std::path::PathBuf,
    /// Arrival curve over the ramp: `ramp` (even), `spike` (80 % in the
    /// first 5 % of it, the rest even); `--ramp 0` is all at once.
    #[arg(long, default_value = "ramp")]
    pub curve: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Orders {
            sale,
            operator_key,
            key,
            seconds,
            rate: Some(rate),
            ..
        } => orders_open_loop(
            &sale,
            &operator_key,
            &key,
            rate,
            Duration::from_secs(seconds),
        )
        .await
        .map(|_| ()),
        Command::Orders {
            sale,
            operator_key,
            key,
            concurrency,
            seconds,
            rate: None,
        } => orders(
            &sale,
            &operator_key,
            &key,
            concurrency,
            Duration::from_secs(seconds),
        )
        .await
        .map(|_| ()),
        Command::Sockets {
            queue,
            queue_pid,
            drop,
            user_secret,
            sale,
            operator_key,
            connections,
            source_addresses,
        } => {
            sockets::run(sockets::Options {
                queue,
                drop,
                user_secret,
                connections,
                queue_pid,
                sale,
                operator_key,
                source_addresses,
            })
            .await
        }
        Command::Rush(args) => rush(args).await,
        Command::Soak {
            rush: mut rush_args,
            minutes,
            fans_per_sec,
        } => {
            rush_args.ramp = minutes * 60;
            rush_args.fans = (fans_per_sec * (minutes * 60) as f64).round() as usize;
            rush_args.curve = "ramp".into();
            rush_args.max_seconds = rush_args.max_seconds.max(minutes * 60 + 120);
            rush(rush_args).await
        }
        Command::Baseline {
            redis,
            database,
            concurrency,
            seconds,
            sale,
            operator_key,
            key,
        } => {
            let run = Duration::from_secs(seconds);
            let ours = match (sale, operator_key, key) {
                (Some(sale), Some(operator_key), Some(key)) => {
                    Some(orders(&sale, &operator_key, &key, concurrency, run).await?)
                }
                (None, _, _) => None,
                _ => anyhow::bail!("--sale needs --operator-key and --key"),
            };
            let lua = baseline_lua(&redis, concurrency, run).await?;
            let pg = baseline_postgres(&database, concurrency.min(64), run).await?;
            println!("baseline reserve.lua straight against Redis: {lua:.0} orders/s");
            println!("baseline plain PostgreSQL row-lock checkout:  {pg:.0} orders/s");
            if let Some(ours) = ours {
                println!(
                    "our order path: {ours:.0} orders/s = {:.2} x the raw Lua rate, {:.1} x the plain PostgreSQL checkout",
                    ours / lua.max(1.0),
                    ours / pg.max(1.0)
                );
            }
            Ok(())
        }
    }
}

/// Counts and latencies shared by the workers of one run.
struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    latency_us: std::sync::Mutex<Histogram<u64>>,
}

impl Tally {
    fn new() -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency_us: std::sync::Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
        }))
    }

    fn record(&self, ok: bool, started: Instant) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        let micros = started.elapsed().as_micros().max(1) as u64;
        if let Ok(mut histogram) = self.latency_us.lock() {
            let _ = histogram.record(micros.min(60_000_000));
        }
    }

    fn report(&self, what: &str, elapsed: Duration) -> f64 {
        let ok = self.ok.load(Ordering::Relaxed);
        let rate = ok as f64 / elapsed.as_secs_f64();
        let failed = self.failed.load(Ordering::Relaxed);
        if let Ok(h) = self.latency_us.lock() {
            println!(
                "{what}: {ok} ok, {failed} failed in {:.1} s = {rate:.0}/s; latency ms p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
                elapsed.as_secs_f64(),
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0,
                h.value_at_quantile(0.999) as f64 / 1000.0,
                h.max() as f64 / 1000.0,
            );
        }
        rate
    }
}

/// Runs a rush and writes its report (JSON, Markdown, SVG); fails when an
/// invariant broke.
async fn rush(args: RushArgs) -> anyhow::Result<()> {
    let curve = match args.curve.as_str() {
        "ramp" => loadtest::rush::Curve::Ramp,
        "spike" => loadtest::rush::Curve::Spike,
        other => anyhow::bail!("--curve must be ramp or spike, not {other:?}"),
    };
    let report = loadtest::rush::run(loadtest::rush::RushOptions {
        queue_url: args.queue,
        sale_url: args.sale,
        operator_key: args.operator_key,
        user_secret: args.user_secret,
        database_url: args.database,
        redis_url: args.redis,
        redis_prefix: args.redis_prefix,
        fans: args.fans,
        idle_fans: args.idle_fans,
        websocket_share: args.websocket_share,
        abandon_share: args.abandon_share,
        pay_share: args.pay_share,
        decline_share: args.decline_share,
        stock: args.stock,
        rate: args.rate,
        max_active: args.max_active,
        opens_in_secs: args.opens_in,
        ramp_secs: args.ramp,
        curve,
        poll_every: Duration::from_millis(args.poll_ms.max(100)),
        max_duration: Duration::from_secs(args.max_seconds),
        source_addresses: args.source_addresses,
        show_progress: true,
    })
    .await?;
    std::fs::create_dir_all(&args.out)?;
    std::fs::write(
        args.out.join("report.json"),
        serde_json::to_string_pretty(&report)?,
    )?;
    std::fs::write(args.out.join("report.md"), report.markdown())?;
    std::fs::write(args.out.join("report.svg"), report.svg())?;
    println!("{}", report.markdown());
    anyhow::ensure!(
        report.invariants.holds(),
        "invariants broken: {}",
        report.invariants.broken.join("; ")
    );
    Ok(())
}

/// Creates a drop with ample stock for a load run; returns its id.
async fn load_drop(
    http: &reqwest::Client,
    sale: &str,
    operator_key: &str,
) -> anyhow::Result<String> {
    let drop = format!("load-{}", chrono::Utc::now().timestamp_millis());
    let created = http
        .post(format!("{sale}/api/drops"))
        .bearer_auth(operator_key)
        .json(
            &serde_json::json!({"id": drop, "name": "Load test", "stock": 100_000_000,
            "price_cents": 100, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z"}),
        )
        .send()
        .await
        .context("creating the load-test drop")?;
    anyhow::ensure!(
        created.status() == 201,
        "creating the drop: {}",
        created.status()
    );
    Ok(drop)
}

/// Offers `rate` orders per second for `run`, each from a fresh user, and
/// reports latency from each order's scheduled send time.
async fn orders_open_loop(
    sale: &str,
    operator_key: &str,
    key: &std::path::Path,
    rate: u32,
    run: Duration,
) -> anyhow::Result<f64> {
    let signer = AdmissionSigner::new(&AdmissionKeyPair::load(key)?)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(2048)
        .build()?;
    let drop = load_drop(&http, sale, operator_key).await?;
    let total = (u64::from(rate.max(1)) * run.as_secs().max(1)) as usize;
    let now = admission::unix_now();
    let tokens: Vec<String> = (0..total)
        .map(|n| {
            signer.sign(&AdmissionClaims::new(
                &format!("open-{n}"),
                &drop,
                now,
                3600,
            ))
        })
        .collect::<anyhow::Result<_>>()?;
    let tally = Tally::new()?;
    let url = format!("{sale}/api/drops/{drop}/orders");
    let started = tokio::time::Instant::now();
    let gap = Duration::from_secs_f64(1.0 / f64::from(rate.max(1)));
    let mut inflight = Vec::with_capacity(total);
    for (n, token) in tokens.into_iter().enumerate() {
        let scheduled = started + gap * n as u32;
        tokio::time::sleep_until(scheduled).await;
        let (http, tally, url) = (http.clone(), tally.clone(), url.clone());
        inflight.push(tokio::spawn(async move {
            let response = http
                .post(&url)
                .bearer_auth(token)
                .header("idempotency-key", "open")
                .header("content-type", "application/json")
                .body(r#"{"quantity":1}"#)
                .timeout(Duration::from_secs(30))
                .send()
                .await;
            tally.record(
                response.is_ok_and(|r| r.status() == 201),
                scheduled.into_std(),
            );
        }));
    }
    for task in inflight {
        task.await?;
    }
    Ok(tally.report(
        &format!("orders offered at {rate}/s (open loop)"),
        started.elapsed(),
    ))
}

async fn orders(
    sale: &str,
    operator_key: &str,
    key: &std::path::Path,
    concurrency: usize,
    run: Duration,
) -> anyhow::Result<f64> {
    let signer = AdmissionSigner::new(&AdmissionKeyPair::load(key)?)?;
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(concurrency)
        .build()?;
    let drop = format!("load-{}", chrono::Utc::now().timestamp_millis());
    let created = http
        .post(format!("{sale}/api/drops"))
        .bearer_auth(operator_key)
        .json(
            &serde_json::json!({"id": drop, "name": "Load test", "stock": 100_000_000,
            "price_cents": 100, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z"}),
        )
        .send()
        .await
        .context("creating the load-test drop")?;
    anyhow::ensure!(
        created.status() == 201,
        "creating the drop: {}",
        created.status()
    );

    // Tokens minted up front: one user per order, so the cap never refuses.
    let now = admission::unix_now();
    let per_worker = 200_000 / concurrency.max(1);
    let mut token_sets = Vec::with_capacity(concurrency);
    for w in 0..concurrency {
        let tokens: Vec<String> = (0..per_worker)
            .map(|n| {
                signer.sign(&AdmissionClaims::new(
                    &format!("w{w}-{n}"),
                    &drop,
                    now,
                    3600,
                ))
            })
            .collect::<anyhow::Result<_>>()?;
        token_sets.push(tokens);
    }
    let tally = Tally::new()?;
    let deadline = Instant::now() + run;
    let started = Instant::now();
    let mut workers = Vec::new();
    for tokens in token_sets {
        let (http, tally, url) = (
            http.clone(),
            tally.clone(),
            format!("{sale}/api/drops/{drop}/orders"),
        );
        workers.push(tokio::spawn(async move {
            for token in tokens {
                if Instant::now() >= deadline {
                    break;
                }
                let sent = Instant::now();
                let response = http
                    .post(&url)
                    .bearer_auth(token)
                    .header("idempotency-key", "load")
                    .header("content-type", "application/json")
                    .body(r#"{"quantity":1}"#)
                    .send()
                    .await;
                tally.record(response.is_ok_and(|r| r.status() == 201), sent);
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    Ok(tally.report(
        &format!("orders ({concurrency} concurrent buyers)"),
        started.elapsed(),
    ))
}

async fn baseline_lua(redis_url: &str, concurrency: usize, run: Duration) -> anyhow::Result<f64> {
    let client = redis::Client::open(redis_url)?;
    let manager = redis::aio::ConnectionManager::new(client).await?;
    let prefix = format!("baseline-{}", uuid::Uuid::new_v4().simple());
    let gate = sale::gate::StockGate::new(manager, &prefix);
    let drop = "baseline";
    gate.create(
        drop,
        &sale::gate::DropGateState {
            stock: 1_000_000_000_000,
            state: admission::contract::DropState::Open,
            opens_at_ms: 0,
            cap: 2,
            price_cents: 100,
            currency: "EUR".into(),
            timeout_secs: 3600,
            version: 1,
            epoch: 0,
            seated: false,
            hold_ms: 0,
        },
    )
    .await?;
    let tally = Tally::new()?;
    let deadline = Instant::now() + run;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (gate, tally) = (gate.clone(), tally.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let sent = Instant::now();
                let user = format!("w{w}-{n}");
                let result = gate
                    .reserve(drop, &user, 1, 1, uuid::Uuid::now_v7(), "k")
                    .await;
                tally.record(
                    matches!(result, Ok(sale::gate::Reservation::Reserved { .. })),
                    sent,
                );
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let rate = tally.report("reserve.lua against Redis", started.elapsed());
    // Clean up the baseline's keys.
    let mut conn = redis::Client::open(redis_url)?
        .get_multiplexed_async_connection()
        .await?;
    let keys = gate.keys(drop);
    let _: () = redis::cmd("DEL")
        .arg(keys.drop())
        .arg(keys.held())
        .arg(keys.reservations())
        .query_async(&mut conn)
        .await?;
    let mut cursor = 0u64;
    loop {
        let (next, found): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(format!("{prefix}:*"))
            .arg("COUNT")
            .arg(10_000)
            .query_async(&mut conn)
            .await?;
        if !found.is_empty() {
            let _: () = redis::cmd("UNLINK")
                .arg(found)
                .query_async(&mut conn)
                .await?;
        }
        if next == 0 {
            break;
        }
        cursor = next;
    }
    Ok(rate)
}

async fn baseline_postgres(
    database: &str,
    concurrency: usize,
    run: Duration,
) -> anyhow::Result<f64> {
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(concurrency as u32)
        .connect(database)
        .await?;
    let table = format!("baseline_{}", uuid::Uuid::new_v4().simple());
    sqlx::query(&format!(
        "CREATE TABLE {table}_stock (id INT PRIMARY KEY, stock BIGINT NOT NULL)"
    ))
    .execute(&db)
    .await?;
    sqlx::query(&format!(
        "CREATE TABLE {table}_orders (id UUID PRIMARY KEY, user_id TEXT NOT NULL, quantity INT NOT NULL)"
    ))
    .execute(&db)
    .await?;
    sqlx::query(&format!(
        "INSERT INTO {table}_stock VALUES (1, 1000000000000)"
    ))
    .execute(&db)
    .await?;
    let tally = Tally::new()?;
    let deadline = Instant::now() + run;
    let started = Instant::now();
    let mut workers = Vec::new();
    for w in 0..concurrency {
        let (db, tally, table) = (db.clone(), tally.clone(), table.clone());
        workers.push(tokio::spawn(async move {
            let mut n = 0u64;
            while Instant::now() < deadline {
                n += 1;
                let sent = Instant::now();
                let result: sqlx::Result<bool> = async {
                    let mut tx = db.begin().await?;
                    let updated = sqlx::query(&format!(
                        "UPDATE {table}_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1"
                    ))
                    .execute(&mut *tx)
                    .await?;
                    sqlx::query(&format!("INSERT INTO {table}_orders VALUES ($1, $2, 1)"))
                        .bind(uuid::Uuid::now_v7())
                        .bind(format!("w{w}-{n}"))
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(updated.rows_affected() == 1)
                }
                .await;
                tally.record(result.unwrap_or(false), sent);
            }
        }));
    }
    for worker in workers {
        worker.await?;
    }
    let rate = tally.report("plain PostgreSQL checkout", started.elapsed());
    sqlx::query(&format!("DROP TABLE {table}_stock, {table}_orders"))
        .execute(&db)
        .await?;
    Ok(rate)
}
