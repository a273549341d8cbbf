//! The order path against real Redis and PostgreSQL: races for the last units,
//! idempotent retries, and the token and bad-input matrices.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod common;

use common::TestApp;
use futures::future::join_all;
use serde_json::json;
use std::collections::HashMap;

/// 500 buyers race for the last 100 units: some ask 2, some repeat a request,
/// some are one user on several connections. Exactly 100 are sold, nobody
/// holds more than the cap, and PostgreSQL and Redis agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_buyers_race_for_the_last_hundred_units() {
    let app = TestApp::spawn().await;
    app.create_drop("race", 100).await;
    let mut attempts = Vec::new();
    for n in 0..500 {
        // 350 distinct users; users 0..150 appear on two connections at once.
        let user = format!("fan-{}", n % 350);
        let quantity = if n % 3 == 0 { 2 } else { 1 };
        // Every 10th attempt repeats the key of the attempt before it.
        let key = if n % 10 == 9 {
            format!("k-{}", n - 1)
        } else {
            format!("k-{n}")
        };
        let token = app.admit(&user, "race");
        attempts.push((user, quantity, key, token));
    }
    let bodies: Vec<String> = attempts
        .iter()
        .map(|(_, q, _, _)| format!(r#"{{"quantity": {q}}}"#))
        .collect();
    let results = join_all(
        attempts
            .iter()
            .zip(&bodies)
            .map(|((_, _, key, token), body)| app.place(token, key, body)),
    )
    .await;

    let mut acknowledged = HashMap::new();
    for ((user, _, _, _), (status, body)) in attempts.iter().zip(&results) {
        match status {
            201 | 200 => {
                assert_eq!(body["user_id"], user.as_str());
                acknowledged.insert(
                    body["id"].as_str().unwrap().to_string(),
                    body["quantity"].as_i64().unwrap(),
                );
            }
            409 => assert!(
                ["sold_out", "cap_exceeded"].contains(&body["error"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let (pg_units, per_user) = app.pg_holdings("race").await;
    assert_eq!(pg_units, 100, "exactly the stock is sold");
    assert!(
        per_user.iter().all(|(_, n)| *n <= 2),
        "nobody over the cap: {per_user:?}"
    );
    assert_eq!(app.redis_sold("race").await, 100, "Redis agrees");
    assert_eq!(app.pg_held_column("race").await, 100, "drops.held agrees");
    assert_eq!(
        acknowledged.values().sum::<i64>(),
        100,
        "every acknowledged unit is recorded"
    );
    for id in acknowledged.keys() {
        let found: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert_eq!(found, 1, "acknowledged order {id} is in PostgreSQL");
    }
    app.stop().await;
}

/// The same Idempotency-Key sent 20 times at once gives one order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_retries_make_one_order() {
    let app = TestApp::spawn().await;
    app.create_drop("idem", 10).await;
    let token = app.admit("alice", "idem");
    let results =
        join_all((0..20).map(|_| app.place(&token, "same-key", r#"{"quantity": 2}"#))).await;
    let ids: std::collections::HashSet<_> = results
        .iter()
        .map(|(_, body)| body["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|(s, _)| *s == 201).count(), 1);
    assert!(results.iter().all(|(s, _)| *s == 201 || *s == 200));
    assert_eq!(app.order_count().await, 1);
    assert_eq!(app.redis_sold("idem").await, 2);
    // The same key with another body is refused and changes nothing.
    let (status, body) = app.place(&token, "same-key", r#"{"quantity": 1}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (422, Some("invalid_quantity"))
    );
    assert_eq!(app.order_count().await, 1);
    app.stop().await;
}

/// Bad tokens: each a clear 4xx with its code, and nothing changes.
#[tokio::test]
async fn the_token_matrix() {
    use admission::keys::AdmissionKeyPair;
    use admission::token::{AdmissionClaims, AdmissionSigner, MacKey};
    use base64::Engine;
    let app = TestApp::spawn().await;
    app.create_drop("tok", 10).await;
    app.create_drop("other", 10).await;
    let b64 = |v: &serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let claims = common::claims("alice", "tok");
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": app.key.kid()})),
        b64(&serde_json::to_value(&claims).unwrap())
    );
    let foreign = AdmissionSigner::new(&AdmissionKeyPair::generate())
        .unwrap()
        .sign(&claims)
        .unwrap();
    // A forger's key with a MAC under a guessed MAC key.
    let guessed_mac = AdmissionSigner::new(&AdmissionKeyPair::generate())
        .unwrap()
        .with_mac(Some(
            MacKey::new("a-guess-at-the-admission-mac-key-000").unwrap(),
        ))
        .sign(&claims)
        .unwrap();
    let expired = app
        .signer
        .sign(&AdmissionClaims::new(
            "alice",
            "tok",
            common::now() - 7200,
            600,
        ))
        .unwrap();
    let other_drop = app.admit("alice", "other");
    let good = app.admit("alice", "tok");
    let body = r#"{"quantity": 1}"#;

    let cases: Vec<(&str, Option<String>, Option<String>, u16, &str)> = vec![
        ("missing", None, None, 401, "invalid_token"),
        (
            "garbled",
            Some("abc.def.ghi".into()),
            None,
            401,
            "invalid_token",
        ),
        (
            "not a jwt",
            Some("hello".into()),
            None,
            401,
            "invalid_token",
        ),
        ("alg none", Some(unsigned), None, 401, "invalid_token"),
        ("wrong key", Some(foreign), None, 401, "invalid_token"),
        ("guessed mac", Some(guessed_mac), None, 401, "invalid_token"),
        ("expired", Some(expired), None, 401, "invalid_token"),
        ("other drop", Some(other_drop), None, 403, "wrong_drop"),
        (
            "user token as admission",
            Some(app.user_token("alice")),
            None,
            401,
            "invalid_token",
        ),
        (
            "other user",
            Some(good.clone()),
            Some(app.user_token("mallory")),
            403,
            "wrong_user",
        ),
        (
            "bad user token",
            Some(good.clone()),
            Some("junk".into()),
            401,
            "invalid_token",
        ),
    ];
    for (name, token, user_token, status, code) in cases {
        let mut request = app
            .http
            .post(app.url("/api/drops/tok/orders"))
            .header("idempotency-key", format!("k-{}", name.replace(' ', "-")))
            .header("content-type", "application/json")
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(user_token) = user_token {
            request = request.header("x-user-token", user_token);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status().as_u16(), status, "{name}");
        let body: serde_json::Value = response.json().await.unwrap();
        assert_eq!(body["error"], code, "{name}: {body}");
        assert!(body["message"].is_string(), "{name}");
    }
    assert_eq!(app.order_count().await, 0, "nothing recorded");
    assert_eq!(app.redis_sold("tok").await, 0, "nothing reserved");
    // The matching user token is accepted.
    let response = app
        .http
        .post(app.url("/api/drops/tok/orders"))
        .bearer_auth(&good)
        .header("x-user-token", app.user_token("alice"))
        .header("idempotency-key", "ok")
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    // A token without the MAC (`admission mint` without a MAC key, another
    // issuer with our signing key) is checked by its signature and buys.
    let plain = AdmissionSigner::new(&app.key)
        .unwrap()
        .sign(&common::claims("bob", "tok"))
        .unwrap();
    let response = app
        .http
        .post(app.url("/api/drops/tok/orders"))
        .bearer_auth(&plain)
        .header("idempotency-key", "plain")
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    app.stop().await;
}

/// Bad input: each a clear error code, and nothing changes.
#[tokio::test]
async fn the_bad_input_matrix() {
    let app = TestApp::spawn().await;
    app.create_drop("bad", 10).await;
    let token = app.admit("alice", "bad");
    let huge = format!(r#"{{"quantity": 1, "pad": "{}"}}"#, "x".repeat(100_000));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("zero", r#"{"quantity": 0}"#.into(), 422, "invalid_quantity"),
        (
            "three",
            r#"{"quantity": 3}"#.into(),
            422,
            "invalid_quantity",
        ),
        (
            "negative",
            r#"{"quantity": -1}"#.into(),
            422,
            "invalid_quantity",
        ),
        (
            "word",
            r#"{"quantity": "two"}"#.into(),
            422,
            "invalid_quantity",
        ),
        (
            "fraction",
            r#"{"quantity": 1.5}"#.into(),
            422,
            "invalid_quantity",
        ),
        (
            "huge number",
            r#"{"quantity": 1000000000000}"#.into(),
            422,
            "invalid_quantity",
        ),
        ("missing", r#"{}"#.into(), 422, "invalid_quantity"),
        ("not json", "quantity=1".into(), 400, "invalid_json"),
        ("empty", String::new(), 400, "invalid_json"),
        ("huge body", huge, 413, "payload_too_large"),
    ];
    for (name, body, status, code) in cases {
        let (got, reply) = app
            .place(&token, &format!("k-{}", name.replace(' ', "-")), &body)
            .await;
        assert_eq!(
            (got, reply["error"].as_str()),
            (status, Some(code)),
            "{name}: {reply}"
        );
    }
    // Unknown drop (with a token for it) and a missing Idempotency-Key.
    let ghost = app.admit("alice", "no-such-drop");
    let (status, reply) = app.place(&ghost, "k", r#"{"quantity": 1}"#).await;
    assert_eq!(
        (status, reply["error"].as_str()),
        (404, Some("unknown_drop"))
    );
    let response = app
        .http
        .post(app.url("/api/drops/bad/orders"))
        .bearer_auth(&token)
        .json(&json!({"quantity": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.order_count().await, 0);
    assert_eq!(app.redis_sold("bad").await, 0);
    app.stop().await;
}

/// Cap, sold out, paused, not open, cancel returning stock.
#[tokio::test]
async fn drop_rules_and_cancel() {
    let app = TestApp::spawn().await;
    app.create_drop("rules", 3).await;
    let alice = app.admit("alice", "rules");
    assert_eq!(app.place(&alice, "a1", r#"{"quantity": 2}"#).await.0, 201);
    let (status, body) = app.place(&alice, "a2", r#"{"quantity": 1}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("cap_exceeded"))
    );
    let bob = app.admit("bob", "rules");
    let (status, bob_order) = app.place(&bob, "b1", r#"{"quantity": 1}"#).await;
    assert_eq!(status, 201);
    let carol = app.admit("carol", "rules");
    let (status, body) = app.place(&carol, "c1", r#"{"quantity": 1}"#).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("sold_out")));

    // Bob cancels: his unit goes back and Carol can buy it.
    let id = bob_order["id"].as_str().unwrap();
    assert_eq!(app.cancel("bob", id).await, 200);
    assert_eq!(
        app.cancel("bob", id).await,
        409,
        "cancelling twice is a conflict"
    );
    assert_eq!(app.cancel("mallory", id).await, 404);
    assert_eq!(app.redis_sold("rules").await, 2);
    assert_eq!(app.place(&carol, "c2", r#"{"quantity": 1}"#).await.0, 201);

    // Pause, then a drop that has not opened.
    let patch = app
        .http
        .patch(app.url("/api/drops/rules"))
        .bearer_auth(common::OPERATOR_KEY)
        .json(&json!({"state": "paused", "add_stock": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(patch.status(), 200);
    let dave = app.admit("dave", "rules");
    let (status, body) = app.place(&dave, "d1", r#"{"quantity": 1}"#).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("paused")));
    app.create_drop_with(json!({
        "id": "later", "name": "Later", "stock": 5, "price_cents": 100, "currency": "EUR",
        "opens_at": "2999-01-01T00:00:00Z"
    }))
    .await;
    let (status, body) = app
        .place(&app.admit("dave", "later"), "d2", r#"{"quantity": 1}"#)
        .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("not_open")));

    // Stats add up.
    let stats: serde_json::Value = app
        .http
        .get(app.url("/api/drops/rules/stats"))
        .bearer_auth(common::OPERATOR_KEY)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["stock"], 8);
    assert_eq!(stats["reserved"], 3);
    assert_eq!(stats["remaining"], 5);
    assert_eq!(stats["pending"]["units"], 3);
    assert_eq!(stats["cancelled"]["orders"], 1);
    app.stop().await;
}

/// Operator endpoints refuse fans, and bad drop definitions are 422.
#[tokio::test]
async fn operator_endpoints_are_guarded_and_validated() {
    let app = TestApp::spawn().await;
    let body = json!({"id": "x", "name": "X", "stock": 1, "price_cents": 1, "currency": "EUR",
                      "opens_at": "2020-01-01T00:00:00Z"});
    let fan = app
        .http
        .post(app.url("/api/drops"))
        .bearer_auth(app.user_token("fan"))
        .json(&body);
    assert_eq!(fan.send().await.unwrap().status(), 403);
    let nobody = app.http.post(app.url("/api/drops")).json(&body);
    assert_eq!(nobody.send().await.unwrap().status(), 401);
    for bad in [
        json!({"id": "Bad Id", "name": "X", "stock": 1, "price_cents": 1, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z"}),
        json!({"id": "x", "name": "X", "stock": -1, "price_cents": 1, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z"}),
        json!({"id": "x", "name": "X", "stock": 1, "price_cents": 1, "currency": "euro", "opens_at": "2020-01-01T00:00:00Z"}),
        json!({"id": "x", "name": "X", "stock": 1, "price_cents": 1, "currency": "EUR", "opens_at": "tomorrow"}),
        json!({"id": "x", "name": "X", "stock": 1, "price_cents": 1, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z", "per_user_cap": 0}),
        json!({"id": "x", "name": "X", "stock": 1, "price_cents": 1, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z", "surprise": 1}),
    ] {
        let response = app
            .http
            .post(app.url("/api/drops"))
            .bearer_auth(common::OPERATOR_KEY)
            .json(&bad)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{bad}");
        let reply: serde_json::Value = response.json().await.unwrap();
        assert!(reply["error"].is_string());
    }
    let drops: serde_json::Value = app
        .http
        .get(app.url("/api/drops"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(drops.as_array().unwrap().len(), 0, "nothing created");
    app.stop().await;
}

/// Redis loses the drop (FLUSHALL): the next order rebuilds it from PostgreSQL
/// with every holding, so the cap and the stock still hold.
#[tokio::test]
async fn a_drop_lost_from_redis_is_rebuilt_from_postgres() {
    let app = TestApp::spawn().await;
    app.create_drop("lost", 3).await;
    assert_eq!(
        app.place(&app.admit("alice", "lost"), "a", r#"{"quantity": 2}"#)
            .await
            .0,
        201
    );
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:*", app.prefix))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    let (status, body) = app
        .place(&app.admit("alice", "lost"), "a2", r#"{"quantity": 1}"#)
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("cap_exceeded")),
        "alice's holding survived"
    );
    assert_eq!(
        app.place(&app.admit("bob", "lost"), "b", r#"{"quantity": 1}"#)
            .await
            .0,
        201
    );
    let (status, body) = app
        .place(&app.admit("carol", "lost"), "c", r#"{"quantity": 1}"#)
        .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("sold_out")));
    assert_eq!(app.pg_holdings("lost").await.0, 3);
    app.stop().await;
}
