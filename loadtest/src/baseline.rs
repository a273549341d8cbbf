//! `loadtest baseline`: what the order path is measured against, in the same
//! run: (a) the sale service's own `reserve.lua` called straight against
//! Redis by `--concurrency` tasks (no HTTP, JSON, JWT or PostgreSQL), and
//! (b) a plain PostgreSQL checkout (one stock row,
//! `UPDATE ... WHERE stock >= n` plus an insert, one transaction per
//! order). With `--sale` the
//! `orders` closed loop runs too (with `--sale-pid`, the sale process's
//! CPU per acknowledged order) and its rate is given as a ratio of each.
//!
//! With `--sale`, ours and raw Lua take turns, `--rounds` times, each for
//! `--seconds`: on a shared virtual machine the cores' speed drifts over
//! tens of seconds (every part's CPU per order, Redis's included, moved by
//! up to 2x between two runs a minute apart), so a ratio of two rates
//! measured one after the other says as much about the drift as about the
//! code. Each round's ratio is printed, and the median of them is the
//! figure. Prints the figures and writes them to `<out>/baseline.json`.

use crate::orders::{self, OrdersResult, TargetArgs};
use crate::tally::{Tally, TallySummary};
use serde::Serialize;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// `loadtest baseline` flags.
#[derive(clap::Args)]
pub struct Args {
    /// Redis URL of the deployment.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// PostgreSQL URL of the deployment (invariant checks and baselines).
    #[arg(long, env = "DATABASE_URL")]
    pub database: String,
    /// Concurrent workers.
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// How long each run (each turn, with `--sale`) lasts, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// With `--sale`: how many turns of ours then raw Lua.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub rounds: u32,
    /// Also run `orders` against this sale service, in turns with raw
    /// Lua, and print its rate as a ratio of each baseline.
    #[arg(long)]
    pub sale: Option<String>,
    /// Operator API key for the `orders` run.
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: Option<String>,
    /// Admission signing key for the `orders` run.
    #[arg(long, env = "ADMISSION_KEY")]
    pub key: Option<PathBuf>,
    /// The admission MAC key for the `orders` run, when the deployment sets
    /// one.
    #[arg(long, env = "ADMISSION_MAC_KEY", hide_env_values = true)]
    pub mac_key: Option<String>,
    /// The sale process's id, for its CPU per acknowledged order in the
    /// `orders` run (read from /proc/PID/stat).
    #[arg(long)]
    pub sale_pid: Option<u32>,
    /// Where baseline.json goes.
    #[arg(long, default_value = "loadtest/out")]
    pub out: PathBuf,
}

/// What `loadtest baseline` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BaselineResult {
    /// The raw Lua runs, one per round (one without `--sale`).
    pub lua: Vec<TallySummary>,
    pub postgres: TallySummary,
    /// The `orders` runs, one per round, with `--sale`.
    pub ours: Vec<OrdersResult>,
    /// Each round's acknowledged orders/s over its raw Lua rate.
    pub ours_over_lua_by_round: Vec<f64>,
    /// The median of those: the figure.
    pub ours_over_lua: Option<f64>,
    /// The median of our rates over the plain PostgreSQL rate.
    pub ours_over_postgres: Option<f64>,
}

/// Runs `loadtest baseline`.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let run = Duration::from_secs(args.seconds);
    let target = match (&args.sale, &args.operator_key, &args.key) {
        (Some(sale), Some(operator_key), Some(key)) => Some(TargetArgs {
            sale: sale.clone(),
            operator_key: operator_key.clone(),
            keys: crate::tokens::MintKeys {
                key: key.clone(),
                mac_key: args.mac_key.clone(),
            },
            per_user_cap: 2,
            sale_pid: args.sale_pid,
            redis_url: Some(args.redis.clone()),
            database_url: Some(args.database.clone()),
        }),
        (None, _, _) => None,
        _ => anyhow::bail!("--sale needs --operator-key and --key"),
    };
    let (mut ours, mut lua_runs, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    let rounds = if target.is_some() { args.rounds } else { 1 };
    for round in 1..=rounds {
        let our_rate = match &target {
            Some(target) => {
                let buyers = orders::default_buyers(args.seconds, target.per_user_cap);
                let result = orders::closed_loop(target, args.concurrency, buyers, run).await?;
                let rate = result.tally.per_sec;
                ours.push(result);
                Some(rate)
            }
            None => None,
        };
        let lua_run = lua(&args.redis, args.concurrency, run).await?;
        if let Some(our_rate) = our_rate {
            let ratio = our_rate / lua_run.per_sec.max(1.0);
            println!(
                "round {round} of {rounds}: ours {our_rate:.0}/s, raw Lua {:.0}/s = {ratio:.2} x",
                lua_run.per_sec
            );
            ratios.push(ratio);
        }
        lua_runs.push(lua_run);
    }
    let pg = postgres(&args.database, args.concurrency.min(64), run).await?;
    let lua_rate = median(lua_runs.iter().map(|run| run.per_sec));
    let pg_rate = pg.per_sec;
    println!("baseline reserve.lua straight against Redis: {lua_rate:.0} orders/s (median)");
    println!("baseline plain PostgreSQL row-lock checkout:  {pg_rate:.0} orders/s");
    let ours_over_lua = (!ratios.is_empty()).then(|| median(ratios.iter().copied()));
    let ours_over_postgres =
        (!ours.is_empty()).then(|| median(ours.iter().map(|o| o.tally.per_sec)) / pg_rate.max(1.0));
    if let (Some(over_lua), Some(over_pg)) = (ours_over_lua, ours_over_postgres) {
        println!(
            "our order path: {over_lua:.2} x the raw Lua rate (the median of {} rounds), \
             {over_pg:.1} x the plain PostgreSQL checkout",
            ratios.len()
        );
    }
    let result = BaselineResult {
        lua: lua_runs,
        postgres: pg,
        ours,
        ours_over_lua_by_round: ratios,
        ours_over_lua,
        ours_over_postgres,
    };
    crate::output::write_json(&args.out, "baseline.json", &result)
}

/// The median of `values` (the mean of the middle two for an even count;
/// 0 for none).
fn median(values: impl Iterator<Item = f64>) -> f64 {
    let mut values: Vec<f64> = values.collect();
    values.sort_by(f64::total_cmp);
    match values.len() {
        0 => 0.0,
        n if n % 2 == 1 => values[n / 2],
        n => (values[n / 2 - 1] + values[n / 2]) / 2.0,
    }
}

/// `reserve.lua` straight against Redis, each call a new user; returns its
/// figures (reservations per second, latency).
pub async fn lua(
    redis_url: &str,
    concurrency: usize,
    run: Duration,
) -> anyhow::Result<TallySummary> {
    let manager = runtime::redis::connect(redis_url).await?;
    let prefix = format!("baseline-{}", uuid::Uuid::new_v4().simple());
    let gate = sale::gate::StockGate::new(manager, &prefix);
    let drop = "baseline";
    gate.create(drop, &crate::buckets::open_drop(1_000_000_000_000, 1))
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
                    .reserve(drop, &user, "jti", 1, 1, uuid::Uuid::now_v7(), "k")
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
    let keys = gate.keys(drop);
    let fixed = [keys.drop(), keys.held(), keys.reservations()];
    remove_keys(redis_url, &fixed, &prefix).await?;
    Ok(rate)
}

/// Deletes the baseline's keys: `fixed` and everything under `prefix`.
async fn remove_keys(redis_url: &str, fixed: &[String], prefix: &str) -> anyhow::Result<()> {
    let mut conn = runtime::redis::connect(redis_url).await?;
    let _: () = redis::cmd("DEL").arg(fixed).query_async(&mut conn).await?;
    // Scanned node by node on a cluster; every key carries the baseline
    // drop's hash tag, so a batch of them is one slot's.
    for batch in conn.scan_match(&format!("{prefix}:*")).await?.chunks(1000) {
        let _: () = redis::cmd("UNLINK")
            .arg(batch)
            .query_async(&mut conn)
            .await?;
    }
    Ok(())
}

/// A plain PostgreSQL checkout: one stock row, `UPDATE ... WHERE stock >= 1`
/// plus an order insert, one transaction per order; returns its figures
/// (orders per second, latency). Its tables are created for the run and
/// dropped after it.
pub async fn postgres(
    database: &str,
    concurrency: usize,
    run: Duration,
) -> anyhow::Result<TallySummary> {
    let db = sqlx::postgres::PgPoolOptions::new()
        .max_connections(concurrency as u32)
        .connect(database)
        .await?;
    let table = format!("baseline_{}", uuid::Uuid::new_v4().simple());
    for statement in [
        format!("CREATE TABLE {table}_stock (id INT PRIMARY KEY, stock BIGINT NOT NULL)"),
        format!("CREATE TABLE {table}_orders (id UUID PRIMARY KEY, user_id TEXT NOT NULL, quantity INT NOT NULL)"),
        format!("INSERT INTO {table}_stock VALUES (1, 1000000000000)"),
    ] {
        sqlx::query(&statement).execute(&db).await?;
    }
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
                let ok = checkout(&db, &table, &format!("w{w}-{n}")).await;
                tally.record(ok.unwrap_or(false), sent);
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

/// One plain checkout of one unit for `user`; whether a unit was left.
async fn checkout(db: &sqlx::PgPool, table: &str, user: &str) -> sqlx::Result<bool> {
    let mut tx = db.begin().await?;
    let updated = sqlx::query(&format!(
        "UPDATE {table}_stock SET stock = stock - 1 WHERE id = 1 AND stock >= 1"
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query(&format!("INSERT INTO {table}_orders VALUES ($1, $2, 1)"))
        .bind(uuid::Uuid::now_v7())
        .bind(user)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(updated.rows_affected() == 1)
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_is_the_middle_value_or_the_mean_of_the_middle_two() {
        assert_eq!(median([0.41, 0.31, 0.38].into_iter()), 0.38);
        assert_eq!(median([0.4, 0.3, 0.2, 0.5].into_iter()), 0.35);
        assert_eq!(median(std::iter::empty()), 0.0);
    }
}
