//! The bots that try to get in without paying: (c) replayers, who send a
//! spent solution again and offer their admission token for another
//! account and another drop, and (d) skippers, who join with no solution
//! or a guessed one. Each try that joined is counted (must be 0).

use super::{Fan, Run};
use queue::pow::{encode, encode_hard, Challenge, Found, HardChallenge, HardSolution, Solution};
use std::time::Duration;

/// (c) The spent solution sent again: for the same account, and for a
/// second account (the solution is bound to the first).
pub(super) async fn replay_solution(run: &Run, fan: &Fan, solution: Option<&str>) {
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
pub(super) async fn replay_admission(run: &Run, admission: &str) {
    let Ok(stranger) = run.issuer.issue("stranger", false, 3600) else {
        return;
    };
    for (drop, user) in [
        (&run.drop, Some(stranger.as_str())),
        (&run.other_drop, None),
    ] {
        let mut request = run
            .http
            .post(format!(
                "{}/api/drops/{drop}/orders",
                run.args.services.sale
            ))
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
pub(super) async fn skip(run: &Run, fan: &Fan) -> anyhow::Result<()> {
    while !run.over() {
        let body: serde_json::Value = match run.ask_challenge(fan).await {
            Ok(response) => response.json().await.unwrap_or_default(),
            Err(_) => serde_json::Value::Null,
        };
        if body["required"] == false {
            return Ok(()); // nothing to skip: joins of this drop need no proof
        }
        let guess = if let Ok(hard) = serde_json::from_value::<HardChallenge>(body.clone()) {
            // A memory-hard challenge: a made-up key (with the published
            // prefix) for a made-up counter.
            let key = format!("{:0<64}", hard.parameters.key_prefix);
            Some(encode_hard(&HardSolution {
                challenge: hard,
                solution: Found {
                    counter: rand::random::<u32>() % 64,
                    derived_key: key,
                },
            }))
        } else {
            let challenge: Option<Challenge> = serde_json::from_value(body).ok();
            challenge.map(|c| {
                encode(&Solution {
                    algorithm: c.algorithm,
                    challenge: c.challenge,
                    number: rand::random::<u64>() % c.maxnumber.max(1),
                    salt: c.salt,
                    signature: c.signature,
                })
            })
        };
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
