//! Proof of work on joining: a solved challenge joins once; missing,
//! malformed, forged, expired, other-drop, other-user, reused and
//! wrong-difficulty solutions get a 4xx and change nothing; a drop the
//! operator exempted needs none; the WebSocket takes the solution in its
//! upgrade headers; a drop whose operator chose the memory-hard function
//! (Argon2id) asks for it and refuses the other one; a young account is
//! asked for more work.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{closed_with, connect, until_state};
use common::{Deployment, Node};
use queue::pow::{
    encode, encode_hard, solve, solve_hard, Argon2Cost, Challenge, Challenger, HardChallenge,
};
use serde_json::Value;
use std::time::Duration;

const KEY: &str = "test-pow-key-0123456789abcdef0123456789";
const BASE: u64 = 2_000;

async fn challenge(node: &Node, deployment: &Deployment, drop: &str, user: &str) -> Value {
    node.http
        .get(node.url(&format!("/api/drops/{drop}/queue/challenge")))
        .bearer_auth(deployment.user_token(user))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A join's refusal as [`join`] gives it: the status and the error code.
fn refused(status: u16, code: &str) -> (u16, String) {
    (status, code.to_string())
}

async fn solved(node: &Node, deployment: &Deployment, drop: &str, user: &str) -> String {
    let body = challenge(node, deployment, drop, user).await;
    assert_eq!(body["required"], true, "{body}");
    let challenge: Challenge = serde_json::from_value(body).unwrap();
    encode(&solve(&challenge).unwrap())
}

async fn join(
    node: &Node,
    deployment: &Deployment,
    drop: &str,
    user: &str,
    pow: Option<&str>,
) -> (u16, String) {
    let header = pow.map(|value| ("x-pow", value));
    node.join_with(deployment, drop, user, header).await
}

async fn waiting(deployment: &Deployment, drop: &str) -> u64 {
    deployment.waiting(drop).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_solved_challenge_joins_once_and_every_bad_one_changes_nothing() {
    let deployment = Deployment::new().await;
    deployment.create_drop("pow", 100, 1.0, 100, 0).await;
    deployment.create_drop("pow2", 100, 1.0, 100, 0).await;
    let node = Node::start(&deployment, |config| {
        config.pow_base_maxnumber = BASE;
        config.pow_key = Some(KEY.into());
        config.join_rate_per_user = 100;
    })
    .await;
    node.knows("pow").await;
    node.knows("pow2").await;

    let good = solved(&node, &deployment, "pow", "alice").await;
    assert_eq!(
        join(&node, &deployment, "pow", "alice", Some(&good)).await,
        (200, String::new())
    );
    assert_eq!(waiting(&deployment, "pow").await, 1);

    assert_eq!(
        join(&node, &deployment, "pow", "alice", Some(&good)).await,
        refused(409, "pow_reused")
    );
    assert_eq!(
        join(&node, &deployment, "pow", "bob", None).await,
        refused(403, "pow_required")
    );
    assert_eq!(
        join(&node, &deployment, "pow", "bob", Some("!!!")).await,
        refused(400, "pow_malformed")
    );
    assert_eq!(
        join(&node, &deployment, "pow", "bob", Some(&good)).await,
        refused(403, "pow_other_drop")
    );
    let bobs = solved(&node, &deployment, "pow", "bob").await;
    assert_eq!(
        join(&node, &deployment, "pow2", "bob", Some(&bobs)).await,
        refused(403, "pow_other_drop")
    );
    let now = deployment.clock.now().timestamp() as u64;
    let other_key = Challenger::new(
        b"another-key-0123456789abcdef0123456",
        BASE,
        Duration::from_secs(60),
    );
    let forged = encode(&solve(&other_key.challenge("pow", "bob", BASE, now)).unwrap());
    assert_eq!(
        join(&node, &deployment, "pow", "bob", Some(&forged)).await,
        refused(403, "pow_forged")
    );
    let ours = Challenger::new(KEY.as_bytes(), BASE, Duration::from_secs(60));
    let easy = encode(&solve(&ours.challenge("pow", "bob", 10, now)).unwrap());
    assert_eq!(
        join(&node, &deployment, "pow", "bob", Some(&easy)).await,
        refused(403, "pow_wrong_difficulty")
    );
    deployment.clock.advance(Duration::from_secs(121));
    assert_eq!(
        join(&node, &deployment, "pow", "bob", Some(&bobs)).await,
        refused(403, "pow_expired")
    );
    assert_eq!(waiting(&deployment, "pow").await, 1, "nothing changed");
    assert_eq!(waiting(&deployment, "pow2").await, 0);

    // The WebSocket: the solution in the upgrade's headers (a browser sends
    // it in its first message, next to the token).
    let fresh = solved(&node, &deployment, "pow", "carol").await;
    let bearer = format!("Bearer {}", deployment.user_token("carol"));
    let mut socket = connect(
        &node,
        "pow",
        &[("authorization", bearer.clone()), ("x-pow", fresh.clone())],
    )
    .await
    .unwrap();
    until_state(&mut socket, "waiting").await;
    let mut replayed = connect(&node, "pow", &[("authorization", bearer), ("x-pow", fresh)])
        .await
        .unwrap();
    assert_eq!(closed_with(&mut replayed).await, Some(4403));
}

/// A drop the operator exempted: no challenge, no solution needed.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_exempted_drop_needs_no_proof_of_work() {
    let deployment = Deployment::new().await;
    deployment.create_drop("free", 100, 1.0, 100, 0).await;
    sqlx::query("INSERT INTO drop_access (drop_id, proof_of_work) VALUES ('free', false)")
        .execute(&deployment.db)
        .await
        .unwrap();
    let node = Node::start(&deployment, |config| config.pow_base_maxnumber = BASE).await;
    node.knows("free").await;
    assert_eq!(
        challenge(&node, &deployment, "free", "dan").await["required"],
        false
    );
    assert_eq!(join(&node, &deployment, "free", "dan", None).await.0, 200);
}

/// A drop whose operator chose Argon2id: its challenge is PoW v2's, a
/// native solution joins once; a SHA-256 solution, another drop's, a
/// forged, a cheaper or a replayed one is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_memory_hard_drop_asks_for_argon2id_and_refuses_the_rest() {
    let deployment = Deployment::new().await;
    deployment.create_drop("hard", 100, 1.0, 100, 0).await;
    deployment.create_drop("hard2", 100, 1.0, 100, 0).await;
    sqlx::query(
        "INSERT INTO drop_access (drop_id, pow_algorithm) VALUES ('hard', 'ARGON2ID'), ('hard2', 'ARGON2ID')",
    )
    .execute(&deployment.db)
    .await
    .unwrap();
    // A cheap cost: a debug build derives slowly.
    let cost = Argon2Cost {
        iterations: 1,
        memory_kib: 256,
        base_max: 4,
    };
    let node = Node::start(&deployment, |config| {
        config.pow_base_maxnumber = BASE;
        config.pow_key = Some(KEY.into());
        config.join_rate_per_user = 100;
        config.pow_argon2_memory_kib = cost.memory_kib;
        config.pow_argon2_iterations = cost.iterations;
        config.pow_argon2_base_maxcounter = cost.base_max;
    })
    .await;
    node.knows("hard").await;
    node.knows("hard2").await;
    let hard = |body: Value| {
        assert_eq!(body["required"], true, "{body}");
        assert_eq!(body["parameters"]["algorithm"], "ARGON2ID", "{body}");
        assert_eq!(body["parameters"]["memoryCost"], 256, "{body}");
        let challenge: HardChallenge =
            serde_json::from_value(body).unwrap_or_else(|e| panic!("{e}"));
        encode_hard(&solve_hard(&challenge).unwrap().0)
    };
    let good = hard(challenge(&node, &deployment, "hard", "alice").await);
    assert_eq!(
        join(&node, &deployment, "hard", "alice", Some(&good)).await,
        (200, String::new())
    );
    assert_eq!(
        join(&node, &deployment, "hard", "alice", Some(&good)).await,
        refused(409, "pow_reused")
    );
    assert_eq!(
        join(&node, &deployment, "hard", "bob", None).await,
        refused(403, "pow_required")
    );
    let now = deployment.clock.now().timestamp() as u64;
    let ours = Challenger::new(KEY.as_bytes(), BASE, Duration::from_secs(60));
    let sha = encode(&solve(&ours.challenge("hard", "bob", BASE, now)).unwrap());
    assert_eq!(
        join(&node, &deployment, "hard", "bob", Some(&sha)).await,
        refused(403, "pow_wrong_algorithm")
    );
    let bobs2 = hard(challenge(&node, &deployment, "hard2", "bob").await);
    assert_eq!(
        join(&node, &deployment, "hard", "bob", Some(&bobs2)).await,
        refused(403, "pow_other_drop")
    );
    let other_key = Challenger::new(
        b"another-key-0123456789abcdef0123456",
        BASE,
        Duration::from_secs(60),
    )
    .with_argon2(cost);
    let forged = encode_hard(
        &solve_hard(&other_key.hard_challenge("hard", "bob", 4, now).unwrap())
            .unwrap()
            .0,
    );
    assert_eq!(
        join(&node, &deployment, "hard", "bob", Some(&forged)).await,
        refused(403, "pow_forged")
    );
    let cheaper = ours.clone().with_argon2(Argon2Cost {
        memory_kib: 8,
        ..cost
    });
    let cheap = encode_hard(
        &solve_hard(&cheaper.hard_challenge("hard", "bob", 4, now).unwrap())
            .unwrap()
            .0,
    );
    assert_eq!(
        join(&node, &deployment, "hard", "bob", Some(&cheap)).await,
        refused(403, "pow_wrong_difficulty")
    );
    assert_eq!(waiting(&deployment, "hard").await, 1, "nothing changed");
    // A SHA-256 drop refuses an Argon2id solution the same way.
    deployment.create_drop("light", 100, 1.0, 100, 0).await;
    node.knows("light").await;
    let hards = hard(challenge(&node, &deployment, "hard", "carol").await);
    assert_eq!(
        join(&node, &deployment, "light", "carol", Some(&hards)).await,
        refused(403, "pow_wrong_algorithm")
    );
    assert_eq!(waiting(&deployment, "light").await, 0);
}

/// How fast the difficulty rises is the operator's (`POW_DROP_KNEE`,
/// `POW_NETWORK_KNEE`): with the drop's knee at 1 challenge a second,
/// 30 fans asking within a second meet several times the base, where the
/// default knee (200 a second) leaves them at it.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_operator_sets_the_join_rates_at_which_the_difficulty_rises() {
    let deployment = Deployment::new().await;
    deployment.create_drop("steep", 100, 1.0, 100, 0).await;
    let start = |drop_knee: u64| {
        Node::start(&deployment, move |config| {
            config.pow_base_maxnumber = BASE;
            config.pow_heat_share_ms = 0;
            config.pow_drop_knee = drop_knee;
            config.pow_network_knee = 1_000_000;
            config.join_rate_per_ip = 1_000;
            config.join_rate_per_network = 1_000;
        })
    };
    for (drop_knee, rises) in [(200, false), (1, true)] {
        let node = start(drop_knee).await;
        node.knows("steep").await;
        let mut last = 0;
        for i in 0..30 {
            let body = challenge(&node, &deployment, "steep", &format!("fan{i}")).await;
            last = body["maxnumber"].as_u64().unwrap_or(0);
        }
        if rises {
            assert!(last >= 4 * BASE, "knee 1: {last}");
        } else {
            assert_eq!(last, BASE, "knee 200");
        }
    }
}

/// A young account (the user token's `account_created_at` within
/// `POW_NEW_ACCOUNT_DAYS`) is asked `POW_NEW_ACCOUNT_FACTOR` times the
/// difficulty, by either function; an old account, and a token that does
/// not say, the base; with the factor at 1 nobody pays more. A young
/// account's solution joins.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_young_account_is_asked_for_more_work() {
    const DAY: u64 = 86_400;
    let deployment = Deployment::new().await;
    deployment.create_drop("light", 100, 1.0, 100, 0).await;
    deployment.create_drop("hard", 100, 1.0, 100, 0).await;
    sqlx::query("INSERT INTO drop_access (drop_id, pow_algorithm) VALUES ('hard', 'ARGON2ID')")
        .execute(&deployment.db)
        .await
        .unwrap();
    let start = |factor: u64| {
        Node::start(&deployment, move |config| {
            config.pow_base_maxnumber = BASE;
            config.pow_key = Some(KEY.into());
            config.pow_argon2_memory_kib = 256;
            config.pow_argon2_base_maxcounter = 4;
            config.pow_new_account_days = 30;
            config.pow_new_account_factor = factor;
        })
    };
    let now = deployment.clock.now().timestamp() as u64;
    let asked = |node: &Node, drop: &str, user: &str, created: Option<u64>| {
        let token = match created {
            Some(at) => deployment.aged_user_token(user, at),
            None => deployment.user_token(user),
        };
        let request = node
            .http
            .get(node.url(&format!("/api/drops/{drop}/queue/challenge")))
            .bearer_auth(token);
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let max = |body: &Value| {
        body["maxnumber"]
            .as_u64()
            .or_else(|| body["parameters"]["data"]["max"].as_u64())
            .unwrap_or_else(|| panic!("no difficulty in {body}"))
    };

    let node = start(4).await;
    node.knows("light").await;
    node.knows("hard").await;
    let young = Some(now - DAY);
    let old = Some(now - 400 * DAY);
    assert_eq!(max(&asked(&node, "light", "old", old).await), BASE);
    assert_eq!(max(&asked(&node, "light", "unsaid", None).await), BASE);
    let body = asked(&node, "light", "young", young).await;
    assert_eq!(max(&body), 4 * BASE);
    assert_eq!(max(&asked(&node, "hard", "old", old).await), 4);
    assert_eq!(max(&asked(&node, "hard", "young", young).await), 16);

    let challenge: Challenge = serde_json::from_value(body).unwrap();
    let solution = encode(&solve(&challenge).unwrap());
    assert_eq!(
        join(&node, &deployment, "light", "young", Some(&solution)).await,
        (200, String::new())
    );

    let off = start(1).await;
    off.knows("light").await;
    assert_eq!(max(&asked(&off, "light", "young2", young).await), BASE);
}
