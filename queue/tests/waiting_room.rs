//! The waiting room against real Redis and PostgreSQL: the pre-queue draw,
//! FIFO after opening, the admission rate, pump failover, leavers, and the
//! whole way through real sockets to a purchase in the sale service.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Deployment, Node};
use futures::future::join_all;
use std::time::Duration;

const TICK: Duration = Duration::from_millis(100);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_prequeue_is_admitted_in_the_published_draw_order() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("draw", 10_000, 500.0, 100_000, 60)
        .await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("draw").await;

    // Before opening: the commitment only, and a countdown for fans.
    let draw: serde_json::Value = node
        .http
        .get(node.url("/api/drops/draw/draw"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(draw["seed"].is_null(), "seed hidden before opening: {draw}");
    let committed = draw["seed_sha256"].as_str().unwrap().to_string();

    let users: Vec<String> = (0..1000).map(|i| format!("fan-{i:04}")).collect();
    for chunk in users.chunks(100) {
        let answers = join_all(chunk.iter().map(|u| node.join(&deployment, "draw", u))).await;
        for (status, body) in answers {
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["state"], "prequeue");
            assert!(body["position"].is_null(), "no position in the pre-queue");
            assert!(body["opens_in_seconds"].as_i64().unwrap() > 0);
        }
    }
    // Joining again changes nothing.
    let (_, again) = node.join(&deployment, "draw", "fan-0000").await;
    assert_eq!(again["state"], "prequeue");

    deployment.clock.advance(Duration::from_secs(61));
    node.catalog_fresh().await;
    // Still here at opening (their pages poll or hold a socket).
    for chunk in users.chunks(100) {
        for (status, body) in
            join_all(chunk.iter().map(|u| node.poll(&deployment, "draw", u))).await
        {
            assert_eq!(status, 200);
            assert_eq!(body["state"], "waiting", "{body}");
        }
    }
    let admitted = node.pump_for(&deployment.clock, TICK, 40).await;
    assert_eq!(admitted.len(), 1000, "everyone admitted");

    let draw: serde_json::Value = node
        .http
        .get(node.url("/api/drops/draw/draw"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let seed = draw["seed"].as_str().expect("seed revealed after opening");
    assert_eq!(
        queue::draw::seed_hash(seed),
        committed,
        "the revealed seed is the committed one"
    );
    assert_eq!(
        admitted,
        queue::draw::draw_order(seed, &users),
        "admission follows the draw"
    );
    assert_ne!(admitted, users, "not join order");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn after_opening_it_is_first_come_first_served() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("fifo", 10_000, 100.0, 100_000, 0)
        .await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("fifo").await;
    let users: Vec<String> = (0..300).map(|i| format!("u{i}")).collect();
    for (i, user) in users.iter().enumerate() {
        let (status, body) = node.join(&deployment, "fifo", user).await;
        assert_eq!(status, 200);
        assert_eq!(body["state"], "waiting");
        assert_eq!(body["position"], i + 1, "{body}");
        assert_eq!(body["ahead"], i);
        assert!(
            body["eta_seconds"]["low"].as_u64().unwrap()
                <= body["eta_seconds"]["high"].as_u64().unwrap()
        );
    }
    // A second tab gets the same place.
    let (_, second) = node.join(&deployment, "fifo", "u7").await;
    assert_eq!(second["position"], 8);
    let admitted = node.pump_for(&deployment.clock, TICK, 40).await;
    assert_eq!(admitted, users);
    let (_, status) = node.poll(&deployment, "fifo", "u0").await;
    assert_eq!(status["state"], "admitted");
    assert!(status["admission_token"].is_string());
    assert_eq!(
        status["checkout_url"],
        "http://sale.test/api/drops/fifo/orders"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_pump_admits_at_the_set_rate_and_respects_max_active_and_stock() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("rate", 100_000, 20.0, 100_000, 0)
        .await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("rate").await;
    let users: Vec<String> = (0..2000).map(|i| format!("r{i}")).collect();
    for chunk in users.chunks(200) {
        join_all(chunk.iter().map(|u| node.join(&deployment, "rate", u))).await;
    }
    // 60 s of pump time, in 100 ms ticks; everyone stays (polls).
    let mut admitted = 0;
    for second in 0..60 {
        admitted += node.pump_for(&deployment.clock, TICK, 10).await.len();
        if second % 20 == 0 {
            let now = deployment.clock.now_ms();
            for chunk in users.chunks(200) {
                join_all(chunk.iter().map(|u| node.room.lines.touch("rate", u, now))).await;
            }
        }
    }
    let expected = 20.0 * 60.0;
    assert!(
        (admitted as f64 - expected).abs() <= expected * 0.01,
        "{admitted} admitted in 60 s at 20/s"
    );

    // max_active and stock bound admission whatever the rate.
    deployment.create_drop("bounded", 5, 1000.0, 3, 0).await;
    node.knows("bounded").await;
    for user in ["a", "b", "c", "d", "e", "f"] {
        node.join(&deployment, "bounded", user).await;
    }
    // (The first drop's fans, still alive, go on being admitted meanwhile.)
    let of_bounded = |users: Vec<String>| users.into_iter().filter(|u| !u.starts_with('r'));
    let first = of_bounded(node.pump_for(&deployment.clock, TICK, 10).await);
    assert_eq!(first.count(), 3, "max_active 3");
    sqlx::query("UPDATE drops SET max_active = 10 WHERE id = 'bounded'")
        .execute(&deployment.db)
        .await
        .unwrap();
    node.catalog_fresh().await;
    node.catalog_fresh().await;
    let more = of_bounded(node.pump_for(&deployment.clock, TICK, 10).await);
    assert_eq!(
        more.count(),
        2,
        "5 units: never more shoppers than the stock can serve"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn another_node_takes_over_the_pump_within_the_lease_time_without_a_burst() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("lease", 100_000, 50.0, 100_000, 0)
        .await;
    let mut a = Node::start(&deployment, |_| {}).await;
    let mut b = Node::start(&deployment, |_| {}).await;
    a.knows("lease").await;
    b.knows("lease").await;
    let users: Vec<String> = (0..1000).map(|i| format!("l{i}")).collect();
    for chunk in users.chunks(200) {
        join_all(chunk.iter().map(|u| a.join(&deployment, "lease", u))).await;
    }
    let by_a = a.pump_for(&deployment.clock, TICK, 10).await;
    let by_b = b.pump_for(&deployment.clock, TICK, 10).await;
    assert!(!by_a.is_empty());
    assert!(by_b.is_empty(), "one pump per drop");
    assert_eq!(a.pump().leading(), vec!["lease".to_string()]);

    // A dies (stops ticking, never releases); B waits out the lease (600 ms).
    let died = std::time::Instant::now();
    let mut took_over = None;
    while died.elapsed() < Duration::from_secs(3) {
        if !b
            .pump_for(&deployment.clock, Duration::ZERO, 1)
            .await
            .is_empty()
            || !b.pump().leading().is_empty()
        {
            took_over = Some(died.elapsed());
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let took_over = took_over.expect("B took over");
    assert!(
        took_over <= Duration::from_millis(900),
        "took over after {took_over:?}"
    );
    // From the takeover on, B admits at the rate: no catch-up burst.
    let second_one = b.pump_for(&deployment.clock, TICK, 10).await.len();
    let second_two = b.pump_for(&deployment.clock, TICK, 10).await.len();
    assert!(
        second_one <= 50 && second_two <= 51,
        "{second_one}, {second_two} per second at 50/s"
    );
    assert!(second_two >= 49);
    eprintln!("pump failover: B took over {took_over:?} after A died");
    a.stop();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leavers_lose_their_place_and_cost_no_admission_capacity() {
    let deployment = Deployment::new().await;
    deployment
        .create_drop("leave", 100_000, 10.0, 100_000, 0)
        .await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("leave").await;
    let users: Vec<String> = (0..100).map(|i| format!("p{i:03}")).collect();
    for user in &users {
        node.join(&deployment, "leave", user).await;
    }
    // 30 % go silent; the others keep polling past abandon_after_secs (60).
    let stayers: Vec<String> = users
        .iter()
        .filter(|u| !u.ends_with(['0', '3', '7']))
        .cloned()
        .collect();
    assert_eq!(stayers.len(), 70);
    deployment.clock.advance(Duration::from_secs(61));
    for user in &stayers {
        let (status, _) = node.poll(&deployment, "leave", user).await;
        assert_eq!(status, 200);
    }
    // Ten seconds of pump time at 10/s: 100 admissions of capacity, all of it
    // going to the 70 still here, in order; the 30 are skipped.
    let admitted = node.pump_for(&deployment.clock, TICK, 100).await;
    assert_eq!(admitted, stayers);
    let (status, body) = node.poll(&deployment, "leave", "p000").await;
    assert_eq!((status, body["error"].as_str()), (404, Some("not_in_line")));
    let mut redis = deployment.redis().await;
    let skipped: u64 = redis::cmd("HGET")
        .arg(format!("{}:{{leave}}:q:progress", deployment.prefix))
        .arg("skipped")
        .query_async(&mut redis)
        .await
        .unwrap();
    assert_eq!(skipped, 30);
    // Liveness is kept only for fans in the line: the admitted and the
    // skipped left none behind, and a late sign of life adds none.
    node.room
        .lines
        .touch("leave", "p001", deployment.clock.now_ms())
        .await
        .unwrap();
    assert_eq!(liveness_entries(&deployment, "leave").await, 0);
    // A leaver who comes back joins at the back, counted alive again.
    let (_, back) = node.join(&deployment, "leave", "p000").await;
    assert_eq!(back["position"], 1);
    assert_eq!(liveness_entries(&deployment, "leave").await, 1);
    assert!(node.room.lines.leave("leave", "p000").await.unwrap());
    assert_eq!(liveness_entries(&deployment, "leave").await, 0);
}

/// Fans with a liveness entry in `drop`, over all its buckets.
async fn liveness_entries(deployment: &Deployment, drop: &str) -> u64 {
    let mut redis = deployment.redis().await;
    let pattern = format!("{}:{{{drop}}}:q:alive:*", deployment.prefix);
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(pattern)
        .query_async(&mut redis)
        .await
        .unwrap();
    let mut total = 0;
    for key in keys {
        let n: u64 = redis::cmd("HLEN")
            .arg(key)
            .query_async(&mut redis)
            .await
            .unwrap();
        total += n;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fans_are_told_sold_out_at_once_and_admission_resumes_when_stock_returns() {
    let deployment = Deployment::new().await;
    deployment.create_drop("gone", 2, 100.0, 100, 0).await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("gone").await;
    for user in ["x", "y", "z"] {
        node.join(&deployment, "gone", user).await;
    }
    // The sale service sells both units (as its Lua script would count them).
    let drop_key = format!("{}:{{gone}}:drop", deployment.prefix);
    let mut redis = deployment.redis().await;
    let _: () = redis::cmd("HSET")
        .arg(&drop_key)
        .arg("sold")
        .arg(2)
        .query_async(&mut redis)
        .await
        .unwrap();
    node.catalog_fresh().await;
    node.catalog_fresh().await;
    let (_, status) = node.poll(&deployment, "gone", "x").await;
    assert_eq!(status["state"], "sold_out", "{status}");
    assert!(
        node.pump_for(&deployment.clock, TICK, 10).await.is_empty(),
        "no admissions while sold out"
    );

    // One unit comes back (an order expired): admission resumes, one fan.
    let _: () = redis::cmd("HSET")
        .arg(&drop_key)
        .arg("sold")
        .arg(1)
        .query_async(&mut redis)
        .await
        .unwrap();
    node.catalog_fresh().await;
    node.catalog_fresh().await;
    let (_, status) = node.poll(&deployment, "gone", "x").await;
    assert_eq!(status["state"], "waiting");
    let admitted = node.pump_for(&deployment.clock, TICK, 10).await;
    assert_eq!(admitted, vec!["x".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_closed_drop_frees_its_line_and_answers_closed_without_a_place() {
    let deployment = Deployment::new().await;
    deployment.create_drop("shut", 100, 1.0, 100, 0).await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("shut").await;
    let users: Vec<String> = (0..50).map(|i| format!("s{i}")).collect();
    join_all(users.iter().map(|u| node.join(&deployment, "shut", u))).await;
    let admitted = node.pump_for(&deployment.clock, TICK, 20).await;
    assert!(!admitted.is_empty());
    let line_key = format!("{}:{{shut}}:q:line", deployment.prefix);
    let redis = deployment.redis().await;
    let exists = |key: String| {
        let mut redis = redis.clone();
        async move {
            redis::cmd("EXISTS")
                .arg(key)
                .query_async::<u64>(&mut redis)
                .await
                .unwrap()
        }
    };
    assert_eq!(exists(line_key.clone()).await, 1);
    assert_eq!(
        liveness_entries(&deployment, "shut").await,
        50 - admitted.len() as u64
    );

    // The operator closes the drop (as the sale service writes it).
    sqlx::query("UPDATE drops SET state = 'closed', updated_at = now() WHERE id = 'shut'")
        .execute(&deployment.db)
        .await
        .unwrap();
    node.catalog_fresh().await;
    node.catalog_fresh().await;
    node.pump_for(&deployment.clock, TICK, 1).await;
    assert_eq!(exists(line_key.clone()).await, 0, "the line is freed");
    assert_eq!(liveness_entries(&deployment, "shut").await, 0);

    // Everyone, waiting, admitted or new, is told it is closed; nobody gets
    // a place back.
    for user in [admitted[0].as_str(), "s40", "newcomer"] {
        let (status, body) = node.poll(&deployment, "shut", user).await;
        assert_eq!(
            (status, body["state"].as_str()),
            (200, Some("closed")),
            "{user}"
        );
        assert!(body["position"].is_null() && body["admission_token"].is_null());
        let (status, body) = node.join(&deployment, "shut", user).await;
        assert_eq!(
            (status, body["state"].as_str()),
            (200, Some("closed")),
            "{user}"
        );
    }
    assert_eq!(exists(line_key).await, 0, "joins after closing add nothing");
    assert_eq!(liveness_entries(&deployment, "shut").await, 0);
}
