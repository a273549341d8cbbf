//! A small rush against a real stack (sale and queue services in-process,
//! real Redis and PostgreSQL): its invariants hold and it passes its
//! thresholds; a deliberately broken setup (an acknowledged order lost, a
//! user pushed over the cap behind the services' back) makes the invariant
//! check fail; and the `loadtest` binary run against a queue that refuses
//! everything says FAILED, names each breached threshold and exits 2.
#![allow(clippy::unwrap_used)]

use std::time::Duration;

mod common;

use common::{redis_url, stack, Stack, OPERATOR_KEY, USER_SECRET};

fn options(stack: &Stack) -> loadtest::rush::RushOptions {
    loadtest::rush::RushOptions {
        queue_url: stack.queue.clone(),
        sale_url: stack.sale.clone(),
        operator_key: OPERATOR_KEY.into(),
        user_secret: USER_SECRET.into(),
        database_url: stack.database.clone(),
        redis_url: redis_url(),
        redis_prefix: stack.prefix.clone(),
        fans: 2000,
        idle_fans: 20_000,
        websocket_share: 0.6,
        abandon_share: 0.1,
        pay_share: 0.6,
        decline_share: 0.2,
        stock: 300,
        rate: 400.0,
        max_active: 1000,
        opens_in_secs: 3,
        ramp_secs: 0,
        curve: loadtest::rush::Curve::Ramp,
        poll_every: Duration::from_millis(500),
        max_duration: Duration::from_secs(25),
        source_addresses: 4,
        show_progress: false,
        thresholds: loadtest::rush::Thresholds::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_small_rush_keeps_every_invariant_and_a_broken_setup_is_caught() {
    let stack = stack().await;
    let report = loadtest::rush::run(options(&stack)).await.unwrap();
    eprintln!("{}", report.markdown());
    assert!(report.invariants.holds(), "{:?}", report.invariants.broken);
    assert_eq!(report.check(), Ok(()), "a healthy run meets its thresholds");
    assert!(report.requests >= 2000, "{}", report.requests);
    assert_eq!(report.joined, 2000, "every fan joined");
    assert!(report.orders_acknowledged > 0);
    assert!(report.invariants.held <= 300);
    assert_eq!(
        report.draw_verified,
        Some(true),
        "pre-queue admitted in the draw order"
    );
    // Idle fans joined behind the live ones (none of them was admitted: the
    // stock went to the live fans ahead), were seen in the line, and their
    // places were removed at the end.
    assert_eq!(report.idle_fans, 20_000);
    assert!(report.timeline.iter().any(|s| s.line >= 20_000));
    let mut redis = redis::Client::open(redis_url())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let admitted: Vec<String> = redis::cmd("ZRANGE")
        .arg(queue::line::LineKeys::new(&stack.prefix, &report.drop).admitted())
        .arg(0)
        .arg(-1)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert!(!admitted.is_empty());
    assert!(
        admitted.iter().all(|u| u.starts_with("fan-")),
        "{admitted:?}"
    );
    let line_left: u64 = redis::cmd("EXISTS")
        .arg(admission::contract::DropKeys::new(&stack.prefix, &report.drop).line())
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(line_left, 0, "the idle fans' line was removed");

    // Broken behind the services' back: the check must say so.
    let db = sqlx::PgPool::connect(&stack.database).await.unwrap();
    let acknowledged: std::collections::HashSet<String> = sqlx::query_scalar::<_, uuid::Uuid>(
        "SELECT id FROM orders WHERE drop_id = $1 AND status IN ('pending','paid')",
    )
    .bind(&report.drop)
    .fetch_all(&db)
    .await
    .unwrap()
    .into_iter()
    .map(|id| id.to_string())
    .collect();
    let redis = redis_url();
    let check = || {
        loadtest::rush::invariants::check(&db, &redis, &stack.prefix, &report.drop, &acknowledged)
    };
    let intact = check().await.unwrap();
    assert!(intact.holds(), "{:?}", intact.broken);
    let (victim, user): (uuid::Uuid, String) = sqlx::query_as(
        "SELECT id, user_id FROM orders WHERE drop_id = $1 AND status IN ('pending','paid') LIMIT 1",
    )
    .bind(&report.drop)
    .fetch_one(&db)
    .await
    .unwrap();
    sqlx::query(
        "DELETE FROM payment_events WHERE payment_id IN (SELECT id FROM payments WHERE order_id = $1)",
    )
    .bind(victim)
    .execute(&db)
    .await
    .unwrap();
    sqlx::query("DELETE FROM payments WHERE order_id = $1")
        .bind(victim)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query("DELETE FROM orders WHERE id = $1")
        .bind(victim)
        .execute(&db)
        .await
        .unwrap();
    sqlx::query(
        "INSERT INTO orders (id, drop_id, user_id, quantity, unit_price_cents, total_cents, \
           currency, status, idempotency_key, created_at, expires_at) \
         VALUES ($1, $2, $3, 2, 1000, 2000, 'EUR', 'pending', 'rogue', now(), now() + interval '1 hour'), \
                ($4, $2, $3, 2, 1000, 2000, 'EUR', 'pending', 'rogue-2', now(), now() + interval '1 hour')",
    )
    .bind(uuid::Uuid::new_v4())
    .bind(&report.drop)
    .bind(&user)
    .bind(uuid::Uuid::new_v4())
    .execute(&db)
    .await
    .unwrap();
    let broken = check().await.unwrap();
    assert!(!broken.holds());
    assert_eq!(broken.acknowledged_missing, vec![victim.to_string()]);
    assert!(
        broken.users_over_cap.iter().any(|(u, _)| *u == user),
        "{:?}",
        broken.broken
    );

    a_deployment_refusing_every_fan_fails_the_run(&stack).await;
}

/// The `loadtest rush` binary against a queue that answers every request
/// 503 (the sale service, Redis and PostgreSQL are fine, so every invariant
/// holds): before thresholds this printed "invariants: hold" and exited 0.
async fn a_deployment_refusing_every_fan_fails_the_run(stack: &Stack) {
    let out = std::env::temp_dir().join(format!("lineup-rush-out-{}", uuid::Uuid::new_v4()));
    let run = tokio::process::Command::new(env!("CARGO_BIN_EXE_loadtest"))
        .args([
            "rush",
            "--queue",
            &refusing_queue().await,
            "--sale",
            &stack.sale,
        ])
        .args(["--operator-key", OPERATOR_KEY, "--user-secret", USER_SECRET])
        .args(["--database", &stack.database, "--redis", &redis_url()])
        .args(["--redis-prefix", &stack.prefix, "--fans", "200"])
        .args([
            "--websocket-share",
            "0.5",
            "--opens-in",
            "1",
            "--max-seconds",
            "20",
        ])
        .arg("--out")
        .arg(&out)
        .output()
        .await
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert_eq!(
        run.status.code(),
        Some(loadtest::rush::EXIT_THRESHOLDS.into()),
        "{stdout}\n{stderr}"
    );
    assert!(stderr.contains("FAILED: thresholds breached"), "{stderr}");
    for flag in ["--max-error-share", "--min-join-share", "--min-admitted"] {
        assert!(stderr.contains(flag), "{flag} not named: {stderr}");
        assert!(
            stdout.contains(flag),
            "{flag} not in the printed report: {stdout}"
        );
    }
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["joined"], 0);
    assert_eq!(report["admitted"], 0);
    assert_eq!(report["failed_requests"], 200, "{:#}", report["errors"]);
    assert_eq!(report["breaches"].as_array().unwrap().len(), 3);
    assert_eq!(
        report["invariants"]["broken"],
        serde_json::json!([]),
        "the failure is the thresholds', not an invariant's"
    );
}

/// A stand-in for a queue service that refuses everything: each request,
/// WebSocket upgrades included, is answered 503 `unavailable`.
async fn refusing_queue() -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            tokio::spawn(async move {
                let (mut request, mut buf) = (Vec::new(), [0u8; 4096]);
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match socket.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buf[..n]),
                    }
                }
                let body = r#"{"error":"unavailable","message":"refusing every fan"}"#;
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
                let _ = socket.shutdown().await;
            });
        }
    });
    url
}
