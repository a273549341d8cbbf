//! What hostile and unlucky clients tried against the waiting room, and
//! what must hold: an admission that ran out, sockets that flood, oversize
//! or multiply, a line that cannot move, drops beyond the newest few
//! hundred, and an orderly shutdown.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{closed_with, connect, connect_as, next_json, until_state};
use common::{Deployment, Node};
use futures::SinkExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;

const TICK: Duration = Duration::from_millis(100);

/// A fan polled ten minutes after admission is not told `admitted` with a
/// dead token: the admission ran out, the fan is back in line, at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admission_that_ran_out_puts_the_fan_back_in_line() {
    let deployment = Deployment::new().await;
    deployment.create_drop("expiry", 100, 10.0, 100, 0).await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("expiry").await;
    node.join(&deployment, "expiry", "alice").await;
    let admitted = node.pump_for(&deployment.clock, TICK, 2).await;
    assert_eq!(admitted, ["alice"]);
    let (_, status) = node.poll(&deployment, "expiry", "alice").await;
    assert_eq!(status["state"], "admitted");
    let mut socket = connect_as(&node, &deployment, "expiry", "alice").await;
    until_state(&mut socket, "admitted").await;

    node.join(&deployment, "expiry", "bob").await;
    deployment.clock.advance(Duration::from_secs(601));
    let (_, status) = node.poll(&deployment, "expiry", "alice").await;
    assert_eq!(status["state"], "waiting", "{status}");
    assert_eq!(
        status["position"], 2,
        "behind bob, who was waiting: {status}"
    );
    assert!(status["admission_token"].is_null());
    // The socket follows the admission's end on its own.
    let back = until_state(&mut socket, "waiting").await;
    assert!(back["admission_token"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sockets_that_flood_oversize_or_multiply_are_closed_with_a_code() {
    let deployment = Deployment::new().await;
    deployment.create_drop("limits", 100, 1.0, 100, 0).await;
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("limits").await;

    // A message over 4 KiB: close 1009, not a dropped connection.
    let mut big = connect_as(&node, &deployment, "limits", "big").await;
    next_json(&mut big).await;
    big.send(Message::Text("x".repeat(5 * 1024).into()))
        .await
        .unwrap();
    assert_eq!(closed_with(&mut big).await, Some(1009));
    // Even past the socket's own read limit (64 KiB): still 1009.
    let mut huge = connect_as(&node, &deployment, "limits", "huge").await;
    next_json(&mut huge).await;
    huge.send(Message::Text("x".repeat(64 * 1024).into()))
        .await
        .unwrap();
    assert_eq!(closed_with(&mut huge).await, Some(1009));

    // A flood of status requests: answered at most once a second, then cut.
    let mut chatty = connect_as(&node, &deployment, "limits", "chatty").await;
    next_json(&mut chatty).await;
    for _ in 0..30 {
        chatty
            .send(Message::Text(r#"{"type":"status"}"#.into()))
            .await
            .unwrap();
    }
    let mut replies = 0;
    let code = loop {
        match tokio::time::timeout(
            Duration::from_secs(5),
            futures::StreamExt::next(&mut chatty),
        )
        .await
        {
            Ok(Some(Ok(Message::Text(_)))) => replies += 1,
            Ok(Some(Ok(Message::Close(frame)))) => break frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            other => panic!("no close: {other:?}"),
        }
    };
    assert_eq!(code, Some(4429));
    assert!(replies <= 2, "{replies} replies to 30 requests");

    // One user, many sockets: the fifth is refused.
    let mut held = Vec::new();
    for _ in 0..4 {
        let mut socket = connect_as(&node, &deployment, "limits", "tabs").await;
        next_json(&mut socket).await;
        held.push(socket);
    }
    let mut fifth = connect_as(&node, &deployment, "limits", "tabs").await;
    assert_eq!(closed_with(&mut fifth).await, Some(4409));
    drop(held);

    // The WebSocket route asked without an upgrade: a JSON error.
    let response = node
        .http
        .get(node.url("/api/drops/limits/queue/ws"))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_client_error());
    let body: Value = response.json().await.unwrap();
    assert!(
        body["error"].is_string() && body["message"].is_string(),
        "{body}"
    );
}

/// Every unit is held by pending orders: the fan is told so, with when the
/// first of them expires, and is promised no seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_line_that_cannot_move_says_why_instead_of_promising_seconds() {
    let deployment = Deployment::new().await;
    deployment.create_drop("held", 2, 10.0, 100, 0).await;
    let expires = chrono::Utc::now() + chrono::Duration::minutes(30);
    sqlx::query(
        "INSERT INTO orders (id, drop_id, user_id, quantity, unit_price_cents, total_cents, \
           currency, status, idempotency_key, created_at, expires_at) \
         VALUES ($1, 'held', 'early', 2, 100, 200, 'EUR', 'pending', 'k', now(), $2)",
    )
    .bind(uuid::Uuid::now_v7())
    .bind(expires)
    .execute(&deployment.db)
    .await
    .unwrap();
    let mut redis = deployment.redis().await;
    let _: () = redis::cmd("HSET")
        .arg(format!("{}:{{held}}:drop", deployment.prefix))
        .arg("sold")
        .arg(2)
        .query_async(&mut redis)
        .await
        .unwrap();
    let node = Node::start(&deployment, |_| {}).await;
    let (status, body) = node.join(&deployment, "held", "fan").await;
    assert_eq!(status, 200);
    assert_eq!(body["state"], "waiting", "{body}");
    assert!(body["eta_seconds"].is_null(), "no seconds promised: {body}");
    assert_eq!(body["held_up"]["reason"], "all_reserved");
    let until: chrono::DateTime<chrono::Utc> =
        serde_json::from_value(body["held_up"]["until"].clone()).unwrap();
    assert!((until - expires).num_milliseconds().abs() < 1000, "{body}");
}

/// With 2,000 drops opening a month from now (the old catalog read the
/// newest 500 only): a drop opening in 5 s is served at once, an older open
/// drop's pause reaches its fans, a restarted node answers for it, and a
/// drop asked for before it existed is served once it is announced.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn drops_load_on_demand_however_many_there_are() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("old-open", 100, 10.0, 100, -3600)
        .await;
    sqlx::query(
        "INSERT INTO drops (id, name, stock, price_cents, currency, opens_at, per_user_cap, \
           order_timeout_secs, admission_rate_per_sec, max_active) \
         SELECT 'later-' || n, 'Later', 10, 100, 'EUR', now() + interval '30 days', 2, 3600, 50, 1000 \
         FROM generate_series(1, 2000) AS n",
    )
    .execute(&deployment.db)
    .await
    .unwrap();
    let node = Node::start(&deployment, |_| {}).await;
    deployment.create_drop("fresh", 100, 10.0, 100, 5).await;
    let (status, body) = node.join(&deployment, "fresh", "early").await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("prequeue")),
        "{body}"
    );
    let (status, body) = node.join(&deployment, "old-open", "fan").await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("waiting")),
        "{body}"
    );

    // Paused in PostgreSQL without an announcement: the periodic refresh
    // of the drops this node serves picks it up within about a second.
    sqlx::query("UPDATE drops SET state = 'paused', updated_at = now() WHERE id = 'old-open'")
        .execute(&deployment.db)
        .await
        .unwrap();
    let mut paused = false;
    for _ in 0..30 {
        let (_, body) = node.poll(&deployment, "old-open", "fan").await;
        if body["state"] == "paused" {
            paused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(paused, "the pause reached the queue");

    // Another node, started now, answers for the old drop at once.
    let other = Node::start(&deployment, |_| {}).await;
    let (status, body) = other.poll(&deployment, "old-open", "fan").await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("paused")),
        "{body}"
    );

    // Asked for before it exists: 404; created and announced: served.
    let (status, _) = node.join(&deployment, "brand-new", "fan").await;
    assert_eq!(status, 404);
    deployment.create_drop("brand-new", 10, 10.0, 100, 0).await;
    let _: i64 = redis::cmd("PUBLISH")
        .arg(admission::contract::drops_changed_channel(
            &deployment.prefix,
        ))
        .arg("brand-new")
        .query_async(&mut deployment.redis().await)
        .await
        .unwrap();
    let mut served = false;
    for _ in 0..20 {
        if node.join(&deployment, "brand-new", "fan").await.0 == 200 {
            served = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(served, "an announced drop is served at once");
}

/// An orderly shutdown (SIGTERM): every fan's socket gets 1001, and the
/// pump gives its lease up so another node takes over without waiting it
/// out.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_shutdown_says_goodbye_to_every_socket_and_hands_the_pump_over() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("bye", 100_000, 10.0, 100_000, 0)
        .await;
    // A: the background pump, with a long lease (waiting it out: 10 s).
    let a = Node::start(&deployment, |c| {
        c.pump_tick_ms = 50;
        c.pump_lease_ms = 10_000;
    })
    .await;
    let mut b = Node::start(&deployment, |c| c.pump_lease_ms = 10_000).await;
    b.knows("bye").await;
    let mut fans = Vec::new();
    for n in 0..20 {
        let mut socket = connect_as(&a, &deployment, "bye", &format!("f{n}")).await;
        next_json(&mut socket).await;
        fans.push(socket);
    }
    let lease_key = queue::line::LineKeys::new(&deployment.prefix, "bye").lease();
    let mut redis = deployment.redis().await;
    let mut holder: Option<String> = None;
    for _ in 0..50 {
        holder = redis::cmd("GET")
            .arg(&lease_key)
            .query_async(&mut redis)
            .await
            .unwrap();
        if holder.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(holder.is_some(), "A's pump holds the lease");

    a.shut_down().await;
    for socket in &mut fans {
        assert_eq!(closed_with(socket).await, Some(1001));
    }
    let holder: Option<String> = redis::cmd("GET")
        .arg(&lease_key)
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(holder, None, "the lease was given up");
    let started = std::time::Instant::now();
    b.pump_for(&deployment.clock, TICK, 1).await;
    assert_eq!(b.pump().leading(), ["bye"], "B took over at once");
    assert!(started.elapsed() < Duration::from_secs(2));
    let _ = connect(&b, "bye", &[]).await;
}
