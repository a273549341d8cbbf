//! The CAPTCHA on joining: the dev-mode sandbox verifier end to end (HTTP
//! and WebSocket joins, the fan page's settings), and the real site-verify
//! path against a tiny local verifier (passes, refusals, a timeout, a
//! garbage answer, an error status, a verifier that is not there, the
//! bound on verifications in flight), over https too (a self-signed
//! certificate, trusted through `CAPTCHA_CA_FILE`, and refused without).
//! The operator's per-drop switch, on every node. A token joins once;
//! every refusal changes nothing.
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
    // Nor a URL that is neither https nor http.
    let mut config = deployment.config();
    config.captcha_verify_url = Some("ftp://verify.example/siteverify".into());
    config.captcha_secret = Some("s3cret".into());
    assert!(queue::App::build(config).await.is_err());
    // Nor extra roots that are not certificates.
    let junk = std::env::temp_dir().join(format!("not-a-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&junk, "not a certificate").unwrap();
    let mut config = deployment.config();
    config.captcha_verify_url = Some("https://verify.example/siteverify".into());
    config.captcha_secret = Some("s3cret".into());
    config.captcha_ca_file = Some(junk);
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

/// The operator's switch per drop, on every node: a drop with the CAPTCHA
/// off joins without a token (one sent anyway is not spent: it still joins
/// a drop that asks for one); a drop never set asks for one; switched on
/// in PostgreSQL (as the sale's `PUT .../access` does), every node refuses
/// a join without a token within its settings refresh. The fan page is
/// told whether this drop asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_captcha_is_switched_per_drop_on_every_node() {
    let deployment = Deployment::new().await;
    deployment.create_drop("calm", 100, 1.0, 100, 0).await;
    deployment.create_drop("hot", 100, 1.0, 100, 0).await;
    sqlx::query("INSERT INTO drop_access (drop_id, captcha) VALUES ('calm', false)")
        .execute(&deployment.db)
        .await
        .unwrap();
    let sandbox = |config: &mut queue::Config| {
        config.service.dev = true;
        config.captcha_verify_url = Some("sandbox".into());
    };
    let nodes = [
        Node::start(&deployment, sandbox).await,
        Node::start(&deployment, sandbox).await,
    ];
    for node in &nodes {
        node.knows("calm").await;
        node.knows("hot").await;
    }

    // Off: no token needed, on either node.
    for (node, user) in nodes.iter().zip(["alice", "bob"]) {
        assert_eq!(
            join(node, &deployment, "calm", user, None).await,
            (200, String::new())
        );
    }
    // A token sent to a drop that does not ask is not spent.
    assert_eq!(
        join(
            &nodes[0],
            &deployment,
            "calm",
            "carol",
            Some("sandbox-pass-k1")
        )
        .await,
        (200, String::new())
    );
    // Never set: on.
    assert_eq!(
        join(&nodes[1], &deployment, "hot", "dave", None).await,
        (403, "captcha_required".into())
    );
    assert_eq!(
        join(
            &nodes[1],
            &deployment,
            "hot",
            "carol",
            Some("sandbox-pass-k1")
        )
        .await,
        (200, String::new())
    );
    let page = |node: &Node, drop: &str| {
        let request = node.http.get(node.url(&format!("/drops/{drop}")));
        async move { request.send().await.unwrap().text().await.unwrap() }
    };
    let calm = page(&nodes[0], "calm").await;
    assert!(calm.contains(r#""captchaOn":false"#), "{calm}");
    assert!(calm.contains(r#""sandbox":true"#), "{calm}");
    let hot = page(&nodes[0], "hot").await;
    assert!(hot.contains(r#""captchaOn":true"#), "{hot}");

    // Switched on: every node sees it within its settings refresh (a
    // second), and then refuses a join without a token.
    sqlx::query("UPDATE drop_access SET captcha = true WHERE drop_id = 'calm'")
        .execute(&deployment.db)
        .await
        .unwrap();
    let switched = Instant::now();
    for (node, user) in nodes.iter().zip(["erin", "frank"]) {
        while !node.room.drop_state("calm").await.unwrap().settings.captcha {
            assert!(
                switched.elapsed() < Duration::from_millis(2500),
                "a node did not see the switch"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert_eq!(
            join(node, &deployment, "calm", user, None).await,
            (403, "captcha_required".into())
        );
    }
    assert_eq!(waiting(&deployment, "calm").await, 3);
    assert_eq!(waiting(&deployment, "hot").await, 1);
    let calm = page(&nodes[1], "calm").await;
    assert!(calm.contains(r#""captchaOn":true"#), "{calm}");
}

/// A site-verify endpoint over https with a self-signed certificate for
/// `localhost` (rcgen): answers like [`verifier`] (`ok-` passes, anything
/// else fails), one request per connection. Its URL, what it saw, and the
/// certificate (PEM) to trust.
async fn tls_verifier() -> (String, Seen, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rcgen::CertifiedKey { cert, signing_key } =
        rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(signing_key.serialize_der().into());
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.der().clone()], key)
    .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!(
        "https://localhost:{}/siteverify",
        listener.local_addr().unwrap().port()
    );
    let seen = Seen::default();
    let saw = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let saw = saw.clone();
            tokio::spawn(async move {
                // A client that does not trust the certificate hangs up here.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let mut request = Vec::new();
                let mut chunk = [0u8; 4096];
                let body = loop {
                    let Ok(n) = tls.read(&mut chunk).await else {
                        return;
                    };
                    if n == 0 {
                        return;
                    }
                    request.extend_from_slice(&chunk[..n]);
                    let text = String::from_utf8_lossy(&request).to_string();
                    let Some((head, body)) = text.split_once("\r\n\r\n") else {
                        continue;
                    };
                    let length: usize = head
                        .lines()
                        .find_map(|l| {
                            let (name, value) = l.split_once(':')?;
                            name.eq_ignore_ascii_case("content-length")
                                .then(|| value.trim().parse().ok())?
                        })
                        .unwrap_or(0);
                    if body.len() >= length {
                        break body.to_string();
                    }
                };
                saw.lock().unwrap().push(body.clone());
                let pass = body.split('&').any(|pair| pair == "secret=s3cret")
                    && body.split('&').any(|pair| pair.starts_with("response=ok-"));
                let answer = serde_json::json!({"success": pass}).to_string();
                let response = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{answer}",
                    answer.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (url, seen, cert.pem())
}

/// The verifier over https: the queue's client (rustls, the public web
/// roots compiled in) trusts `CAPTCHA_CA_FILE`'s roots as well, here the
/// verifier's self-signed certificate. Without that root the certificate
/// is not trusted and the join is refused (fail closed), the verifier
/// never hearing the secret.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_verifier_over_https_is_asked_once_its_certificate_is_trusted() {
    let deployment = Deployment::new().await;
    deployment.create_drop("tls", 100, 1.0, 100, 0).await;
    let (url, seen, pem) = tls_verifier().await;
    let ca_file = std::env::temp_dir().join(format!("verifier-ca-{}.pem", uuid::Uuid::new_v4()));
    std::fs::write(&ca_file, pem).unwrap();

    let untrusting = Node::start(&deployment, |config| {
        config.captcha_verify_url = Some(url.clone());
        config.captcha_secret = Some("s3cret".into());
        config.captcha_timeout_ms = 2000;
    })
    .await;
    untrusting.knows("tls").await;
    assert_eq!(
        join(&untrusting, &deployment, "tls", "alice", Some("ok-1")).await,
        (503, "captcha_unavailable".into())
    );
    assert!(
        seen.lock().unwrap().is_empty(),
        "the secret went to an untrusted server"
    );
    untrusting.stop();

    let node = Node::start(&deployment, |config| {
        config.captcha_verify_url = Some(url);
        config.captcha_secret = Some("s3cret".into());
        config.captcha_timeout_ms = 2000;
        config.captcha_ca_file = Some(ca_file);
    })
    .await;
    node.knows("tls").await;
    assert_eq!(
        join(&node, &deployment, "tls", "alice", Some("ok-2")).await,
        (200, String::new())
    );
    assert_eq!(
        join(&node, &deployment, "tls", "bob", Some("no-1")).await,
        (403, "captcha_failed".into())
    );
    let asked = seen.lock().unwrap().clone();
    assert_eq!(asked.len(), 2, "{asked:?}");
    assert!(asked[0].contains("secret=s3cret") && asked[0].contains("response=ok-2"));
    assert_eq!(waiting(&deployment, "tls").await, 1);
    node.stop();
}
