//! `loadtest catalog`: a realistic catalog for the event search, loaded
//! fast, then searched at a rate.
//!
//! - [`names`]: the ingredients: cities (accents, Cyrillic, Greek, CJK,
//!   Hangul), performers from several scripts, Zipf popularity.
//! - [`load`]: the events generated (performers drawn by popularity, some
//!   festivals named after their city, a tenth with a sale) and loaded fast
//!   (parallel COPY, triggers and secondary indexes off, search rows and
//!   lexicon set-based, indexes rebuilt after).
//! - [`mix`]: the search mix at `--rate` for `--seconds` (open loop,
//!   latency from each request's planned start): popular artists, typos,
//!   city + dates, near me, big result sets with facets, deep pages,
//!   suggestions; through a running sale service (`--sale-url`) or in
//!   process (the same `sale::search` code over its own pool).
//!
//! Prints p50/p99 per kind, the CPU the run took (this process and
//! PostgreSQL's), and the sizes of the tables and indexes.

mod load;
mod mix;
mod names;

use anyhow::Context;
use rand::rngs::StdRng;
use rand::SeedableRng;
use sale::search::cache::CacheConfig;
use sale::search::pg::PgEngine;
use sale::search::Search;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// PostgreSQL, migrated by the sale service (`sale --migrate`).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    #[arg(long, default_value_t = 50_000)]
    pub venues: usize,
    #[arg(long, default_value_t = 200_000)]
    pub performers: usize,
    /// Zipf exponent of performer popularity.
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Skip generating and loading (search what is there).
    #[arg(long)]
    pub no_load: bool,
    /// Searches per second.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Most searches in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// A running sale service to search through; default: in process.
    #[arg(long)]
    pub sale_url: Option<String>,
    /// Connections of the in-process search pool.
    #[arg(long, default_value_t = 8)]
    pub search_connections: u32,
    /// Search in process without the answer cache (every search reaches
    /// PostgreSQL): the engine's own cost.
    #[arg(long)]
    pub no_cache: bool,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// utime, stime, cutime and cstime of a process, in seconds.
fn times(pid: u32) -> Option<(u32, [f64; 4])> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command's closing parenthesis: the state, then the parent
    // (4th field of the line), ..., utime is the 14th field, cstime the 17th.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let parent = fields.get(1)?.parse().ok()?;
    let mut t = [0.0; 4];
    for (i, v) in t.iter_mut().enumerate() {
        *v = fields.get(11 + i)?.parse::<f64>().ok()? / 100.0; // USER_HZ
    }
    Some((parent, t))
}

/// CPU seconds PostgreSQL has used: its postmaster (found as the parent
/// of this connection's backend; PostgreSQL on this machine), with the
/// children it has reaped, and its live children (backends, workers).
async fn postgres_cpu(db: &PgPool) -> f64 {
    let Ok(backend) = sqlx::query_scalar::<_, i32>("SELECT pg_backend_pid()")
        .fetch_one(db)
        .await
    else {
        return 0.0;
    };
    let Some((postmaster, own)) = times(backend as u32).and_then(|(p, _)| Some((p, times(p)?.1)))
    else {
        return 0.0;
    };
    let children: f64 = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(times)
        .filter(|(parent, _)| *parent == postmaster)
        .map(|(_, t)| t[0] + t[1])
        .sum();
    own.iter().sum::<f64>() + children
}

fn own_cpu() -> f64 {
    crate::procfs::cpu_time(std::process::id())
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

pub async fn main(args: Args) -> anyhow::Result<()> {
    let db = PgPoolOptions::new()
        .max_connections(4)
        // Index builds wait their turn for a connection.
        .acquire_timeout(Duration::from_secs(1800))
        .connect(&args.database_url)
        .await
        .context("connecting to PostgreSQL")?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let catalog = if args.no_load {
        load::existing(&db, &args).await?
    } else {
        load::load(&db, &args, &mut rng).await?
    };
    let target = Arc::new(match &args.sale_url {
        Some(url) => mix::Target::Http(
            reqwest::Client::new(),
            url.trim_end_matches('/').to_string(),
        ),
        None => mix::Target::InProcess(Search::with_cache(
            Arc::new(PgEngine::connect(&args.database_url, args.search_connections).await?),
            b"loadtest catalog cursor key",
            Arc::new(sale::clock::SystemClock),
            if args.no_cache {
                CacheConfig::OFF
            } else {
                CacheConfig::default()
            },
        )),
    });
    let (own, postgres) = (own_cpu(), postgres_cpu(&db).await);
    let measured = mix::run(
        target,
        &catalog,
        &mut rng,
        args.rate,
        args.seconds,
        args.concurrency,
    )
    .await;
    let (latencies, failed, elapsed) = (measured.latencies, measured.failed, measured.elapsed);
    let (own, postgres) = (own_cpu() - own, postgres_cpu(&db).await - postgres);
    let total = latencies.report().values().map(|r| r.count).sum::<u64>() + failed;
    println!(
        "{total} searches in {elapsed:.1?} ({:.0}/s), {failed} failed",
        total as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "CPU: this process {own:.1} s, PostgreSQL {postgres:.1} s: {:.2} ms per search \
         (the engine's Rust{}, and PostgreSQL)",
        (own + postgres) * 1000.0 / (total.max(1) as f64),
        if args.sale_url.is_some() {
            " is in the sale service, not counted"
        } else {
            ""
        }
    );
    let cached = measured.cache.report();
    let (hits, asked) = cached
        .values()
        .fold((0, 0), |(h, a), (hit, ask)| (h + hit, a + ask));
    println!(
        "answered from the cache: {hits} of {asked} ({:.1} %){}",
        hits as f64 * 100.0 / asked.max(1) as f64,
        if args.no_cache { " (cache off)" } else { "" }
    );
    println!("| kind | count | cached % | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|---:|");
    for (kind, r) in latencies.report() {
        let (hit, ask) = cached.get(kind.as_str()).copied().unwrap_or((0, 0));
        println!(
            "| {kind} | {} | {:.0} | {:.1} | {:.1} | {:.1} |",
            r.count,
            hit as f64 * 100.0 / ask.max(1) as f64,
            r.p50_ms,
            r.p99_ms,
            r.max_ms
        );
    }
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, pg_relation_size(c.oid) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND (c.relname IN ('events', 'venues', 'event_search', \
           'search_words', 'search_names') OR c.relname LIKE 'event_search_%' \
           OR c.relname LIKE 'search_%') AND c.relkind IN ('r', 'i') \
         ORDER BY pg_relation_size(c.oid) DESC",
    )
    .fetch_all(&db)
    .await?;
    println!("| table or index | size MiB |");
    println!("|---|---:|");
    for (name, bytes) in sizes {
        println!("| {name} | {:.1} |", bytes as f64 / (1024.0 * 1024.0));
    }
    Ok(())
}
