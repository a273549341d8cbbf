//! Kill the sale process (SIGKILL) in the middle of an order burst and start it
//! again: every 201 the clients saw is in PostgreSQL, PostgreSQL never holds
//! more than the stock, and no unit is counted twice.
#![allow(clippy::unwrap_used)]

mod common;

use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::AdmissionSigner;
use std::collections::HashSet;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start(port: u16, db: &str, prefix: &str, jwks: &std::path::Path) -> tokio::process::Child {
    let child = tokio::process::Command::new(env!("CARGO_BIN_EXE_sale"))
        .env("SALE_ADDR", format!("127.0.0.1:{port}"))
        .env("DATABASE_URL", db)
        .env("REDIS_URL", common::redis_url())
        .env("REDIS_PREFIX", prefix)
        .env("ADMISSION_JWKS", jwks)
        .env("USER_JWT_SECRET", common::USER_SECRET)
        .env("OPERATOR_API_KEY", common::OPERATOR_KEY)
        .env("ORDER_RATE_PER_USER", "1000")
        .env("PAYMENT_WEBHOOK_SECRET", common::WEBHOOK_SECRET)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    for _ in 0..200 {
        if http
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("sale did not become ready");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_burst_loses_no_acknowledged_order() {
    let dir = std::env::temp_dir().join(format!("lineup-crash-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = AdmissionKeyPair::generate();
    let jwks = dir.join("jwks.json");
    std::fs::write(
        &jwks,
        serde_json::to_string(&Jwks {
            keys: vec![key.public_jwk()],
        })
        .unwrap(),
    )
    .unwrap();
    let signer = AdmissionSigner::new(&key).unwrap();
    let db_url = common::fresh_database().await;
    let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();

    let mut child = start(port, &db_url, &prefix, &jwks).await;
    let created = http
        .post(format!("{base}/api/drops"))
        .bearer_auth(common::OPERATOR_KEY)
        .json(&serde_json::json!({"id": "crash", "name": "Crash", "stock": 1000000, "price_cents": 100,
            "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z"}))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), 201);

    // 64 buyers keep ordering (1 unit each, fresh keys) until told to stop.
    let acknowledged = Arc::new(Mutex::new(HashSet::<String>::new()));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut buyers = Vec::new();
    for b in 0..64 {
        let (http, base, acknowledged, stop) = (
            http.clone(),
            base.clone(),
            acknowledged.clone(),
            stop.clone(),
        );
        let signer = signer.clone();
        buyers.push(tokio::spawn(async move {
            let mut n = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let user = format!("u{b}-{n}");
                let token = signer.sign(&common::claims(&user, "crash")).unwrap();
                let sent = http
                    .post(format!("{base}/api/drops/crash/orders"))
                    .bearer_auth(token)
                    .header("idempotency-key", "k")
                    .json(&serde_json::json!({"quantity": 1}))
                    .timeout(Duration::from_secs(5))
                    .send()
                    .await;
                if let Ok(response) = sent {
                    if response.status() == 201 {
                        let body: serde_json::Value = response.json().await.unwrap();
                        acknowledged
                            .lock()
                            .unwrap()
                            .insert(body["id"].as_str().unwrap().to_string());
                    }
                } else {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let before_restart = acknowledged.lock().unwrap().len();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut child = start(port, &db_url, &prefix, &jwks).await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for buyer in buyers {
        buyer.await.unwrap();
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();

    let acknowledged = acknowledged.lock().unwrap().clone();
    eprintln!(
        "acknowledged: {before_restart} before the kill, {} in all",
        acknowledged.len()
    );
    assert!(
        before_restart > 0,
        "orders were acknowledged before the kill"
    );
    assert!(
        acknowledged.len() > before_restart,
        "orders were acknowledged after the restart"
    );
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let recorded: HashSet<String> =
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM orders WHERE drop_id = 'crash'")
            .fetch_all(&db)
            .await
            .unwrap()
            .into_iter()
            .map(|id| id.to_string())
            .collect();
    let lost: Vec<_> = acknowledged.difference(&recorded).collect();
    assert!(lost.is_empty(), "acknowledged but not recorded: {lost:?}");
    let (units, held): (i64, i64) = sqlx::query_as(
        "SELECT COALESCE(sum(o.quantity), 0)::BIGINT, d.held FROM drops d \
         LEFT JOIN orders o ON o.drop_id = d.id AND o.status IN ('pending','paid') \
         WHERE d.id = 'crash' GROUP BY d.held",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(units, held, "drops.held counts every recorded unit once");
    assert!(units <= 1_000_000, "no oversell");
    // Redis counts each recorded unit once, plus any reservation orphaned by
    // the kill (reserved, never recorded): never fewer than PostgreSQL.
    let mut redis = redis::Client::open(common::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let sold: i64 = redis::cmd("HGET")
        .arg(format!("{prefix}:{{crash}}:drop"))
        .arg("sold")
        .query_async(&mut redis)
        .await
        .unwrap();
    let reservations: i64 = redis::cmd("HLEN")
        .arg(format!("{prefix}:{{crash}}:res"))
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(sold >= units, "Redis sold {sold} < PostgreSQL {units}");
    assert_eq!(
        sold, reservations,
        "one reservation record per reserved unit"
    );
    std::fs::remove_dir_all(dir).ok();
}
