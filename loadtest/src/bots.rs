//! `loadtest bots`: humans and bot farms against one drop's line, with
//! proof of work on (what the queue asks for), and what it bought:
//!
//! - **humans**, each from an address (and /24) of its own, solve the
//!   proof of work "at browser speed": the number is found natively, then
//!   the fan sleeps until `hashes / --browser-mhs` has passed (0.45 MH/s
//!   is what the fan page measured in Chromium); that time is counted as
//!   the human's CPU.
//! - **(a) a farm**: many accounts behind few addresses in one /24;
//! - **(b) a spread farm**: accounts each behind an address of its own;
//! - **(c) replayers**: bots that, once in line, send their spent solution
//!   again (for themselves and for a second account) and, once admitted,
//!   offer their admission token for another account and another drop;
//! - **(d) skippers**: joins with no solution or an unsolved one.
//!
//! Bots solve natively on `--solver-threads` threads (humans do not wait
//! for those); a bot's CPU is its time spent solving (HTTP costs are left
//! out on both sides). Addresses
//! travel in `X-Forwarded-For`, so the queue must trust this machine as a
//! proxy (`TRUSTED_PROXIES=127.0.0.1`). Everyone polls until admitted; a
//! phase ends when every human is admitted and every replayer has
//! replayed, or at `--seconds`. First a
//! phase with the humans alone (their wait without bots), then the mix.
//!
//! Report: the share of admitted fans that were bots, CPU-seconds per bot
//! admission and per human admission, the humans' extra wait, and the
//! replays and skips that joined (must be 0; the run fails otherwise).
//!
//! Over 400 lines (about 560): one scenario's flags, its report and its
//! five actors, which share one `Run` and one `Tally`; split by actor, each
//! file would carry those types' plumbing for a few dozen lines of its own.

use crate::sale_api;
use admission::identity::DevIssuer;
use queue::pow::{encode, solve, Challenge, Solution};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// `loadtest bots` flags.
#[derive(clap::Args, Clone)]
pub struct Args {
    /// The queue's base URL (it must trust this machine's X-Forwarded-For).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    pub queue: String,
    /// The sale service (drops are created there).
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: String,
    /// The user-token secret the queue trusts (USER_JWT_SECRET).
    #[arg(long, env = "USER_JWT_SECRET")]
    pub user_secret: String,
    #[arg(long, default_value_t = 40)]
    pub humans: usize,
    /// (a) Accounts of the farm behind few addresses.
    #[arg(long, default_value_t = 100)]
    pub farm_accounts: usize,
    /// (a) How many addresses (one /24) the farm's accounts share.
    #[arg(long, default_value_t = 4)]
    pub farm_addresses: usize,
    /// (b) Accounts each behind an address of its own.
    #[arg(long, default_value_t = 100)]
    pub spread_accounts: usize,
    /// (c) Token and solution replayers.
    #[arg(long, default_value_t = 10)]
    pub replayers: usize,
    /// (d) Bots that skip the proof of work.
    #[arg(long, default_value_t = 20)]
    pub skippers: usize,
    /// A human's browser speed, million SHA-256 hashes per second.
    #[arg(long, default_value_t = 0.45)]
    pub browser_mhs: f64,
    /// The drop's admission rate, fans per second.
    #[arg(long, default_value_t = 20)]
    pub admit_per_sec: u32,
    /// Longest a phase runs, seconds.
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Threads the bots hash on (a human's solving does not wait for them).
    #[arg(long, default_value_t = 2)]
    pub solver_threads: usize,
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

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
enum Kind {
    Human,
    Farm,
    Spread,
    Replayer,
    Skipper,
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
    /// Humans' time from arrival to admission, seconds.
    pub human_wait_mean_s: Option<f64>,
    pub human_wait_p90_s: Option<f64>,
    pub challenges: usize,
    pub max_difficulty_seen: u64,
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
    human_cpu: f64,
    bot_cpu: f64,
    challenges: usize,
    max_difficulty: u64,
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
        sale_api::create_drop(&http, &args.sale, &args.operator_key, &body).await?;
    }
    let started = Instant::now();
    let run = Arc::new(Run {
        args: args.clone(),
        http,
        issuer: DevIssuer::new(&args.user_secret),
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
            cast.push((Kind::Spread, format!("198.19.{}.{}", n / 250, 1 + n % 250)));
        }
        for n in 0..args.replayers {
            cast.push((Kind::Replayer, format!("203.0.113.{}", 1 + n % 250)));
        }
        for n in 0..args.skippers {
            cast.push((Kind::Skipper, format!("192.0.2.{}", 1 + n % 250)));
        }
    }
    let mut tasks = Vec::new();
    for (n, (kind, address)) in cast.into_iter().enumerate() {
        let user = format!("{drop}-{kind:?}-{n}").to_lowercase();
        let fan = Fan {
            kind,
            token: run.issuer.issue(&user, false, 3600)?,
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
    let mut by_kind = std::collections::BTreeMap::new();
    for (kind, _) in tally.admitted.iter().filter(|(k, _)| *k != Kind::Human) {
        *by_kind
            .entry(format!("{kind:?}").to_lowercase())
            .or_insert(0) += 1;
    }
    let bots: usize = by_kind.values().sum();
    let per = |cpu: f64, n: usize| (n > 0).then(|| cpu / n as f64);
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
        human_cpu_s: tally.human_cpu,
        bot_cpu_s: tally.bot_cpu,
        cpu_s_per_human_admission: per(tally.human_cpu, humans),
        cpu_s_per_bot_admission: per(tally.bot_cpu, bots),
        human_wait_mean_s: (humans > 0).then(|| waits.iter().sum::<f64>() / humans as f64),
        human_wait_p90_s: waits
            .get((humans * 9).div_ceil(10).saturating_sub(1))
            .copied(),
        challenges: tally.challenges,
        max_difficulty_seen: tally.max_difficulty,
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
    fn post_join(&self, fan: &Fan, token: &str, pow: Option<&str>) -> reqwest::RequestBuilder {
        let request = self
            .http
            .post(format!("{}/api/drops/{}/queue", self.args.queue, self.drop))
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

/// Asks for a challenge, solves it (natively; a human then waits out its
/// browser's time), joins; retries what the queue asks to retry. The
/// solution it joined with (None: none was asked), or None at the deadline.
async fn enter(run: &Run, fan: &Fan) -> Option<Option<String>> {
    while !run.over() {
        let asked = run
            .http
            .get(format!(
                "{}/api/drops/{}/queue/challenge",
                run.args.queue, run.drop
            ))
            .bearer_auth(&fan.token)
            .header("x-forwarded-for", &fan.address)
            .send()
            .await;
        let body: serde_json::Value = match asked {
            Ok(response) if response.status() == 200 => response.json().await.unwrap_or_default(),
            Ok(response) if response.status() == 429 => {
                run.tally().rate_limited += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        let solution = match body["required"].as_bool() {
            Some(true) => Some(solved(run, fan, body).await?),
            _ => None,
        };
        let joined = run
            .post_join(fan, &fan.token, solution.as_deref())
            .send()
            .await;
        match joined.map(|r| r.status().as_u16()) {
            Ok(200) => return Some(solution),
            Ok(429) => {
                run.tally().rate_limited += 1;
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            _ => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
    None
}

/// Finds a challenge's number on a solver thread; counts the CPU.
async fn solved(run: &Run, fan: &Fan, body: serde_json::Value) -> Option<String> {
    let challenge: Challenge = serde_json::from_value(body).ok()?;
    {
        let mut tally = run.tally();
        tally.challenges += 1;
        tally.max_difficulty = tally.max_difficulty.max(challenge.maxnumber);
    }
    // Bots queue for the farm's solver threads; a human solves on their
    // own device, so does not wait for them.
    let slot = match fan.kind {
        Kind::Human => None,
        _ => Some(run.solvers.acquire().await.ok()?),
    };
    let (solution, spent) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        (solve(&challenge), started.elapsed())
    })
    .await
    .ok()?;
    drop(slot);
    let solution: Solution = solution?;
    if fan.kind == Kind::Human {
        // The browser's time for the same hashes, waited out.
        let browser = (solution.number + 1) as f64 / (run.args.browser_mhs * 1e6);
        run.tally().human_cpu += browser;
        if let Some(left) = Duration::try_from_secs_f64(browser)
            .ok()
            .and_then(|b| b.checked_sub(spent))
        {
            tokio::time::sleep(left).await;
        }
    } else {
        run.tally().bot_cpu += spent.as_secs_f64();
    }
    Some(encode(&solution))
}

/// Polls until admitted; the admission token, or None at the deadline.
async fn wait(run: &Run, fan: &Fan) -> Option<String> {
    let url = format!("{}/api/drops/{}/queue", run.args.queue, run.drop);
    while !run.over() {
        tokio::time::sleep(Duration::from_millis(run.args.poll_ms)).await;
        let polled = run
            .http
            .get(&url)
            .bearer_auth(&fan.token)
            .header("x-forwarded-for", &fan.address)
            .send()
            .await;
        let Ok(response) = polled else { continue };
        if response.status() == 429 {
            run.tally().rate_limited += 1;
            continue;
        }
        let body: serde_json::Value = response.json().await.unwrap_or_default();
        if body["state"] == "admitted" {
            let at = run.started.elapsed().as_secs_f64();
            run.tally().admitted.push((fan.kind, at));
            return body["admission_token"].as_str().map(str::to_string);
        }
    }
    None
}

/// (c) The spent solution sent again: for the same account, and for a
/// second account (the solution is bound to the first).
async fn replay_solution(run: &Run, fan: &Fan, solution: Option<&str>) {
    let Some(solution) = solution else { return };
    let second = match run.issuer.issue(&format!("{}-twin", fan.user), false, 3600) {
        Ok(token) => token,
        Err(_) => return,
    };
    for token in [fan.token.as_str(), second.as_str()] {
        let status = run.post_join(fan, token, Some(solution)).send().await;
        let mut tally = run.tally();
        tally.replays_tried += 1;
        if matches!(status.map(|r| r.status().as_u16()), Ok(200)) {
            tally.replays_joined += 1;
        }
    }
}

/// (c) An admission token offered for another account and at another
/// drop: an order placed with it would be a replay that joined.
async fn replay_admission(run: &Run, admission: &str) {
    let Ok(stranger) = run.issuer.issue("stranger", false, 3600) else {
        return;
    };
    for (drop, user) in [
        (&run.drop, Some(stranger.as_str())),
        (&run.other_drop, None),
    ] {
        let mut request = run
            .http
            .post(format!("{}/api/drops/{drop}/orders", run.args.sale))
            .bearer_auth(admission)
            .header("idempotency-key", uuid::Uuid::new_v4().to_string())
            .json(&serde_json::json!({"quantity": 1}));
        if let Some(user) = user {
            request = request.header("x-user-token", user);
        }
        let status = request.send().await.map(|r| r.status().as_u16());
        let mut tally = run.tally();
        tally.replays_tried += 1;
        if matches!(status, Ok(200 | 201)) {
            tally.replays_joined += 1;
        }
    }
}

/// (d) Joins with no solution, then with an unsolved one, every half
/// second until the deadline.
async fn skip(run: &Run, fan: &Fan) -> anyhow::Result<()> {
    while !run.over() {
        let body: serde_json::Value = match run
            .http
            .get(format!(
                "{}/api/drops/{}/queue/challenge",
                run.args.queue, run.drop
            ))
            .bearer_auth(&fan.token)
            .header("x-forwarded-for", &fan.address)
            .send()
            .await
        {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        if body["required"] == false {
            return Ok(()); // nothing to skip: joins of this drop need no proof
        }
        let challenge: Option<Challenge> = serde_json::from_value(body).ok();
        let guess = challenge.map(|c| {
            encode(&Solution {
                algorithm: c.algorithm,
                challenge: c.challenge,
                number: rand::random::<u64>() % c.maxnumber.max(1),
                salt: c.salt,
                signature: c.signature,
            })
        });
        for pow in [None, guess.as_deref()] {
            let status = run.post_join(fan, &fan.token, pow).send().await;
            let mut tally = run.tally();
            tally.skips_tried += 1;
            if matches!(status.map(|r| r.status().as_u16()), Ok(200)) {
                tally.skips_joined += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Ok(())
}
