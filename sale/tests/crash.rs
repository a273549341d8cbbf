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
        .env("SEARCH_CURSOR_KEY", "search-cursor-key-crash-0123456789")
        .env("ORDER_WRITE_TIMEOUT_MS", "500")
        .env("ORPHAN_GRACE_SECS", "2")
        .env("RECONCILE_EVERY_SECS", "1")
        .env("RECONCILE_SCAN_EVERY_SECS", "1")
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

/// A seated sale under a burst of fans holding and ordering seats; the
/// service is killed (SIGKILL) and restarted mid-burst. After: every hold
/// and order answered 201 is in PostgreSQL, no seat has two live claims,
/// nobody is over the cap, and every seat PostgreSQL says is claimed is
/// held or sold in Redis by the same hold (a hold Redis made but the kill
/// kept from PostgreSQL stays in Redis only until it lapses).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sigkill_mid_burst_with_seats_keeps_one_seat_one_buyer() {
    use rand::Rng;
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
    let operator = |path: &str, body: serde_json::Value| {
        http.post(format!("{base}{path}"))
            .bearer_auth(common::OPERATOR_KEY)
            .json(&body)
            .send()
    };
    let map: serde_json::Value =
        serde_json::from_str(&sale::seating::generate::small_hall().to_json()).unwrap();
    let created = [
        operator(
            "/api/venues",
            serde_json::json!({"id": "hall", "name": "Hall", "city": "Köln",
            "country": "DE", "timezone": "Europe/Berlin", "lat": 50.9, "lon": 6.9, "map": map}),
        )
        .await
        .unwrap()
        .status(),
        operator(
            "/api/events",
            serde_json::json!({"id": "show", "name": "Show",
            "venue_id": "hall", "starts_at": "2030-01-01T20:00:00Z"}),
        )
        .await
        .unwrap()
        .status(),
        operator(
            "/api/drops",
            serde_json::json!({"id": "seats", "name": "Seats",
            "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z", "event_id": "show",
            "seating": {"prices": {"cat1": 100, "cat2": 80, "cat3": 60}}}),
        )
        .await
        .unwrap()
        .status(),
    ];
    assert_eq!(created.map(|s| s.as_u16()), [201, 201, 201]);

    let acknowledged = Arc::new(Mutex::new((Vec::<String>::new(), Vec::<String>::new())));
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let fans: Vec<_> = (0..40)
        .map(|f| {
            let (http, base, signer) = (http.clone(), base.clone(), signer.clone());
            let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
            tokio::spawn(async move {
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let user = format!("f{f}-{}", n / 3);
                    let token = signer.sign(&common::claims(&user, "seats")).unwrap();
                    let seat = rand::thread_rng().gen_range(0..300usize);
                    let (row, number) = if seat < 240 {
                        (
                            ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"][seat / 24],
                            seat % 24 + 1,
                        )
                    } else {
                        ("", 0)
                    };
                    let seat_id = if row.is_empty() {
                        format!(
                            "balcony-{}-{}",
                            (seat - 240) / 20 + 1,
                            (seat - 240) % 20 + 1
                        )
                    } else {
                        format!("stalls-{row}-{number}")
                    };
                    let held = http
                        .post(format!("{base}/api/drops/seats/holds"))
                        .bearer_auth(&token)
                        .header("idempotency-key", format!("h{n}"))
                        .json(&serde_json::json!({"seats": [seat_id]}))
                        .timeout(Duration::from_secs(5))
                        .send()
                        .await;
                    let Ok(held) = held else {
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    };
                    if held.status() != 201 {
                        continue;
                    }
                    let hold: serde_json::Value = held.json().await.unwrap();
                    let hold_id = hold["id"].as_str().unwrap().to_string();
                    acknowledged.lock().unwrap().0.push(hold_id.clone());
                    if n % 2 == 0 {
                        let ordered = http
                            .post(format!("{base}/api/drops/seats/orders"))
                            .bearer_auth(&token)
                            .header("idempotency-key", format!("o{n}"))
                            .json(&serde_json::json!({"hold_id": hold_id}))
                            .timeout(Duration::from_secs(5))
                            .send()
                            .await;
                        if let Ok(ordered) = ordered {
                            if ordered.status() == 201 {
                                let order: serde_json::Value = ordered.json().await.unwrap();
                                let id = order["id"].as_str().unwrap().to_string();
                                acknowledged.lock().unwrap().1.push(id);
                            }
                        }
                    }
                }
            })
        })
        .collect();
    let count = || acknowledged.lock().unwrap().0.len();
    for _ in 0..200 {
        if count() >= 40 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    let before = count();
    let mut child = start(port, &db_url, &prefix, &jwks).await;
    for _ in 0..200 {
        if count() >= before + 30 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for fan in fans {
        fan.await.unwrap();
    }
    let (holds, orders) = acknowledged.lock().unwrap().clone();
    eprintln!(
        "{} holds and {} orders acknowledged ({before} holds before the kill)",
        holds.len(),
        orders.len()
    );
    assert!(holds.len() > before, "the restarted service took holds");

    let db = sqlx::PgPool::connect(&db_url).await.unwrap();
    let ids = |v: &[String]| {
        v.iter()
            .map(|s| s.parse::<uuid::Uuid>().unwrap())
            .collect::<Vec<_>>()
    };
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM holds WHERE id = ANY($1)")
        .bind(ids(&holds))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        recorded as usize,
        holds.len(),
        "every acknowledged hold is recorded"
    );
    let recorded: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE id = ANY($1)")
        .bind(ids(&orders))
        .fetch_one(&db)
        .await
        .unwrap();
    assert_eq!(
        recorded as usize,
        orders.len(),
        "every acknowledged order is recorded"
    );
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT seat_id FROM seat_claims WHERE live @> now() \
         GROUP BY seat_id HAVING count(*) > 1) d",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(doubled, 0, "no seat has two live claims");
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT h.user_id FROM holds h LEFT JOIN orders o ON o.id = h.order_id \
         WHERE h.released_at IS NULL AND ((h.order_id IS NULL AND h.expires_at > now()) \
           OR o.status IN ('pending', 'paid')) \
         GROUP BY h.user_id HAVING sum(cardinality(h.seats)) > 2) u",
    )
    .fetch_one(&db)
    .await
    .unwrap();
    assert_eq!(over, 0, "nobody over the cap");
    let claimed: Vec<(String, uuid::Uuid)> =
        sqlx::query_as("SELECT seat_id, hold_id FROM seat_claims WHERE live @> now()")
            .fetch_all(&db)
            .await
            .unwrap();
    let mut redis = redis::Client::open(common::redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let owners: std::collections::HashMap<u32, String> = redis::cmd("HGETALL")
        .arg(format!("{prefix}:{{seats}}:seat:owner"))
        .query_async(&mut redis)
        .await
        .unwrap();
    let map = sale::seating::SeatMap::from_document(sale::seating::generate::small_hall()).unwrap();
    for (seat, hold) in &claimed {
        let index = map.index_of(seat).unwrap();
        assert_eq!(
            owners.get(&index),
            Some(&hold.to_string()),
            "seat {seat}: PostgreSQL's claim is Redis's too"
        );
    }
    eprintln!(
        "{} seats claimed in PostgreSQL, {} held in Redis ({} only in Redis: lapse on their own)",
        claimed.len(),
        owners.len(),
        owners.len().saturating_sub(claimed.len())
    );
    child.start_kill().unwrap();
    child.wait().await.unwrap();
    std::fs::remove_dir_all(dir).ok();
}
