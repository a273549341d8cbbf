//! A fan's way in: ask for a challenge, solve it (a bot natively, a human
//! natively and then waiting out its browser's time), join, then poll
//! until admitted.

use super::{Fan, Kind, Run};
use crate::procfs::thread_cpu_time;
use admission::contract::PowAlgorithm;
use queue::pow::{encode, encode_hard, solve, solve_fast, solve_hard, Challenge, HardChallenge};
use std::time::{Duration, Instant};

/// Asks for a challenge, solves it (natively; a human then waits out its
/// browser's time), joins; retries what the queue asks to retry. The
/// solution it joined with (None: none was asked), or None at the deadline.
pub(super) async fn enter(run: &Run, fan: &Fan) -> Option<Option<String>> {
    while !run.over() {
        let asked = run.ask_challenge(fan).await;
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

/// A challenge of either function.
enum Asked {
    Sha(Challenge),
    Hard(HardChallenge),
}

/// Finds a challenge's number (or counter) on a solver thread; counts
/// the CPU.
async fn solved(run: &Run, fan: &Fan, body: serde_json::Value) -> Option<String> {
    let challenge = match body.get("parameters") {
        Some(_) => Asked::Hard(serde_json::from_value(body).ok()?),
        None => Asked::Sha(serde_json::from_value(body).ok()?),
    };
    let difficulty = match &challenge {
        Asked::Sha(c) => c.maxnumber,
        Asked::Hard(c) => c.parameters.data.max,
    };
    {
        let mut tally = run.tally();
        tally.challenges += 1;
        tally.max_difficulty = tally.max_difficulty.max(difficulty);
        let asked = tally.asked.entry(fan.kind).or_default();
        asked.0 += difficulty;
        asked.1 += 1;
    }
    // Bots queue for the farm's solver threads; a human solves on their
    // own device, so does not wait for them.
    let slot = match fan.kind {
        Kind::Human => None,
        _ => Some(run.solvers.acquire().await.ok()?),
    };
    let plain = run.args.plain_bot_solver && fan.kind != Kind::Human;
    let (solution, spent, cpu) = tokio::task::spawn_blocking(move || {
        let started = Instant::now();
        let cpu_before = thread_cpu_time();
        // The solution, and the work in the browser's unit: hashes or keys.
        let solution = match (challenge, plain) {
            (Asked::Sha(c), true) => solve(&c).map(|s| (encode(&s), s.number + 1)),
            (Asked::Sha(c), false) => solve_fast(&c).map(|s| (encode(&s), s.number + 1)),
            (Asked::Hard(c), _) => {
                solve_hard(&c).map(|(s, keys)| (encode_hard(&s), u64::from(keys)))
            }
        };
        let spent = started.elapsed();
        // The thread's own CPU time where the kernel keeps it: on a busy
        // box the wall time also counts the other processes' turns.
        let cpu = cpu_before
            .zip(thread_cpu_time())
            .map_or(spent, |(before, after)| after.saturating_sub(before));
        (solution, spent, cpu)
    })
    .await
    .ok()?;
    drop(slot);
    let (solution, work) = solution?;
    let hard = run.args.pow_algorithm != PowAlgorithm::Sha256.as_str();
    if fan.kind == Kind::Human {
        // The browser's time for the same work, waited out.
        let browser = match hard {
            true => work as f64 * run.args.browser_argon2_ms / 1e3,
            false => work as f64 / (run.args.browser_mhs * 1e6),
        };
        *run.tally().cpu_by_kind.entry(Kind::Human).or_default() += browser;
        if let Some(left) = Duration::try_from_secs_f64(browser)
            .ok()
            .and_then(|b| b.checked_sub(spent))
        {
            tokio::time::sleep(left).await;
        }
    } else {
        *run.tally().cpu_by_kind.entry(fan.kind).or_default() += cpu.as_secs_f64();
    }
    Some(solution)
}

/// Polls until admitted; the admission token, or None at the deadline.
pub(super) async fn wait(run: &Run, fan: &Fan) -> Option<String> {
    let url = format!("{}/api/drops/{}/queue", run.args.services.queue, run.drop);
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
