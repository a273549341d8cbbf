//! `loadtest seats`: a seated sale of a generated stadium (50,000 seats by
//! default) under a crowd, two ways.
//!
//! - The whole flow (default): fans arrive on a ramp, wait in the line over
//!   WebSockets, and once admitted hold seats (hot pairs near the stage, or
//!   best available), order most holds, pay some, walk away from others
//!   (their holds lapse and the seats come back), until the sale is sold
//!   out or the time is up. Optional `--viewers` keep seat maps open and a
//!   probe measures how fast a seat taken reaches all of them.
//! - `--bench`: hold decisions only, straight at the sale with minted
//!   admission tokens, at `--rate` holds a second (open loop) or as fast as
//!   answered: decisions a second and latency per kind.
//!
//! Both end with the invariants, read from PostgreSQL and Redis
//! ([`check`]), and a JSON report in `--out`.
//!
//! - [`setup`]: the venue, the event, the seated sale, the hot seats.
//! - [`fans`]: the crowd through the waiting room.
//! - [`viewers`]: open seat maps and the propagation probe.
//! - [`bench`]: hold decisions at a rate.
//! - [`check`]: the invariants.

pub mod bench;
pub mod check;
pub mod fans;
pub mod setup;
pub mod viewers;

use crate::tally::Latencies;
use serde::Serialize;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// `loadtest seats` flags.
#[derive(clap::Args, Clone)]
pub struct Args {
    #[command(flatten)]
    pub services: crate::deployment::Services,
    /// The keys the probe and `--bench` mint admission tokens with.
    #[command(flatten)]
    pub keys: crate::tokens::MintKeys,
    #[command(flatten)]
    pub stores: crate::deployment::Stores,
    /// Seats of the generated stadium.
    #[arg(long, default_value_t = 50_000)]
    pub seats: usize,
    /// Fans through the waiting room.
    #[arg(long, default_value_t = 30_000)]
    pub fans: usize,
    /// Seconds over which fans arrive.
    #[arg(long, default_value_t = 60)]
    pub arrival_secs: u64,
    /// Share of fans asking for two chosen seats near the stage.
    #[arg(long, default_value_t = 0.3)]
    pub hot_share: f64,
    /// Share of fans who hold and walk away (the hold lapses).
    #[arg(long, default_value_t = 0.2)]
    pub abandon_share: f64,
    /// Share of orders paid.
    #[arg(long, default_value_t = 0.5)]
    pub pay_share: f64,
    /// Seats per person.
    #[arg(long, default_value_t = 4)]
    pub cap: u32,
    /// How long a hold lasts, seconds (60 at the least).
    #[arg(long, default_value_t = 60)]
    pub hold_secs: u32,
    /// Admissions a second.
    #[arg(long, default_value_t = 1000.0)]
    pub admission_rate: f64,
    /// Open seat maps following the sale's stream.
    #[arg(long, default_value_t = 0)]
    pub viewers: usize,
    /// Upper bound on the run, seconds.
    #[arg(long, default_value_t = 600)]
    pub max_seconds: u64,
    /// After the crowd, wait until every hold's time has passed, so the
    /// check also proves each lapsed hold was given back.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    pub settle: bool,
    /// Hold decisions only, straight at the sale (see the module's doc).
    #[arg(long)]
    pub bench: bool,
    /// With `--bench`: offered holds a second (open loop); without it a
    /// closed loop of `--concurrency`.
    #[arg(long)]
    pub rate: Option<u32>,
    #[arg(long, default_value_t = 200)]
    pub concurrency: usize,
    /// With `--bench`: how long, seconds.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Loopback source addresses to spread connections over.
    #[arg(long, default_value_t = 4)]
    pub source_addresses: u8,
    /// Where the JSON report goes.
    #[arg(long, default_value = "loadtest/out")]
    pub out: PathBuf,
}

/// The run's figures.
#[derive(Debug, Serialize)]
pub struct Report {
    pub drop: String,
    pub seats: usize,
    pub mode: &'static str,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub crowd: Option<fans::Counts>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decisions: Option<bench::Decisions>,
    /// Seconds from opening until no seat was free / until every seat was sold.
    pub all_taken_after: Option<f64>,
    pub all_sold_after: Option<f64>,
    pub viewers: usize,
    pub probes: u64,
    pub latencies: std::collections::BTreeMap<String, crate::tally::LatencyReport>,
    pub invariants: check::Invariants,
}

/// Watches the sale's counts once a second: when nothing was free any more,
/// and when everything was sold.
async fn watch_sell_out(
    http: reqwest::Client,
    url: String,
    opened: Instant,
    deadline: Instant,
) -> (Option<f64>, Option<f64>) {
    let (mut taken, mut sold) = (None, None);
    while Instant::now() < deadline && sold.is_none() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let Ok(response) = http.get(&url).send().await else {
            continue;
        };
        let Ok(snapshot) = response.json::<serde_json::Value>().await else {
            continue;
        };
        let states = snapshot["states"].as_str().unwrap_or("f");
        if taken.is_none() && !states.contains('f') {
            taken = Some(opened.elapsed().as_secs_f64());
        }
        if !states.contains('f') && !states.contains('h') {
            sold = Some(opened.elapsed().as_secs_f64());
        }
    }
    (taken, sold)
}

pub async fn main(args: Args) -> anyhow::Result<bool> {
    let http = crate::sale_api::client(512)?;
    let minter = Arc::new(crate::tokens::Minter::load(&args.keys)?);
    let opens_in = if args.bench { 0 } else { 5 };
    let sale = Arc::new(
        setup::create(
            &http,
            &args.services.sale,
            &args.services.operator_key,
            &setup::SaleShape {
                seats: args.seats,
                cap: if args.bench { 2 } else { args.cap },
                hold_secs: args.hold_secs.max(60),
                admission_rate: args.admission_rate,
                opens_in_secs: opens_in,
            },
        )
        .await?,
    );
    println!(
        "seated sale {} of {} seats created",
        sale.drop,
        sale.map.seat_count()
    );
    let latencies = Arc::new(Latencies::default());
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.max_seconds);
    let watch = viewers::Watch::new(latencies.clone());
    let clients = crate::connect::http_clients(args.source_addresses)?;
    let viewer_tasks = watch
        .open_viewers(&args.services.sale, &sale.drop, args.viewers, &clients)
        .await;
    let (crowd, decisions, sell_out) = if args.bench {
        let buyers = minter.buyers(&sale.drop, "bench", args.seats)?;
        let load = bench::Load {
            rate: args.rate,
            concurrency: args.concurrency,
            seconds: args.seconds,
        };
        let decisions = bench::run(
            &http,
            &args.services.sale,
            &sale,
            buyers,
            load,
            latencies.clone(),
        )
        .await;
        (None, Some(decisions), (None, None))
    } else {
        tokio::time::sleep(Duration::from_secs(opens_in as u64)).await;
        let opened = Instant::now();
        let probe = tokio::spawn(watch.clone().probe(
            args.services.sale.clone(),
            sale.clone(),
            minter.clone(),
            deadline.min(opened + Duration::from_secs(args.arrival_secs + 30)),
        ));
        let monitor = tokio::spawn(watch_sell_out(
            http.clone(),
            format!("{}/api/drops/{}/seats", args.services.sale, sale.drop),
            opened,
            deadline,
        ));
        let crowd = fans::Crowd::new(
            &args.services.sale,
            &args.services.queue,
            &args.services.user_secret,
            sale.clone(),
            fans::Behaviour {
                fans: args.fans,
                arrival: Duration::from_secs(args.arrival_secs),
                hot_share: args.hot_share,
                abandon_share: args.abandon_share,
                pay_share: args.pay_share,
                cap: args.cap,
                source_addresses: args.source_addresses,
            },
            latencies.clone(),
        )?;
        crowd.run(deadline).await;
        let _ = probe.await;
        monitor.abort();
        let sell_out = monitor.await.unwrap_or((None, None));
        (Some(crowd.counts()), None, sell_out)
    };
    let seconds = started.elapsed().as_secs_f64();
    if args.settle {
        let wait = Duration::from_secs(u64::from(args.hold_secs.max(60)) + 3);
        println!("waiting {wait:?} for every hold's time to pass");
        tokio::time::sleep(wait).await;
    }
    for viewer in viewer_tasks {
        viewer.abort();
    }
    let invariants = check::check(
        &args.stores.database,
        &args.stores.redis,
        &args.stores.redis_prefix,
        &sale,
        if args.bench { 2 } else { args.cap },
    )
    .await?;
    let report = Report {
        drop: sale.drop.clone(),
        seats: sale.map.seat_count(),
        mode: if args.bench { "bench" } else { "crowd" },
        seconds,
        crowd,
        decisions,
        all_taken_after: sell_out.0,
        all_sold_after: sell_out.1,
        viewers: args.viewers,
        probes: watch
            .probe
            .probes
            .load(std::sync::atomic::Ordering::Relaxed),
        latencies: latencies.report(),
        invariants,
    };
    println!("{}", serde_json::to_string_pretty(&report)?);
    crate::output::write_json(&args.out, "seats.json", &report)?;
    let holds = report.invariants.hold();
    println!("invariants: {}", if holds { "hold" } else { "BROKEN" });
    Ok(holds)
}
