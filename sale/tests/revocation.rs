//! Bot defence on the order path: revoked users and admission tokens never
//! buy (checked inside the reserve script), a revoked user's pending orders
//! are cancelled with their stock returned exactly once, and a drop rebuilt
//! into Redis keeps its revocations.
#![allow(clippy::unwrap_used)]

mod common;

use common::{claims, TestApp, OPERATOR_KEY};
use futures::future::join_all;
use serde_json::{json, Value};

async fn revoke(app: &TestApp, body: Value) -> (u16, Value) {
    app.operator(reqwest::Method::POST, "/api/revocations", body)
        .await
}

fn one() -> String {
    r#"{"quantity":1}"#.into()
}

/// 200 valid buyers race with a revoked token (sent 20 times, each with a
/// fresh key) and a revoked user's valid token: neither ever buys, every
/// valid buyer does, and Redis and PostgreSQL agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_token_in_a_burst_of_valid_ones_never_buys() {
    let app = TestApp::spawn().await;
    app.create_drop("burst", 1_000).await;
    let mut stolen = claims("mallory", "burst");
    stolen.jti = "stolen-jti".into();
    let stolen = app.signer.sign(&stolen).unwrap();
    let (status, body) = revoke(&app, json!({"drop": "burst", "jti": "stolen-jti"})).await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = revoke(&app, json!({"user": "scalper", "reason": "farm"})).await;
    assert_eq!(status, 201, "{body}");
    let scalper = app.admit("scalper", "burst");

    let mut requests: Vec<(String, String, bool)> = (0..200)
        .map(|n| {
            (
                app.admit(&format!("fan-{n}"), "burst"),
                format!("k{n}"),
                true,
            )
        })
        .collect();
    for n in 0..20 {
        let at = n * 10 + 5;
        requests.insert(at, (stolen.clone(), format!("s{n}"), false));
        requests.insert(at + 1, (scalper.clone(), format!("c{n}"), false));
    }
    let body = one();
    let answers = join_all(
        requests
            .iter()
            .map(|(token, key, _)| app.place(token, key, &body)),
    )
    .await;
    for ((_, _, valid), (status, body)) in requests.iter().zip(&answers) {
        if *valid {
            assert_eq!(*status, 201, "{body}");
        } else {
            assert_eq!(
                (*status, body["error"].as_str()),
                (403, Some("revoked")),
                "{body}"
            );
        }
    }
    let revoked_orders: i64 =
        sqlx::query_scalar("SELECT count(*) FROM orders WHERE user_id IN ('mallory', 'scalper')")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(revoked_orders, 0);
    assert_eq!(app.redis_sold("burst").await, 200);
    assert_eq!(app.pg_held_column("burst").await, 200);

    // Another token of mallory (a new admission) still buys: only the one
    // token was revoked.
    let (status, body) = app
        .place(&app.admit("mallory", "burst"), "m2", &one())
        .await;
    assert_eq!(status, 201, "{body}");
}

/// Revoking alice cancels her pending order and returns its units once (a
/// second revocation and a release of the same order return nothing more); she cannot buy again, even after Redis lost the
/// drop and it was rebuilt; lifted, she can.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revoking_a_user_cancels_pending_orders_and_returns_stock_once() {
    let app = TestApp::spawn().await;
    app.create_drop("once", 10).await;
    let (status, alice_order) = app
        .place(&app.admit("alice", "once"), "a1", r#"{"quantity":2}"#)
        .await;
    assert_eq!(status, 201, "{alice_order}");
    assert_eq!(
        app.place(&app.admit("bob", "once"), "b1", &one()).await.0,
        201
    );
    assert_eq!(app.redis_sold("once").await, 3);

    let (status, body) = revoke(&app, json!({"user": "alice"})).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["orders_cancelled"], 1, "{body}");
    assert_eq!(
        app.redis_sold("once").await,
        1,
        "alice's two units are back"
    );
    assert_eq!(app.pg_held_column("once").await, 1);
    let order = app
        .order("alice", alice_order["id"].as_str().unwrap())
        .await;
    assert_eq!(order["status"], "cancelled", "{order}");

    let (_, again) = revoke(&app, json!({"user": "alice"})).await;
    assert_eq!(again["orders_cancelled"], 0, "{again}");
    let order_id = alice_order["id"].as_str().unwrap().parse().unwrap();
    assert!(!app.sale.gate.release("once", order_id, None).await.unwrap());
    assert_eq!(app.redis_sold("once").await, 1, "returned exactly once");

    let (status, body) = app.place(&app.admit("alice", "once"), "a2", &one()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("revoked")),
        "{body}"
    );

    // Redis loses the drop (and its revocations): the rebuild restores both.
    let _: () = redis::cmd("DEL")
        .arg(format!("{}:{{once}}:drop", app.prefix))
        .arg(format!("{}:{{once}}:revoked:users", app.prefix))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    let (status, body) = app.place(&app.admit("alice", "once"), "a3", &one()).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("revoked")),
        "{body}"
    );
    assert_eq!(app.redis_sold("once").await, 1);

    // Bad input changes nothing.
    assert_eq!(revoke(&app, json!({"user": ""})).await.0, 422);
    assert_eq!(revoke(&app, json!({"jti": "x"})).await.0, 422);
    assert_eq!(
        revoke(&app, json!({"drop": "nope", "jti": "x"})).await.0,
        404
    );
    let response = app
        .http
        .post(app.url("/api/revocations"))
        .bearer_auth(app.user_token("alice"))
        .json(&json!({"user": "bob"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "only an operator revokes");

    let response = app
        .http
        .delete(app.url("/api/revocations/users/alice"))
        .bearer_auth(OPERATOR_KEY)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        app.place(&app.admit("alice", "once"), "a4", &one()).await.0,
        201
    );
}
