//! The CAPTCHA on joining: the dev-mode sandbox verifier end to end (HTTP
//! and WebSocket joins, the fan page's settings), and the real site-verify
//! path against a tiny local verifier (passes, refusals, a timeout, a
//! garbage answer, an error status, a verifier that is not there, the
//! bound on verifications in flight). A token joins once; every refusal
//! changes nothing.
#![allow(clippy::unwrap_used)]

mod common;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use common::sockets::{closed_with, connect, until_state};
use common::{Deployment, Node};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn join(
    node: &Node,
    deployment: &Deployment,
    drop: &str,
    user: &str,
    captcha: Option<&str>,
) -> (u16, String) {
    let header = captcha.map(|value| ("x-captcha", value));
    node.join_with(deployment, drop, user, header).await
}

async fn waiting(deployment: &Deployment, drop: &str) -> u64 {
    deployment.waiting(drop).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_sandbox_passes_its_pass_token_once_and_refuses_the_rest() {
    let deployment = Deployment::new().await;
    deployment.create_drop("human", 100, 1.0, 100, 0).await;
    let node = Node::start(&deployment, |config| {
        config.service.dev = true;
        config.captcha_verify_url = Some("sandbox".into());
    })
    .await;
    node.knows("human").await;

    // Missing, failing, malformed: refused, nothing changes.
    assert_eq!(
        join(&node, &deployment, "human", "alice", None).await,
        (403, "captcha_required".into())
    );
    assert_eq!(
        join(&node, &deployment, "human", "alice", Some("sandbox-fail-1")).await,
        (403, "captcha_failed".into())
    );
    assert_eq!(
        join(&node, &deployment, "human", "alice", Some("not a token")).await,
        (400, "captcha_malformed".into())
    );
    let long = format!("sandbox-pass-{}", "x".repeat(5000));
    assert_eq!(
        join(&node, &deployment, "human", "alice", Some(&long)).await,
        (400, "captcha_malformed".into())
    );
    assert_eq!(waiting(&deployment, "human").await, 0);

    // The pass token joins, once.
    assert_eq!(
        join(
            &node,
            &deployment,
            "human",
            "alice",
            Some("sandbox-pass-a1")
        )
        .await,
        (200, String::new())
    );
    assert_eq!(
        join(&node, &deployment, "human", "bob", Some("sandbox-pass-a1")).await,
        (409, "captcha_reused".into())
    );
    assert_eq!(waiting(&deployment, "human").await, 1);

    // The WebSocket: the token in the upgrade's headers, or in the first
    // message; without one the socket closes with 4403.
    let bearer = format!("Bearer {}", deployment.user_token("carol"));
    let mut socket = connect(
        &node,
        "human",
        &[
            ("authorization", bearer),
            ("x-captcha", "sandbox-pass-c1".into()),
        ],
    )
    .await
    .unwrap();
    until_state(&mut socket, "waiting").await;
    let mut bare = common::sockets::connect_as(&node, &deployment, "human", "dave").await;
    assert_eq!(closed_with(&mut bare).await, Some(4403));
    let mut first = connect(&node, "human", &[]).await.unwrap();
    use futures::SinkExt;
    first
        .send(tokio_tungstenite::tungstenite::Message::Text(
            serde_json::json!({"token": deployment.user_token("dave"), "captcha": "sandbox-pass-d1"})
                .to_string()
                .into(),
        ))
        .await
        .unwrap();
    until_state(&mut first, "waiting").await;
    assert_eq!(waiting(&deployment, "human").await, 3);

    // The fan page is told to show the sandbox check.
    let page = node
        .http
        .get(node.url("/drops/human"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(r#""captcha":{"#), "{page}");
    assert!(page.contains(r#""sandbox":true"#), "{page}");
    node.stop();
}

#[tokio::test]
async fn the_sandbox_is_refused_outside_dev_mode() {
    let deployment = Deployment::new().await;
    let mut config = deployment.config();
    config.captcha_verify_url = Some("sandbox".into());
    assert!(queue::App::build(config).await.is_err());
    // A real verifier needs its secret.
    let mut config = deployment.config();
    config.captcha_verify_url = Some("http://verify.example/siteverify".into());
    assert!(queue::App::build(config).await.is_err());
    // And this build cannot reach one over https.
    let mut config = deployment.config();
    config.captcha_verify_url = Some("https://verify.example/siteverify".into());
    config.captcha_secret = Some("s3cret".into());
    assert!(queue::App::build(config).await.is_err());
}

/// What the local verifier saw: one form body per call.
type Seen = Arc<Mutex<Vec<String>>>;

/// A site-verify endpoint that answers by the token's prefix: `ok-` passes,
/// `no-` fails, `slow-` answers after 2 s, `junk-` answers HTML, `err-`
/// answers 500.
async fn verifier() -> (String, Seen) {
    async fn verify(State(seen): State<Seen>, body: String) -> axum::response::Response {
        seen.lock().unwrap().push(body.clone());
        let response = body
            .split('&')
            .find_map(|pair| pair.strip_prefix("response="))
            .unwrap_or("")
            .to_string();
        if !body.split('&').any(|pair| pair == "secret=s3cret") {
            return axum::Json(
                serde_json::json!({"success": false, "error-codes": ["invalid-input-secret"]}),
            )
            .into_response();
        }
        if response.starts_with("ok-") {
            axum::Json(serde_json::json!({"success": true, "hostname": "fans.example"}))
                .into_response()
        } else if response.starts_with("slow-") {
            tokio::time::sleep(Duration::from_secs(2)).await;
            axum::Json(serde_json::json!({"success": true})).into_response()
        } else if response.starts_with("junk-") {
            "<html>maintenance</html>".into_response()
        } else if response.starts_with("err-") {
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        } else {
            axum::Json(
                serde_json::json!({"success": false, "error-codes": ["invalid-input-response"]}),
            )
            .into_response()
        }
    }
    let seen = Seen::default();
    let app = axum::Router::new()
        .route("/siteverify", axum::routing::post(verify))
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/siteverify", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_real_verifier_is_asked_and_anything_but_success_refuses() {
    let deployment = Deployment::new().await;
    deployment.create_drop("verified", 100, 1.0, 100, 0).await;
    let (url, seen) = verifier().await;
    let node = Node::start(&deployment, |config| {
        config.captcha_verify_url = Some(url);
        config.captcha_secret = Some("s3cret".into());
        config.captcha_timeout_ms = 400;
    })
    .await;
    node.knows("verified").await;

    assert_eq!(
        join(&node, &deployment, "verified", "alice", Some("ok-1")).await,
        (200, String::new())
    );
    let first = seen.lock().unwrap()[0].clone();
    assert!(first.contains("secret=s3cret"), "{first}");
    assert!(first.contains("response=ok-1"), "{first}");
    assert!(first.contains("remoteip=127.0.0.1"), "{first}");
    // Spent: the verifier is not even asked again.
    assert_eq!(
        join(&node, &deployment, "verified", "bob", Some("ok-1")).await,
        (409, "captcha_reused".into())
    );
    assert_eq!(seen.lock().unwrap().len(), 1);

    assert_eq!(
        join(&node, &deployment, "verified", "bob", Some("no-1")).await,
        (403, "captcha_failed".into())
    );
    // Fail closed: a slow verifier (past the timeout), garbage, an error.
    let started = Instant::now();
    assert_eq!(
        join(&node, &deployment, "verified", "bob", Some("slow-1")).await,
        (503, "captcha_unavailable".into())
    );
    assert!(started.elapsed() < Duration::from_millis(1500));
    assert_eq!(
        join(&node, &deployment, "verified", "bob", Some("junk-1")).await,
        (503, "captcha_unavailable".into())
    );
    assert_eq!(
        join(&node, &deployment, "verified", "bob", Some("err-1")).await,
        (503, "captcha_unavailable".into())
    );
    assert_eq!(waiting(&deployment, "verified").await, 1);
    node.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verifier_not_there_or_busy_refuses_the_join() {
    let deployment = Deployment::new().await;
    deployment.create_drop("busy", 100, 1.0, 100, 0).await;
    // Nothing listens on a port just freed.
    let gone = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/siteverify", listener.local_addr().unwrap())
    };
    let node = Node::start(&deployment, |config| {
        config.captcha_verify_url = Some(gone);
        config.captcha_secret = Some("s3cret".into());
        config.captcha_timeout_ms = 400;
    })
    .await;
    node.knows("busy").await;
    assert_eq!(
        join(&node, &deployment, "busy", "alice", Some("ok-1")).await,
        (503, "captcha_unavailable".into())
    );
    node.stop();

    // One verification in flight at most: while a slow one holds the
    // slot, another join is refused at once, its token not spent (it
    // joins once the slot is free).
    let (url, _) = verifier().await;
    let node = Arc::new(
        Node::start(&deployment, |config| {
            config.captcha_verify_url = Some(url);
            config.captcha_secret = Some("s3cret".into());
            config.captcha_timeout_ms = 1000;
            config.captcha_max_concurrent = 1;
        })
        .await,
    );
    node.knows("busy").await;
    let slow = {
        let node = node.clone();
        let token = deployment.user_token("slowpoke");
        tokio::spawn(async move {
            node.http
                .post(node.url("/api/drops/busy/queue"))
                .bearer_auth(token)
                .header("x-captcha", "slow-1")
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    assert_eq!(
        join(&node, &deployment, "busy", "bob", Some("ok-2")).await,
        (503, "captcha_unavailable".into())
    );
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(slow.await.unwrap(), 503);
    assert_eq!(waiting(&deployment, "busy").await, 0);
    assert_eq!(
        join(&node, &deployment, "busy", "bob", Some("ok-2")).await,
        (200, String::new())
    );
}
