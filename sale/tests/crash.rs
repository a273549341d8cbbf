//! Kill the sale process (SIGKILL) in the middle of an order burst and start it
//! again: every 201 the clients saw is in PostgreSQL, PostgreSQL never holds
//! more than the stock, nobody is over the cap, no unit is counted twice, and
//! the reservations orphaned by the kill are released by the reconciler.
#![allow(clippy::unwrap_used)]

mod common;

use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::AdmissionSigner;
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
        .env("ORDER_WRITE_TIMEOUT_MS", "500")
        .env("ORPHAN_GRACE_SECS", "2")
        .env("RECONCILE_EVERY_SECS", "1")
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

    // Buyers keep ordering (1-2 units, three tries per user against a cap of 2).
    let burst = common::Burst::start(
        Arc::new(Mutex::new(base.clone())),
        signer.clone(),
        "crash",
        48,
    );
    burst.until_acknowledged(100).await;
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let before_restart = burst.acknowledged_count();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut child = start(port, &db_url, &prefix, &jwks).await;
    burst.until_acknowledged(before_restart + 100).await;
    let (acknowledged, answers) = burst.finish().await;
    eprintln!(
        "acknowledged: {before_restart} before the kill, {} in all; answers {answers:?}",
        acknowledged.len()
    );
    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let units = common::check_invariants(&db, "crash", &acknowledged).await;

    // Reservations orphaned by the kill (reserved in Redis, never recorded)
    // are released by the restarted process's reconciler (grace 2 s here):
    // Redis comes to count exactly what PostgreSQL holds.
    let mut redis = redis::Client::open(common::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let mut sold = 0;
    for attempt in 0..100 {
        sold = redis::cmd("HGET")
            .arg(format!("{prefix}:{{crash}}:drop"))
            .arg("sold")
            .query_async(&mut redis)
            .await
            .unwrap();
        assert!(sold >= units, "Redis sold {sold} < PostgreSQL {units}");
        if attempt == 0 {
            eprintln!("orphaned units at the end of the burst: {}", sold - units);
        }
        if sold == units {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(sold, units, "orphans were not released within 10 s");
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    std::fs::remove_dir_all(dir).ok();
}
