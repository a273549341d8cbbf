//! Faults under a concurrent order burst, each ending with the invariants
//! checked against PostgreSQL (paid + pending <= stock, nobody over the cap,
//! every 201 the client saw recorded): Redis flushed, Redis restarted empty,
//! PostgreSQL unreachable for 10 s. (The process kill is `crash.rs`.)
#![allow(clippy::unwrap_used)]

mod common;

use common::faults::{host_port, socket_address, with_host_port, PrivateRedis, Proxy};
use common::{Burst, TestApp};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const STOCK: i64 = 100_000;
const BUYERS: usize = 24;

async fn redis_sold(redis: &PrivateRedis, prefix: &str, drop: &str) -> Option<i64> {
    let mut conn = redis::Client::open(redis.url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    redis::cmd("HGET")
        .arg(format!("{prefix}:{{{drop}}}:drop"))
        .arg("sold")
        .query_async(&mut conn)
        .await
        .unwrap()
}

async fn epoch(db: &sqlx::PgPool, drop: &str) -> i64 {
    sqlx::query_scalar("SELECT redis_epoch FROM drops WHERE id = $1")
        .bind(drop)
        .fetch_one(db)
        .await
        .unwrap()
}

/// After the burst: Redis, reconciled, counts exactly what PostgreSQL holds.
async fn redis_agrees(app: &TestApp, redis: &PrivateRedis, drop: &str, held: i64) {
    let before = redis_sold(redis, &app.prefix, drop).await.unwrap_or(0);
    assert!(
        before >= held,
        "Redis counts {before} < PostgreSQL {held}: oversell risk"
    );
    app.sale.reconcile(Duration::ZERO).await.unwrap();
    assert_eq!(redis_sold(redis, &app.prefix, drop).await, Some(held));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn flushall_mid_burst_rebuilds_and_loses_nothing() {
    let redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = TestApp::spawn_with(|c| c.service.redis_url = url, None).await;
    app.create_drop("flush", STOCK).await;
    let burst = Burst::start(
        Arc::new(Mutex::new(app.base.clone())),
        app.signer.clone(),
        "flush",
        BUYERS,
    );
    burst.until_acknowledged(100).await;
    redis.flushall().await;
    let at_flush = burst.acknowledged_count();
    burst.until_acknowledged(at_flush + 100).await;
    let (acknowledged, answers) = burst.finish().await;
    eprintln!(
        "flushall: {} acknowledged ({at_flush} before the flush); answers {answers:?}",
        acknowledged.len()
    );
    assert!(
        answers.get(&409).copied().unwrap_or(0) > 0,
        "the cap was exercised"
    );
    let held = common::check_invariants(&app.db, "flush", &acknowledged).await;
    assert!(
        epoch(&app.db, "flush").await >= 1,
        "the drop was rebuilt under a new epoch"
    );
    redis_agrees(&app, &redis, "flush", held).await;
}

/// Redis forgets its scripts (as after a restart, or a failover to a
/// replica that never loaded them): an order and its cancellation load
/// theirs again and go through, and the unit comes back.
#[tokio::test]
async fn orders_and_cancellations_go_through_after_redis_forgets_its_scripts() {
    let redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = TestApp::spawn_with(|c| c.service.redis_url = url, None).await;
    app.create_drop("scripts", 10).await;
    let (status, _) = app
        .place(&app.admit("ann", "scripts"), "a1", r#"{"quantity": 1}"#)
        .await;
    assert_eq!(status, 201);

    redis.script_flush().await;
    let (status, order) = app
        .place(&app.admit("bob", "scripts"), "b1", r#"{"quantity": 1}"#)
        .await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(app.redis_sold("scripts").await, 2);

    redis.script_flush().await;
    assert_eq!(app.cancel("bob", order["id"].as_str().unwrap()).await, 200);
    assert_eq!(app.redis_sold("scripts").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn redis_restarted_empty_mid_burst_rebuilds_and_loses_nothing() {
    let mut redis = PrivateRedis::start().await;
    let url = redis.url();
    let app = TestApp::spawn_with(|c| c.service.redis_url = url, None).await;
    app.create_drop("restart", STOCK).await;
    let burst = Burst::start(
        Arc::new(Mutex::new(app.base.clone())),
        app.signer.clone(),
        "restart",
        BUYERS,
    );
    burst.until_acknowledged(100).await;
    redis.kill().await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let during_outage = burst.acknowledged_count();
    redis.restart().await;
    burst.until_acknowledged(during_outage + 100).await;
    let (acknowledged, answers) = burst.finish().await;
    eprintln!(
        "redis restart: {} acknowledged; answers {answers:?}",
        acknowledged.len()
    );
    assert!(
        answers.get(&503).copied().unwrap_or(0) > 0,
        "503 while Redis was down"
    );
    let held = common::check_invariants(&app.db, "restart", &acknowledged).await;
    assert!(epoch(&app.db, "restart").await >= 1);
    redis_agrees(&app, &redis, "restart", held).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_down_for_ten_seconds_answers_503_promptly_and_recovers() {
    let redis = PrivateRedis::start().await;
    let admin = common::admin_database_url();
    let upstream = host_port(&admin);
    let proxy = Proxy::start(socket_address(&upstream)).await;
    let (url, proxied) = (redis.url(), format!("127.0.0.1:{}", proxy.port));
    let app = TestApp::spawn_with(
        |c| {
            c.service.redis_url = url;
            c.service.database_url = with_host_port(&c.service.database_url, &upstream, &proxied);
        },
        None,
    )
    .await;
    let direct = sqlx::PgPool::connect(&with_host_port(
        &app.config.service.database_url,
        &proxied,
        &upstream,
    ))
    .await
    .unwrap();
    app.create_drop("pgdown", STOCK).await;
    let burst = Burst::start(
        Arc::new(Mutex::new(app.base.clone())),
        app.signer.clone(),
        "pgdown",
        BUYERS,
    );
    burst.until_acknowledged(100).await;

    proxy.cut();
    let cut_at = Instant::now();
    // While PostgreSQL is away, an order is answered 503 promptly, never hangs.
    let mut slowest = Duration::ZERO;
    let mut probes = 0;
    while cut_at.elapsed() < Duration::from_secs(10) {
        let token = app.admit(&format!("probe-{probes}"), "pgdown");
        let sent = Instant::now();
        let (status, body) = app.place(&token, "probe", r#"{"quantity":1}"#).await;
        slowest = slowest.max(sent.elapsed());
        if probes > 0 {
            // (the very first may have been reserved and written just before the cut)
            assert_eq!(
                (status, body["error"].as_str()),
                (503, Some("unavailable")),
                "{body}"
            );
        }
        probes += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let during = burst.acknowledged_count();
    proxy.restore();
    burst.until_acknowledged(during + 100).await;
    let recovered_in = cut_at.elapsed() - Duration::from_secs(10);
    let (acknowledged, answers) = burst.finish().await;
    eprintln!(
        "postgres down 10 s: {probes} probes, slowest answer {slowest:?}; recovered {recovered_in:?} after; \
         {} acknowledged; answers {answers:?}",
        acknowledged.len()
    );
    assert!(
        slowest < Duration::from_secs(4),
        "an order hung for {slowest:?}"
    );
    let held = common::check_invariants(&direct, "pgdown", &acknowledged).await;
    redis_agrees(&app, &redis, "pgdown", held).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_from_before_a_rebuild_cannot_be_recorded() {
    let app = TestApp::spawn().await;
    app.create_drop_with(
        serde_json::json!({"id": "fence", "name": "Fence", "stock": 10,
        "price_cents": 100, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z"}),
    )
    .await;
    // A request reserves on the current Redis copy (epoch 0)...
    let stale_id = uuid::Uuid::now_v7();
    let reserved = app
        .sale
        .gate
        .reserve(
            "fence",
            "slow",
            "jti",
            2,
            chrono::Utc::now().timestamp_millis(),
            stale_id,
            "k",
        )
        .await
        .unwrap();
    let sale::gate::Reservation::Reserved { epoch, .. } = reserved else {
        panic!("not reserved: {reserved:?}");
    };
    assert_eq!(epoch, 0);
    // ...Redis loses the drop before that request's PostgreSQL write...
    let mut redis = app.redis.clone();
    for key in ["drop", "held", "res"] {
        let _: () = redis::cmd("DEL")
            .arg(format!("{}:{{fence}}:{key}", app.prefix))
            .query_async(&mut redis)
            .await
            .unwrap();
    }
    // ...the same user's next order rebuilds it from PostgreSQL (which has no
    // order of theirs yet) and takes their full cap...
    let token = app.admit("slow", "fence");
    let (status, body) = app.place(&token, "k2", r#"{"quantity":2}"#).await;
    assert_eq!(status, 201, "{body}");
    // ...and then the slow write arrives. Stock would allow it, so only the
    // epoch fence stands between it and a user holding 4 under a cap of 2.
    let now = chrono::Utc::now();
    let written = app
        .sale
        .writer
        .write(sale::writer::NewOrder {
            id: stale_id,
            drop_id: "fence".into(),
            user_id: "slow".into(),
            quantity: 2,
            unit_price_cents: 100,
            currency: "EUR".into(),
            idempotency_key: "k".into(),
            admission_jti: "jti".into(),
            created_at: now,
            expires_at: now + chrono::Duration::hours(1),
            epoch,
        })
        .await;
    assert!(
        matches!(written, Err(sale::writer::WriteError::NotWritten(_))),
        "{written:?}"
    );
    let held = common::check_invariants(&app.db, "fence", &Default::default()).await;
    assert_eq!(held, 2);
    assert!(epoch_of(&app.db).await >= 1);
}

async fn epoch_of(db: &sqlx::PgPool) -> i64 {
    epoch(db, "fence").await
}
