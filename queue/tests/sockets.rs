//! Through real sockets: fans join over WebSocket on one queue node while the
//! pump runs on another, see their status, get admitted, and buy in the sale
//! service with the token; the bad-input matrix of the WebSocket and HTTP
//! endpoints.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{closed_with, connect, connect_as, next_json, until_state};
use common::{Deployment, Node};

const OPERATOR_KEY: &str = "queue-test-operator";
use futures::SinkExt;
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

/// The operator sets a drop's state through the sale API, as in production.
async fn operator_sets_state(sale: &str, drop: &str, state: &str) {
    let response = reqwest::Client::new()
        .patch(format!("{sale}/api/drops/{drop}"))
        .bearer_auth(OPERATOR_KEY)
        .json(&json!({ "state": state }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "setting {drop} {state}");
}

async fn start_sale(deployment: &Deployment) -> String {
    let mut service =
        runtime::ServiceSettings::new(deployment.database_url.clone(), common::redis_url());
    service.redis_prefix = deployment.prefix.clone();
    service.user_jwt_secret = Some(common::USER_SECRET.into());
    let config = sale::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        operator_api_key: Some(OPERATOR_KEY.into()),
        order_rate_per_user: 50,
        db_max_connections: 5,
        order_writers: 2,
        migrate: false,
        payment_webhook_secret: Some("whsec".into()),
        search_cursor_key: Some("search-cursor-key-sockets-0123456789".into()),
        sandbox_latency_ms: 50,
        sandbox_delayed_ms: 1000,
        cors_origins: "*".into(),
        ..sale::Config::new(service, deployment.jwks_file.clone())
    };
    let app = sale::App::build(config).await.unwrap();
    let base = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(async move { app.run_until(std::future::pending()).await.unwrap() });
    base
}

async fn create_drop(sale: &str, id: &str) {
    let response = reqwest::Client::new()
        .post(format!("{sale}/api/drops"))
        .bearer_auth(OPERATOR_KEY)
        .json(
            &json!({"id": id, "name": id, "stock": 10, "price_cents": 100, "currency": "EUR",
            "opens_at": "2020-01-01T00:00:00Z", "admission_rate_per_sec": 50, "max_active": 100}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
}

async fn buy(sale: &str, drop: &str, token: &str, user_token: Option<String>) -> (u16, Value) {
    let mut request = reqwest::Client::new()
        .post(format!("{sale}/api/drops/{drop}/orders"))
        .bearer_auth(token)
        .header("idempotency-key", uuid::Uuid::new_v4().to_string())
        .json(&json!({"quantity": 1}));
    if let Some(user_token) = user_token {
        request = request.header("x-user-token", user_token);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_fan_waits_is_admitted_on_another_node_and_buys() {
    let deployment = Deployment::new().await;
    let sale = start_sale(&deployment).await;
    create_drop(&sale, "e2e").await;
    create_drop(&sale, "other").await;
    let a = Node::start(&deployment, |_| {}).await;
    let mut b = Node::start(&deployment, |_| {}).await;
    a.knows("e2e").await;
    b.knows("e2e").await;

    // Alice on node A with a header; Bob as a browser would: token in the first message.
    let mut alice = connect_as(&a, &deployment, "e2e", "alice").await;
    let first = until_state(&mut alice, "waiting").await;
    assert_eq!(first["position"], 1);
    assert_eq!(first["type"], "status");
    let mut bob = connect(&a, "e2e", &[("origin", "https://fans.example".into())])
        .await
        .unwrap();
    bob.send(Message::Text(
        json!({"token": deployment.user_token("bob")})
            .to_string()
            .into(),
    ))
    .await
    .unwrap();
    let bob_first = until_state(&mut bob, "waiting").await;
    assert_eq!(bob_first["position"], 2);
    // Bob's second tab: the same place.
    let (_, tab) = a.join(&deployment, "e2e", "bob").await;
    assert_eq!(tab["position"], 2);

    // The pump runs on node B; A pushes the admissions.
    let admitted = b
        .pump_for(&deployment.clock, Duration::from_millis(100), 5)
        .await;
    assert_eq!(admitted, vec!["alice".to_string(), "bob".to_string()]);
    let alice_in = until_state(&mut alice, "admitted").await;
    let token = alice_in["admission_token"].as_str().unwrap().to_string();
    assert!(alice_in["token_expires_at"].is_string());
    until_state(&mut bob, "admitted").await;

    // Public keys are published.
    let jwks: Value = a
        .http
        .get(a.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kid"], deployment.key.kid());

    // Alice buys with her token; it works nowhere else and for no one else.
    let (status, order) = buy(&sale, "e2e", &token, Some(deployment.user_token("alice"))).await;
    assert_eq!(status, 201, "{order}");
    let (status, body) = buy(&sale, "other", &token, None).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("wrong_drop")));
    let (status, body) = buy(&sale, "e2e", &token, Some(deployment.user_token("mallory"))).await;
    assert_eq!((status, body["error"].as_str()), (403, Some("wrong_user")));

    // Reconnecting, Alice gets the same token again (from either node).
    let mut again = connect_as(&b, &deployment, "e2e", "alice").await;
    let status = until_state(&mut again, "admitted").await;
    assert_eq!(status["admission_token"].as_str(), Some(token.as_str()));

    // Leaving over the socket.
    let mut carol = connect_as(&a, &deployment, "e2e", "carol").await;
    until_state(&mut carol, "waiting").await;
    carol
        .send(Message::Text(json!({"type": "leave"}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(closed_with(&mut carol).await, Some(1000));
    let (status, _) = a.poll(&deployment, "e2e", "carol").await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bad_input_gets_a_clear_close_code_or_error_and_changes_nothing() {
    let deployment = Deployment::new().await;
    deployment.create_drop("bad", 10, 10.0, 10, 0).await;
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("bad").await;
    let alice = (
        "authorization",
        format!("Bearer {}", deployment.user_token("alice")),
    );

    assert_eq!(
        connect(
            &node,
            "bad",
            &[alice.clone(), ("origin", "https://evil.example".into())]
        )
        .await
        .err(),
        Some(403)
    );
    assert_eq!(
        connect(&node, "nope", std::slice::from_ref(&alice))
            .await
            .err(),
        Some(404)
    );
    assert_eq!(
        connect(&node, "bad", &[("authorization", "Bearer garbage".into())])
            .await
            .err(),
        Some(401)
    );
    let forged = deployment.user_token("alice").replace('.', ".x");
    assert_eq!(
        connect(
            &node,
            "bad",
            &[("authorization", format!("Bearer {forged}"))]
        )
        .await
        .err(),
        Some(401)
    );

    // No header, and a first message that is not a valid token.
    let mut socket = connect(&node, "bad", &[]).await.unwrap();
    socket.send(Message::Text("hello".into())).await.unwrap();
    assert_eq!(closed_with(&mut socket).await, Some(4401));
    let mut socket = connect(&node, "bad", &[]).await.unwrap();
    socket
        .send(Message::Text(json!({"token": "nope"}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(closed_with(&mut socket).await, Some(4401));

    // Joined: garbage gets an error message and the connection stays.
    let mut socket = connect(&node, "bad", std::slice::from_ref(&alice))
        .await
        .unwrap();
    until_state(&mut socket, "waiting").await;
    socket
        .send(Message::Text("{not json".into()))
        .await
        .unwrap();
    let error = next_json(&mut socket).await;
    assert_eq!(error["error"], "invalid_message");
    socket
        .send(Message::Binary(vec![0u8; 16].into()))
        .await
        .unwrap();
    socket
        .send(Message::Text(json!({"type": "status"}).to_string().into()))
        .await
        .unwrap();
    assert_eq!(next_json(&mut socket).await["state"], "waiting");
    // An oversized frame closes the connection (1009: message too big).
    socket
        .send(Message::Text("x".repeat(64 * 1024).into()))
        .await
        .ok();
    let code = closed_with(&mut socket).await;
    assert!(matches!(code, None | Some(1009)), "{code:?}");

    // Nothing changed: alice holds one place, nobody else joined.
    let mut redis = deployment.redis().await;
    let line: Vec<String> = redis::cmd("ZRANGE")
        .arg(format!("{}:{{bad}}:q:line", deployment.prefix))
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(line, vec!["alice".to_string()]);

    // HTTP: missing and bad tokens, unknown drop, rate limit.
    let response = node
        .http
        .post(node.url("/api/drops/bad/queue"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "invalid_token");
    let (status, body) = node.join(&deployment, "nope", "alice").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_drop"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_are_rate_limited_and_a_full_node_says_try_again() {
    let deployment = Deployment::new().await;
    deployment.create_drop("limits", 10, 10.0, 10, 0).await;
    let node = Node::start(&deployment, |c| {
        c.join_rate_per_user = 1;
        c.max_connections = 1;
    })
    .await;
    node.knows("limits").await;
    let mut limited = 0;
    for _ in 0..5 {
        let (status, body) = node.join(&deployment, "limits", "eager").await;
        if status == 429 {
            assert_eq!(body["error"], "rate_limited");
            limited += 1;
        }
    }
    assert!(limited >= 2, "per-user join limit");
    let _first = connect_as(&node, &deployment, "limits", "one").await;
    let second = connect(
        &node,
        "limits",
        &[(
            "authorization",
            format!("Bearer {}", deployment.user_token("two")),
        )],
    )
    .await;
    assert_eq!(second.err(), Some(503), "the node is full: try again");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_operator_pause_reaches_waiting_fans_at_once() {
    let deployment = Deployment::new().await;
    let sale = start_sale(&deployment).await;
    create_drop(&sale, "pause").await;
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("pause").await;
    let mut fan = connect_as(&node, &deployment, "pause", "fan").await;
    until_state(&mut fan, "waiting").await;
    // Let the catalog's periodic reload pass, so only the announcement can
    // explain a fast update.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let changed = std::time::Instant::now();
    operator_sets_state(&sale, "pause", "paused").await;
    until_state(&mut fan, "paused").await;
    let took = changed.elapsed();
    eprintln!("pause reached the fan {took:?} after the change");
    assert!(took < Duration::from_millis(500), "took {took:?}");

    // Closing: the connected fan is told at once; a fan arriving later gets
    // the closed status and a normal close, and no place.
    operator_sets_state(&sale, "pause", "closed").await;
    until_state(&mut fan, "closed").await;
    let mut late = connect_as(&node, &deployment, "pause", "late").await;
    let status = next_json(&mut late).await;
    assert_eq!(status["state"], "closed");
    assert!(status["position"].is_null());
    assert_eq!(closed_with(&mut late).await, Some(1000));
}
