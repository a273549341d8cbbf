//! `loadtest bots`: humans and bot farms against one drop's line, with
//! proof of work on (what the queue asks for), and what it bought:
//!
//! - **humans**, each from an address (and /24) of its own, solve the
//!   proof of work "at browser speed": the number is found natively, then
//!   the fan sleeps until `hashes / --browser-mhs` has passed; that time
//!   is counted as the human's CPU (the default is the fan page's
//!   WebAssembly SIMD solver as measured in Chromium, README "Bot
//!   defence").
//! - **(a) a farm**: many accounts behind few addresses in one /24;
//! - **(b) a spread farm**: accounts each behind an address in a /24 of
//!   its own (up to 4,000);
//! - **(c) replayers**: bots that, once in line, send their spent solution
//!   again (for themselves and for a second account) and, once admitted,
//!   offer their admission token for another account and another drop;
//! - **(d) skippers**: joins with no solution or an unsolved one.
//!
//! Every fan's user token says when its account was made, as the site's
//! identity provider would: the humans' `--human-account-days` ago (400),
//! the bots' `--bot-account-days` (1: a farm's accounts are young unless it
//! aged or bought them; the queue asks a young account for
//! `POW_NEW_ACCOUNT_FACTOR` times the work).
//!
//! `--pow-algorithm ARGON2ID` sets both drops to the memory-hard function
//! (ALTCHA PoW v2's Argon2id, as an operator would): humans then wait out
//! `--browser-argon2-ms` per key derived (the fan page's hash-wasm worker
//! in Chromium), bots derive natively (`queue::pow::solve_hard`, RustCrypto's
//! Argon2id, one block of memory reused).
//!
//! Bots solve natively on `--solver-threads` threads (humans do not wait
//! for those) with the tuned solver a farm would run
//! (`queue::pow::solve_fast`: the salt hashed once, SHA-NI where the CPU
//! has it; `--plain-bot-solver` for the plain one); a bot's CPU is its
//! solver thread's CPU time while solving (`CLOCK_THREAD_CPUTIME_ID`;
//! the wall time where that clock cannot be read), so a busy box does
//! not inflate it; HTTP costs are left out on both sides. Addresses
//! travel in `X-Forwarded-For`, so the queue must trust this machine as a
//! proxy (`TRUSTED_PROXIES=127.0.0.1`). Everyone polls until admitted; a
//! phase ends when every human is admitted and every replayer has
//! replayed, or at `--seconds`. First a
//! phase with the humans alone (their wait without bots), then the mix.
//!
//! Report: the share of admitted fans that were bots, CPU-seconds per bot
//! admission and per human admission (and per admission of each kind),
//! the humans' extra wait, and the
//! replays and skips that joined (must be 0; the run fails otherwise).
//!
//! The parts: this file (flags, the cast, the phases, the report),
//! `join` (asking, solving, joining, waiting to be admitted) and `replay`
//! (replayers and skippers).

mod join;
mod replay;

use crate::sale_api;
use admission::contract::PowAlgorithm;
use admission::identity::DevIssuer;
use join::{enter, wait};
use replay::{replay_admission, replay_solution, skip};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// `loadtest bots` flags.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// The deployment (its queue must trust this machine's
    /// X-Forwarded-For; drops are created on its sale service).
    #[command(flatten)]
    pub services: crate::deployment::Services,
    #[arg(long, default_value_t = 40)]
    pub humans: usize,
    /// (a) Accounts of the farm behind few addresses.
    #[arg(long, default_value_t = 100)]
    pub farm_accounts: usize,
    /// (a) How many addresses (one /24) the farm's accounts share.
    #[arg(long, default_value_t = 4)]
    pub farm_addresses: usize,
    /// (b) Accounts each behind an address in a /24 of its own.
    #[arg(long, default_value_t = 100)]
    pub spread_accounts: usize,
    /// (c) Token and solution replayers.
    #[arg(long, default_value_t = 10)]
    pub replayers: usize,
    /// (d) Bots that skip the proof of work.
    #[arg(long, default_value_t = 20)]
    pub skippers: usize,
    /// A human's browser speed, million SHA-256 hashes per second (the fan
    /// page's WebAssembly SIMD worker in Chromium on the 2-core
    /// development machine: 4.5-5.7).
    #[arg(long, default_value_t = 5.0)]
    pub browser_mhs: f64,
    /// The drops' proof-of-work function: SHA-256 or ARGON2ID (the
    /// memory-hard one).
    #[arg(long, default_value = "SHA-256")]
    pub pow_algorithm: String,
    /// A human's browser time per Argon2id key, milliseconds, at the
    /// queue's POW_ARGON2_MEMORY_KIB (the fan page's worker in Chromium,
    /// `node web/tests/pow-bench.mjs --argon2`).
    #[arg(long, default_value_t = 110.0)]
    pub browser_argon2_ms: f64,
    /// How old the humans' accounts are, days (the user token's
    /// `account_created_at`, as the site's identity provider would say).
    #[arg(long, default_value_t = 400)]
    pub human_account_days: u64,
    /// How old the bots' accounts are, days: a farm's are young unless it
    /// bought or aged them (the queue asks accounts younger than its
    /// POW_NEW_ACCOUNT_DAYS for POW_NEW_ACCOUNT_FACTOR times the work).
    #[arg(long, default_value_t = 1)]
    pub bot_account_days: u64,
    /// The drop's admission rate, fans per second.
    #[arg(long, default_value_t = 20)]
    pub admit_per_sec: u32,
    /// Longest a phase runs, seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Threads the bots hash on (a human's solving does not wait for them).
    #[arg(long, default_value_t = 2)]
    pub solver_threads: usize,
    /// Bots solve with the plain solver (a hex string per try) instead of
    /// the tuned one a farm would run.
    #[arg(long)]
    pub plain_bot_solver: bool,
    /// How often a fan in line polls its status, milliseconds.
    #[arg(long, default_value_t = 700)]
    pub poll_ms: u64,
    /// Skip the humans-only phase (no extra wait reported).
    #[arg(long)]
    pub no_baseline: bool,
    /// Where bots.json goes.
    #[arg(long, default_value = "loadtest/out")]
    pub out: std::path::PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Human,
    Farm,
    Spread,
    Replayer,
    Skipper,
}

impl Kind {
    /// Its name in the report.
    fn name(self) -> &'static str {
        match self {
            Self::Human => "human",
            Self::Farm => "farm",
            Self::Spread => "spread",
            Self::Replayer => "replayer",
            Self::Skipper => "skipper",
        }
    }
}

/// What one phase saw.
#[derive(Debug, Default, Clone, Serialize)]
pub struct Phase {
    pub drop: String,
    pub seconds: f64,
    pub humans_admitted: usize,
    pub bots_admitted: usize,
    /// Admitted bots by kind (farm, spread, replayer, skipper).
    pub bots_admitted_by_kind: std::collections::BTreeMap<String, usize>,
    /// Bots among the admitted, 0..1.
    pub bot_share: f64,
    pub human_cpu_s: f64,
    pub bot_cpu_s: f64,
    pub cpu_s_per_human_admission: Option<f64>,
    pub cpu_s_per_bot_admission: Option<f64>,
    /// Solving time per admission of each kind (human: browser time).
    pub cpu_s_per_admission_by_kind: std::collections::BTreeMap<String, f64>,
    /// Humans' time from arrival to admission, seconds.
    pub human_wait_mean_s: Option<f64>,
    pub human_wait_p90_s: Option<f64>,
    pub challenges: usize,
    pub max_difficulty_seen: u64,
    /// The mean difficulty (`maxnumber`) each kind of fan was asked.
    pub mean_maxnumber_by_kind: std::collections::BTreeMap<String, u64>,
    pub rate_limited: usize,
    pub replays_tried: usize,
    pub replays_joined: usize,
    pub skips_tried: usize,
    pub skips_joined: usize,
}

/// What `loadtest bots` measured.
#[derive(Debug, Clone, Serialize)]
pub struct BotsResult {
    pub humans_alone: Option<Phase>,
    pub mixed: Phase,
    /// The humans' mean wait with the bots minus without, seconds.
    pub human_extra_wait_s: Option<f64>,
}

#[derive(Default)]
struct Tally {
    admitted: Vec<(Kind, f64)>,
    /// Per kind: the solving time (a human's: browser time), seconds.
    cpu_by_kind: std::collections::BTreeMap<Kind, f64>,
    challenges: usize,
    max_difficulty: u64,
    /// Per kind: the sum of the difficulties asked, and how many.
    asked: std::collections::BTreeMap<Kind, (u64, u64)>,
    rate_limited: usize,
    replays_tried: usize,
    replays_joined: usize,
    skips_tried: usize,
    skips_joined: usize,
}

struct Run {
    args: Args,
    http: reqwest::Client,
    issuer: DevIssuer,
    drop: String,
    other_drop: String,
    solvers: Semaphore,
    started: Instant,
    deadline: Instant,
    tally: Mutex<Tally>,
}

struct Fan {
    kind: Kind,
    user: String,
    token: String,
    address: String,
}

/// Runs the phases and prints the report; fails when a replay or a skip
/// joined.
pub async fn main(args: Args) -> anyhow::Result<()> {
    let result = run(args.clone()).await?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    crate::output::write_json(&args.out, "bots.json", &result)?;
    let mixed = &result.mixed;
    anyhow::ensure!(
        mixed.replays_joined == 0 && mixed.skips_joined == 0,
        "{} replays and {} skips joined",
        mixed.replays_joined,
        mixed.skips_joined
    );
    Ok(())
}

/// The humans-only phase (unless `--no-baseline`), then the mix.
pub async fn run(args: Args) -> anyhow::Result<BotsResult> {
    let stamp = chrono::Utc::now().timestamp_millis();
    let humans_alone = match args.no_baseline {
        true => None,
        false => Some(phase(&args, &format!("bots-base-{stamp}"), false).await?),
    };
    let mixed = phase(&args, &format!("bots-mix-{stamp}"), true).await?;
    let human_extra_wait_s = match (&humans_alone, mixed.human_wait_mean_s) {
        (Some(alone), Some(with)) => alone.human_wait_mean_s.map(|a| with - a),
        _ => None,
    };
    Ok(BotsResult {
        humans_alone,
        mixed,
        human_extra_wait_s,
    })
}

async fn phase(args: &Args, drop: &str, bots: bool) -> anyhow::Result<Phase> {
    let http = sale_api::client(512)?;
    let fans = args.humans + args.farm_accounts + args.spread_accounts + args.replayers;
    for id in [drop.to_string(), format!("{drop}-other")] {
        let body = serde_json::json!({"id": id, "name": "Bot defence", "stock": (fans * 2).max(10),
            "price_cents": 100, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z",
            "per_user_cap": 2, "admission_rate_per_sec": args.admit_per_sec, "max_active": 1_000_000});
        sale_api::create_drop(
            &http,
            &args.services.sale,
            &args.services.operator_key,
            &body,
        )
        .await?;
        if args.pow_algorithm != PowAlgorithm::Sha256.as_str() {
            sale_api::set_access(
                &http,
                &args.services.sale,
                &args.services.operator_key,
                &id,
                &serde_json::json!({"pow_algorithm": args.pow_algorithm}),
            )
            .await?;
        }
    }
    if args.pow_algorithm != PowAlgorithm::Sha256.as_str() {
        // Every queue node reloads a drop's settings within a second.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }
    let started = Instant::now();
    let run = Arc::new(Run {
        args: args.clone(),
        http,
        issuer: DevIssuer::new(&args.services.user_secret),
        drop: drop.to_string(),
        other_drop: format!("{drop}-other"),
        solvers: Semaphore::new(args.solver_threads.max(1)),
        started,
        deadline: started + Duration::from_secs(args.seconds),
        tally: Mutex::default(),
    });
    let mut cast = Vec::new();
    for n in 0..args.humans {
        // Each human behind an address of its own, in a /24 of its own.
        cast.push((Kind::Human, format!("100.{}.{}.7", 64 + n / 250, n % 250)));
    }
    if bots {
        for n in 0..args.farm_accounts {
            cast.push((
                Kind::Farm,
                format!("198.18.0.{}", 1 + n % args.farm_addresses.max(1)),
            ));
        }
        for n in 0..args.spread_accounts {
            // Each behind an address in a /24 of its own (residential
            // proxies): the per-network difficulty never sees two of them.
            cast.push((
                Kind::Spread,
                format!("172.{}.{}.9", 16 + (n / 250) % 16, n % 250),
            ));
        }
        for n in 0..args.replayers {
            cast.push((Kind::Replayer, format!("203.0.113.{}", 1 + n % 250)));
        }
        for n in 0..args.skippers {
            cast.push((Kind::Skipper, format!("192.0.2.{}", 1 + n % 250)));
        }
    }
    let mut tasks = Vec::new();
    let now = admission::unix_now();
    for (n, (kind, address)) in cast.into_iter().enumerate() {
        let user = format!("{drop}-{}-{n}", kind.name());
        let days = match kind {
            Kind::Human => args.human_account_days,
            _ => args.bot_account_days,
        };
        let created_at = now.saturating_sub(days.saturating_mul(86_400));
        let fan = Fan {
            kind,
            token: run.issuer.issue_for(&user, false, 3600, Some(created_at))?,
            user,
            address,
        };
        tasks.push((kind, tokio::spawn(play(run.clone(), fan))));
    }
    // The phase ends when every human is admitted and every replayer has
    // replayed, or at the deadline.
    let mut bots_left = Vec::new();
    for (kind, task) in tasks {
        match kind {
            Kind::Human | Kind::Replayer => task.await??,
            _ => bots_left.push(task),
        }
    }
    let seconds = run.started.elapsed().as_secs_f64();
    for task in bots_left {
        task.abort();
    }
    Ok(report(&run, seconds))
}

fn report(run: &Run, seconds: f64) -> Phase {
    let tally = run.tally.lock().unwrap_or_else(|e| e.into_inner());
    let mut waits: Vec<f64> = tally
        .admitted
        .iter()
        .filter(|(kind, _)| *kind == Kind::Human)
        .map(|(_, at)| *at)
        .collect();
    waits.sort_by(f64::total_cmp);
    let humans = waits.len();
    let mut admitted = std::collections::BTreeMap::new();
    for (kind, _) in &tally.admitted {
        *admitted.entry(*kind).or_insert(0) += 1;
    }
    let bots = tally.admitted.len() - humans;
    let per = |cpu: f64, n: usize| (n > 0).then(|| cpu / n as f64);
    let human_cpu = tally.cpu_by_kind.get(&Kind::Human).copied().unwrap_or(0.0);
    let bot_cpu: f64 = tally.cpu_by_kind.values().sum::<f64>() - human_cpu;
    let cpu_per_kind = tally
        .cpu_by_kind
        .iter()
        .filter_map(|(kind, cpu)| {
            per(*cpu, admitted.get(kind).copied().unwrap_or(0))
                .map(|each| (kind.name().to_string(), each))
        })
        .collect();
    let by_kind = admitted
        .iter()
        .filter(|(kind, _)| **kind != Kind::Human)
        .map(|(kind, n)| (kind.name().to_string(), *n))
        .collect();
    Phase {
        drop: run.drop.clone(),
        seconds,
        humans_admitted: humans,
        bots_admitted: bots,
        bots_admitted_by_kind: by_kind,
        bot_share: if humans + bots > 0 {
            bots as f64 / (humans + bots) as f64
        } else {
            0.0
        },
        human_cpu_s: human_cpu,
        bot_cpu_s: bot_cpu,
        cpu_s_per_human_admission: per(human_cpu, humans),
        cpu_s_per_bot_admission: per(bot_cpu, bots),
        cpu_s_per_admission_by_kind: cpu_per_kind,
        human_wait_mean_s: (humans > 0).then(|| waits.iter().sum::<f64>() / humans as f64),
        human_wait_p90_s: waits
            .get((humans * 9).div_ceil(10).saturating_sub(1))
            .copied(),
        challenges: tally.challenges,
        max_difficulty_seen: tally.max_difficulty,
        mean_maxnumber_by_kind: tally
            .asked
            .iter()
            .map(|(kind, (sum, n))| (kind.name().to_string(), sum / (*n).max(1)))
            .collect(),
        rate_limited: tally.rate_limited,
        replays_tried: tally.replays_tried,
        replays_joined: tally.replays_joined,
        skips_tried: tally.skips_tried,
        skips_joined: tally.skips_joined,
    }
}

/// One fan's life: join (as its kind does), then wait until admitted.
async fn play(run: Arc<Run>, fan: Fan) -> anyhow::Result<()> {
    if fan.kind == Kind::Skipper {
        return skip(&run, &fan).await;
    }
    let Some(solution) = enter(&run, &fan).await else {
        return Ok(());
    };
    if fan.kind == Kind::Replayer {
        replay_solution(&run, &fan, solution.as_deref()).await;
    }
    let Some(admission) = wait(&run, &fan).await else {
        return Ok(());
    };
    if fan.kind == Kind::Replayer {
        replay_admission(&run, &admission).await;
    }
    Ok(())
}

impl Run {
    /// Asks the queue for a join challenge as `fan`, from its address.
    async fn ask_challenge(&self, fan: &Fan) -> reqwest::Result<reqwest::Response> {
        self.http
            .get(format!(
                "{}/api/drops/{}/queue/challenge",
                self.args.services.queue, self.drop
            ))
            .bearer_auth(&fan.token)
            .header("x-forwarded-for", &fan.address)
            .send()
            .await
    }

    fn post_join(&self, fan: &Fan, token: &str, pow: Option<&str>) -> reqwest::RequestBuilder {
        let request = self
            .http
            .post(format!(
                "{}/api/drops/{}/queue",
                self.args.services.queue, self.drop
            ))
            .bearer_auth(token)
            .header("x-forwarded-for", &fan.address);
        match pow {
            Some(pow) => request.header("x-pow", pow),
            None => request,
        }
    }

    fn tally(&self) -> std::sync::MutexGuard<'_, Tally> {
        self.tally.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn over(&self) -> bool {
        Instant::now() >= self.deadline
    }
}
