//! The operator's side of invite-only lines: access mode, codes (returned
//! once, kept as hashes in PostgreSQL and Redis), the list; bad input
//! changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use serde_json::{json, Value};

async fn call(app: &TestApp, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
    app.operator(method, path, body).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_makes_a_drop_invite_only() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    app.create_drop("inv", 10).await;

    let (status, body) = call(
        &app,
        Method::PUT,
        "/api/drops/inv/access",
        json!({"mode": "code"}),
    )
    .await;
    assert_eq!(
        (status, body["mode"].as_str()),
        (200, Some("code")),
        "{body}"
    );
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/drops/inv/access/codes",
        json!({"count": 3, "max_uses": 2}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let codes: Vec<String> = serde_json::from_value(body["codes"].clone()).unwrap();
    assert_eq!(codes.len(), 3);
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/drops/inv/access/codes",
        json!({"codes": ["presale-2026", codes[0].clone()]}),
    )
    .await;
    assert_eq!(
        (status, body["existing"].as_i64()),
        (201, Some(1)),
        "{body}"
    );
    let (status, body) = call(
        &app,
        Method::POST,
        "/api/drops/inv/access/users",
        json!({"users": ["vip-1", "vip-2"]}),
    )
    .await;
    assert_eq!((status, body["added"].as_i64()), (200, Some(2)), "{body}");

    // Stored as hashes, in PostgreSQL and Redis, with their caps.
    let stored: Vec<(String, i32)> = sqlx::query_as(
        "SELECT code_hash, max_uses FROM access_codes WHERE drop_id = 'inv' ORDER BY max_uses",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|(hash, _)| !codes.contains(hash)));
    let cap: String = redis::cmd("HGET")
        .arg(format!("{}:{{inv}}:access:codes", app.prefix))
        .arg(admission::contract::access_code_hash(&codes[1]))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert_eq!(cap, "2|0");
    let presale: String = redis::cmd("HGET")
        .arg(format!("{}:{{inv}}:access:codes", app.prefix))
        .arg(admission::contract::access_code_hash("PRESALE-2026"))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert_eq!(presale, "1|0", "single-use by default");

    for (path, body) in [
        ("/api/drops/inv/access/codes", json!({"count": 0})),
        (
            "/api/drops/inv/access/codes",
            json!({"count": 2, "codes": ["ABCDE"]}),
        ),
        (
            "/api/drops/inv/access/codes",
            json!({"count": 1, "max_uses": 0}),
        ),
        ("/api/drops/inv/access/codes", json!({"codes": ["x"]})),
        ("/api/drops/inv/access/users", json!({"users": []})),
    ] {
        let (status, answer) = call(&app, Method::POST, path, body).await;
        assert_eq!(status, 422, "{answer}");
    }
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/drops/inv/access",
        json!({"mode": "secret"}),
    )
    .await;
    assert_eq!(status, 422);
    let (status, _) = call(
        &app,
        Method::PUT,
        "/api/drops/nope/access",
        json!({"mode": "code"}),
    )
    .await;
    assert_eq!(status, 404);
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM access_codes")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 4, "refused requests changed nothing");
    let response = app
        .http
        .put(app.url("/api/drops/inv/access"))
        .bearer_auth(app.user_token("fan"))
        .json(&json!({"mode": "open"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403, "only an operator");
}

/// The per-drop switches: proof of work and CAPTCHA each on until turned
/// off, set apart from each other and from the mode; a bad value is
/// refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_switches_the_captcha_and_proof_of_work_per_drop() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    app.create_drop("calm", 10).await;
    let path = "/api/drops/calm/access";

    let (status, body) = call(&app, Method::GET, path, Value::Null).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["mode"], &body["proof_of_work"], &body["captcha"]),
        (&json!("open"), &json!(true), &json!(true)),
        "{body}"
    );
    let (status, body) = call(&app, Method::PUT, path, json!({"captcha": false})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["mode"], &body["proof_of_work"], &body["captcha"]),
        (&json!("open"), &json!(true), &json!(false)),
        "{body}"
    );
    // Another switch keeps this one.
    let (status, body) = call(
        &app,
        Method::PUT,
        path,
        json!({"proof_of_work": false, "mode": "code"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["mode"], &body["proof_of_work"], &body["captcha"]),
        (&json!("code"), &json!(false), &json!(false)),
        "{body}"
    );
    for bad in [
        json!({"captcha": "no"}),
        json!({"captcha": null, "bots": 1}),
    ] {
        let (status, answer) = call(&app, Method::PUT, path, bad).await;
        assert!((400..500).contains(&status), "{status} {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let stored: (String, bool, bool) = sqlx::query_as(
        "SELECT mode, proof_of_work, captcha FROM drop_access WHERE drop_id = 'calm'",
    )
    .fetch_one(&app.db)
    .await
    .unwrap();
    assert_eq!(stored, ("code".into(), false, false));
    let (status, body) = call(&app, Method::PUT, path, json!({"captcha": true})).await;
    assert_eq!((status, &body["captcha"]), (200, &json!(true)), "{body}");
}

/// The proof-of-work puzzle per drop: SHA-256 until an operator picks the
/// memory-hard Argon2id; a function the queue does not know is refused
/// 422 and changes nothing, and picking one keeps the other switches.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_picks_the_proof_of_work_function_per_drop() {
    use reqwest::Method;
    let app = TestApp::spawn().await;
    app.create_drop("puzzle", 10).await;
    let path = "/api/drops/puzzle/access";

    let (status, body) = call(&app, Method::GET, path, Value::Null).await;
    assert_eq!(
        (status, &body["pow_algorithm"]),
        (200, &json!("SHA-256")),
        "{body}"
    );
    let (status, body) = call(&app, Method::PUT, path, json!({"captcha": false})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(
        &app,
        Method::PUT,
        path,
        json!({"pow_algorithm": "ARGON2ID"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (
            &body["pow_algorithm"],
            &body["captcha"],
            &body["proof_of_work"]
        ),
        (&json!("ARGON2ID"), &json!(false), &json!(true)),
        "{body}"
    );
    for bad in [
        json!({"pow_algorithm": "MD5"}),
        json!({"pow_algorithm": "argon2id"}),
        json!({"pow_algorithm": ""}),
        json!({"pow_algorithm": 2}),
        json!({"pow_algorithm": "SHA-256", "scrypt": true}),
    ] {
        let (status, answer) = call(&app, Method::PUT, path, bad.clone()).await;
        assert!((400..500).contains(&status), "{bad}: {status} {answer}");
        assert!(answer["error"].is_string(), "{answer}");
    }
    let (status, answer) = call(&app, Method::PUT, path, json!({"pow_algorithm": "MD5"})).await;
    assert_eq!(
        (status, &answer["error"]),
        (422, &json!("invalid_field")),
        "{answer}"
    );
    let stored: (String, bool) =
        sqlx::query_as("SELECT pow_algorithm, captcha FROM drop_access WHERE drop_id = 'puzzle'")
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(stored, ("ARGON2ID".into(), false));
    let (status, body) = call(&app, Method::PUT, path, json!({"pow_algorithm": "SHA-256"})).await;
    assert_eq!(
        (status, &body["pow_algorithm"]),
        (200, &json!("SHA-256")),
        "{body}"
    );
}
