//! Invite-only and presale lines: access codes redeemed atomically (one
//! winner for a single-use code, nobody past a cap), the operator's list,
//! and a Redis that lost the access keys reloading them from PostgreSQL
//! without re-opening a used code.
#![allow(clippy::unwrap_used)]

mod common;

use admission::contract::access_code_hash;
use common::{Deployment, Node};
use futures::future::join_all;
use serde_json::Value;

async fn invite_only(deployment: &Deployment, drop: &str, mode: &str, codes: &[(&str, i32)]) {
    deployment.create_drop(drop, 100, 1.0, 100, 0).await;
    sqlx::query("INSERT INTO drop_access (drop_id, mode) VALUES ($1, $2)")
        .bind(drop)
        .bind(mode)
        .execute(&deployment.db)
        .await
        .unwrap();
    for (code, max_uses) in codes {
        sqlx::query("INSERT INTO access_codes (drop_id, code_hash, max_uses) VALUES ($1, $2, $3)")
            .bind(drop)
            .bind(access_code_hash(code))
            .bind(max_uses)
            .execute(&deployment.db)
            .await
            .unwrap();
    }
}

async fn join_with(
    node: &Node,
    deployment: &Deployment,
    drop: &str,
    user: &str,
    code: Option<&str>,
) -> (u16, Value) {
    let mut request = node
        .http
        .post(node.url(&format!("/api/drops/{drop}/queue")))
        .bearer_auth(deployment.user_token(user));
    if let Some(code) = code {
        request = request.header("x-access-code", code);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn error(answer: &(u16, Value)) -> (u16, &str) {
    (answer.0, answer.1["error"].as_str().unwrap_or(""))
}

async fn grants(deployment: &Deployment, drop: &str) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM access_grants WHERE drop_id = $1")
        .bind(drop)
        .fetch_one(&deployment.db)
        .await
        .unwrap()
}

/// Fifty fans race with one single-use code: exactly one gets in; the rest
/// are told it is used up; a fan without a code, or with a wrong one, is
/// refused; the winner joins again without the code.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_single_use_code_admits_exactly_one_of_many_racing_fans() {
    let deployment = Deployment::new().await;
    invite_only(&deployment, "vip", "code", &[("GOLD-0001", 1)]).await;
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("vip").await;

    let users: Vec<String> = (0..50).map(|n| format!("racer-{n}")).collect();
    let answers = join_all(
        users
            .iter()
            .map(|u| join_with(&node, &deployment, "vip", u, Some("gold-0001 "))),
    )
    .await;
    let winners: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
    assert_eq!(winners.len(), 1, "{answers:?}");
    for answer in answers.iter().filter(|a| a.0 != 200) {
        assert_eq!(error(answer), (409, "access_code_used_up"), "{answer:?}");
    }
    assert_eq!(grants(&deployment, "vip").await, 1);

    let nobody = join_with(&node, &deployment, "vip", "walk-in", None).await;
    assert_eq!(error(&nobody), (403, "access_required"));
    let forged = join_with(&node, &deployment, "vip", "walk-in", Some("GOLD-9999")).await;
    assert_eq!(error(&forged), (403, "invalid_access_code"));
    assert_eq!(
        grants(&deployment, "vip").await,
        1,
        "refusals change nothing"
    );

    let winner = users
        .iter()
        .zip(&answers)
        .find(|(_, a)| a.0 == 200)
        .map(|(u, _)| u.clone())
        .unwrap();
    assert_eq!(
        join_with(&node, &deployment, "vip", &winner, None).await.0,
        200
    );
}

/// A code capped at three: the fourth fan is refused; Redis then loses the
/// access keys, and the reload from PostgreSQL keeps the code used up while
/// the three keep their access. A list-only drop admits its listed user and
/// no code.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_code_past_its_cap_stays_used_up_after_a_redis_rebuild() {
    let deployment = Deployment::new().await;
    invite_only(&deployment, "presale", "code", &[("FANCLUB", 3)]).await;
    invite_only(&deployment, "listed", "list", &[("NOPE1234", 5)]).await;
    sqlx::query("INSERT INTO access_grants (drop_id, user_id) VALUES ('listed', 'member')")
        .execute(&deployment.db)
        .await
        .unwrap();
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("presale").await;
    node.knows("listed").await;

    for user in ["a", "b", "c"] {
        let answer = join_with(&node, &deployment, "presale", user, Some("FANCLUB")).await;
        assert_eq!(answer.0, 200, "{answer:?}");
    }
    let fourth = join_with(&node, &deployment, "presale", "d", Some("FANCLUB")).await;
    assert_eq!(error(&fourth), (409, "access_code_used_up"));

    let mut redis = deployment.redis().await;
    let base = format!("{}:{{presale}}", deployment.prefix);
    let _: () = redis::cmd("DEL")
        .arg(format!("{base}:access:codes"))
        .arg(format!("{base}:access:users"))
        .arg(format!("{base}:access:loaded"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let fourth = join_with(&node, &deployment, "presale", "d", Some("FANCLUB")).await;
    assert_eq!(
        error(&fourth),
        (409, "access_code_used_up"),
        "not re-opened"
    );
    assert_eq!(
        join_with(&node, &deployment, "presale", "b", None).await.0,
        200
    );
    assert_eq!(grants(&deployment, "presale").await, 3);

    assert_eq!(
        join_with(&node, &deployment, "listed", "member", None)
            .await
            .0,
        200
    );
    let coded = join_with(&node, &deployment, "listed", "other", Some("NOPE1234")).await;
    assert_eq!(
        error(&coded),
        (403, "access_required"),
        "a list-only drop takes no code"
    );
}
