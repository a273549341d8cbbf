//! The order lifecycle against real Redis and PostgreSQL: payment through the
//! sandbox provider and its signed webhook, expiry with racing sweepers, late
//! payment, cancel rules, and the orphan reconciler.
#![allow(clippy::unwrap_used, clippy::type_complexity)]

mod common;

use common::{Passes, TestApp, WEBHOOK_SECRET};
use sale::clock::ManualClock;
use serde_json::{json, Value};
use std::time::Duration;

fn manual_clock() -> ManualClock {
    ManualClock::new(chrono::Utc::now())
}

async fn buy(app: &TestApp, drop: &str, user: &str, quantity: i64) -> (u16, Value) {
    let token = app.admit(user, drop);
    app.place(
        &token,
        &format!("{user}-{}", uuid::Uuid::new_v4()),
        &format!(r#"{{"quantity":{quantity}}}"#),
    )
    .await
}

async fn drop_with_timeout(app: &TestApp, id: &str, stock: i64, timeout_secs: i64) {
    app.create_drop_with(json!({
        "id": id, "name": "Lifecycle", "stock": stock, "price_cents": 5000, "currency": "EUR",
        "opens_at": "2020-01-01T00:00:00Z", "order_timeout_secs": timeout_secs,
    }))
    .await;
}

/// Reserves 2 units for `user` in Redis only (key `<user>-key`), as a
/// process that died before recording leaves them; the order id.
async fn reserve_unrecorded(
    app: &TestApp,
    clock: &ManualClock,
    drop: &str,
    user: &str,
) -> uuid::Uuid {
    let order_id = uuid::Uuid::now_v7();
    let reserved = app
        .sale
        .gate
        .reserve(
            drop,
            user,
            "jti",
            2,
            sale::clock::Clock::now(clock).timestamp_millis(),
            order_id,
            &format!("{user}-key"),
        )
        .await
        .unwrap();
    assert!(matches!(reserved, sale::gate::Reservation::Reserved { .. }));
    order_id
}

async fn redis_held_users(app: &TestApp, drop: &str) -> i64 {
    redis::cmd("HLEN")
        .arg(format!("{}:{{{drop}}}:held", app.prefix))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn expiry_returns_stock_exactly_once_with_three_sweepers_racing() {
    let clock = manual_clock();
    // Background sweeps effectively off: the three explicit sweeps race.
    let app = TestApp::spawn_with(|c| c.expiry_sweep_ms = 3_600_000, Some(clock.clone())).await;
    let (peer1, peer2) = (app.peer().await, app.peer().await);
    drop_with_timeout(&app, "exp", 10, 60).await;
    let mut orders = Vec::new();
    for user in ["a", "b", "c", "d", "e"] {
        let (status, order) = buy(&app, "exp", user, 2).await;
        assert_eq!(status, 201, "{order}");
        orders.push(order["id"].as_str().unwrap().to_string());
    }
    assert_eq!(buy(&app, "exp", "f", 1).await.0, 409, "sold out");

    // Not due yet: nothing expires.
    clock.advance(chrono::Duration::seconds(59));
    assert_eq!(app.sale.sweep_expired().await.unwrap(), 0);

    clock.advance(chrono::Duration::seconds(2));
    let (one, two, three) = tokio::join!(
        app.sale.sweep_expired(),
        peer1.sale.sweep_expired(),
        peer2.sale.sweep_expired(),
    );
    let swept = one.unwrap() + two.unwrap() + three.unwrap();
    assert_eq!(swept, 5, "each order expired by exactly one sweeper");
    assert_eq!(app.sale.sweep_expired().await.unwrap(), 0);

    assert_eq!(app.pg_held_column("exp").await, 0);
    assert_eq!(
        app.redis_sold("exp").await,
        0,
        "units returned once, not twice"
    );
    assert_eq!(redis_held_users(&app, "exp").await, 0, "caps returned");
    for id in &orders {
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
            .bind(id)
            .fetch_one(&app.db)
            .await
            .unwrap();
        assert_eq!(status, "expired");
    }
    let stats = app.stats("exp").await;
    assert_eq!(stats["expired"]["orders"], 5);
    assert_eq!(stats["expired"]["units"], 10);
    assert_eq!(stats["pending"]["orders"], 0);
    assert_eq!(stats["remaining"], 10);

    // The same user buys again, up to the cap; the stock is there again.
    assert_eq!(buy(&app, "exp", "a", 2).await.0, 201);
    assert_eq!(buy(&app, "exp", "a", 1).await.0, 409, "cap still enforced");
    assert_eq!(buy(&app, "exp", "f", 2).await.0, 201);
    common::check_invariants(&app.db, "exp", &Default::default()).await;
    // Paying an expired order is refused.
    let (status, body) = app.pay("b", &orders[1], "card_ok").await;
    assert_eq!((status, body["error"].as_str()), (409, Some("not_pending")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_declined_payment_can_be_retried_and_a_good_one_pays() {
    let app = TestApp::spawn().await;
    drop_with_timeout(&app, "pay", 10, 3600).await;
    let (_, order) = buy(&app, "pay", "alice", 2).await;
    let id = order["id"].as_str().unwrap();

    let (status, payment) = app.pay("alice", id, "card_declined").await;
    assert_eq!(status, 202, "{payment}");
    assert_eq!(payment["status"], "processing");
    assert_eq!(payment["amount_cents"], 10_000);
    let order = app
        .wait_order("alice", id, |o| o["payment"]["status"] == "declined")
        .await;
    assert_eq!(order["status"], "pending");
    assert_eq!(order["payment"]["decline_code"], "card_declined");

    let (status, _) = app.pay("alice", id, "card_ok").await;
    assert_eq!(status, 202);
    let order = app.wait_order("alice", id, |o| o["status"] == "paid").await;
    assert_eq!(order["payment"]["status"], "succeeded");
    assert!(order["paid_at"].is_string());

    // Paid: no second payment, no cancel, still holding its units.
    let (status, body) = app.pay("alice", id, "card_ok").await;
    assert_eq!((status, body["error"].as_str()), (409, Some("not_pending")));
    assert_eq!(app.cancel("alice", id).await, 409);
    assert_eq!(app.pg_held_column("pay").await, 2);
    assert_eq!(app.stats("pay").await["paid"]["units"], 2);

    // Bad pay requests change nothing.
    let (_, other) = buy(&app, "pay", "bob", 1).await;
    let other = other["id"].as_str().unwrap();
    let (status, body) = app.pay("bob", other, "bitcoin").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_payment_method"))
    );
    let (status, body) = app.pay("mallory", other, "card_ok").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_order"))
    );
    let (status, body) = app.pay("bob", "not-a-uuid", "card_ok").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (404, Some("unknown_order"))
    );
    let payments: i64 =
        sqlx::query_scalar("SELECT count(*) FROM payments WHERE order_id = $1::uuid")
            .bind(other)
            .fetch_one(&app.db)
            .await
            .unwrap();
    assert_eq!(payments, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_returns_stock_but_not_while_a_payment_is_in_flight() {
    // card_delayed takes a minute here: the payment stays in flight.
    let app = TestApp::spawn_with(|c| c.sandbox_delayed_ms = 60_000, None).await;
    drop_with_timeout(&app, "cxl", 2, 3600).await;
    let (_, order) = buy(&app, "cxl", "alice", 2).await;
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.pay("alice", id, "card_delayed").await.0, 202);
    // A double click gets the same attempt.
    let (status, again) = app.pay("alice", id, "card_delayed").await;
    assert_eq!(status, 202);
    let cancel = |user: &'static str| {
        app.http
            .delete(app.url(&format!("/api/orders/{id}")))
            .bearer_auth(app.user_token(user))
            .send()
    };
    let response = cancel("alice").await.unwrap();
    assert_eq!(response.status(), 409);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "payment_in_progress");
    assert_eq!(app.pg_held_column("cxl").await, 2);

    // The attempt is declined by the provider (as the webhook would say): now cancellable.
    let event = json!({"id": "evt_decline_1", "type": "payment.declined",
        "payment_id": again["id"], "order_id": id, "amount_cents": 10_000, "currency": "EUR",
        "decline_code": "expired_card"});
    let body = serde_json::to_vec(&event).unwrap();
    assert_eq!(
        app.webhook(&body, WEBHOOK_SECRET, common::now() as i64)
            .await
            .0,
        200
    );
    assert_eq!(
        cancel("bob").await.unwrap().status(),
        404,
        "not bob's order"
    );
    let response = cancel("alice").await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(app.pg_held_column("cxl").await, 0);
    assert_eq!(app.redis_sold("cxl").await, 0);
    let response = cancel("alice").await.unwrap();
    assert_eq!(response.status(), 409, "cancelled twice");
    assert_eq!(app.redis_sold("cxl").await, 0, "units returned once");
    assert_eq!(buy(&app, "cxl", "carol", 2).await.0, 201);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_refuses_forged_stale_replayed_and_unknown_events() {
    let app = TestApp::spawn_with(|c| c.sandbox_delayed_ms = 600_000, None).await;
    drop_with_timeout(&app, "hook", 10, 3600).await;
    let (_, order) = buy(&app, "hook", "alice", 1).await;
    let order_id = order["id"].as_str().unwrap().to_string();
    let (_, payment) = app.pay("alice", &order_id, "card_delayed").await;
    let payment_id = payment["id"].as_str().unwrap().to_string();
    let event = |id: &str, payment: &str, amount: i64| {
        serde_json::to_vec(
            &json!({"id": id, "type": "payment.succeeded", "payment_id": payment,
            "order_id": order_id, "amount_cents": amount, "currency": "EUR"}),
        )
        .unwrap()
    };
    let now = common::now() as i64;
    let good = event("evt_1", &payment_id, 5000);

    let unchanged = |app: &TestApp| {
        let (db, order_id) = (app.db.clone(), order_id.clone());
        async move {
            let status: String =
                sqlx::query_scalar("SELECT status FROM orders WHERE id = $1::uuid")
                    .bind(order_id)
                    .fetch_one(&db)
                    .await
                    .unwrap();
            let events: i64 = sqlx::query_scalar("SELECT count(*) FROM payment_events")
                .fetch_one(&db)
                .await
                .unwrap();
            assert_eq!((status.as_str(), events), ("pending", 0), "nothing changed");
        }
    };

    let cases: Vec<(&str, Vec<u8>, &str, i64, u16, &str)> = vec![
        (
            "wrong secret",
            good.clone(),
            "not-the-secret",
            now,
            400,
            "invalid_signature",
        ),
        (
            "stale, 6 minutes old",
            good.clone(),
            WEBHOOK_SECRET,
            now - 360,
            400,
            "stale_signature",
        ),
        (
            "from the future",
            good.clone(),
            WEBHOOK_SECRET,
            now + 360,
            400,
            "stale_signature",
        ),
        (
            "unknown payment",
            event("evt_2", &uuid::Uuid::new_v4().to_string(), 5000),
            WEBHOOK_SECRET,
            now,
            404,
            "unknown_payment",
        ),
        (
            "wrong amount",
            event("evt_3", &payment_id, 1),
            WEBHOOK_SECRET,
            now,
            422,
            "event_mismatch",
        ),
        (
            "not JSON",
            b"payment ok".to_vec(),
            WEBHOOK_SECRET,
            now,
            400,
            "invalid_json",
        ),
        (
            "not an event",
            br#"{"id":"evt_4","type":"payment.teleported"}"#.to_vec(),
            WEBHOOK_SECRET,
            now,
            422,
            "invalid_event",
        ),
    ];
    for (what, body, secret, timestamp, status, code) in cases {
        let (got, answer) = app.webhook(&body, secret, timestamp).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{what}: {answer}"
        );
        unchanged(&app).await;
    }
    // No signature at all; a body altered after signing.
    let response = app
        .http
        .post(app.url("/api/payments/webhook"))
        .header("content-type", "application/json")
        .body(good.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let header = sale::payments::signature::sign(WEBHOOK_SECRET.as_bytes(), now, &good);
    let tampered = event("evt_1", &payment_id, 50);
    let response = app
        .http
        .post(app.url("/api/payments/webhook"))
        .header(sale::payments::signature::HEADER, header)
        .body(tampered)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    unchanged(&app).await;

    // The genuine event pays the order once; its replay changes nothing.
    let (status, answer) = app.webhook(&good, WEBHOOK_SECRET, now).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    assert_eq!(answer["order_status"], "paid");
    let (status, answer) = app.webhook(&good, WEBHOOK_SECRET, now + 5).await;
    assert_eq!(
        (status, answer["result"].as_str()),
        (200, Some("duplicate"))
    );
    let declined_after = serde_json::to_vec(
        &json!({"id": "evt_late_decline", "type": "payment.declined",
        "payment_id": payment_id, "order_id": order_id, "amount_cents": 5000, "currency": "EUR"}),
    )
    .unwrap();
    assert_eq!(
        app.webhook(&declined_after, WEBHOOK_SECRET, now).await.0,
        200
    );
    let order = app.order("alice", &order_id).await;
    assert_eq!(order["status"], "paid");
    assert_eq!(
        order["payment"]["status"], "succeeded",
        "a decline after success is ignored"
    );
    assert_eq!(app.pg_held_column("hook").await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_late_payment_after_resale_is_refunded_never_revived() {
    let clock = manual_clock();
    let app = TestApp::spawn_with(
        |c| {
            c.sandbox_delayed_ms = 1500;
            c.expiry_sweep_ms = 3_600_000;
        },
        Some(clock.clone()),
    )
    .await;
    drop_with_timeout(&app, "late", 2, 60).await;
    let (_, order) = buy(&app, "late", "alice", 2).await;
    let id = order["id"].as_str().unwrap().to_string();
    assert_eq!(app.pay("alice", &id, "card_delayed").await.0, 202);

    // Before the bank answers, the order expires and bob buys the stock.
    clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.sale.sweep_expired().await.unwrap(), 1);
    let (status, bob) = buy(&app, "late", "bob", 2).await;
    assert_eq!(status, 201, "{bob}");

    let order = app
        .wait_order("alice", &id, |o| o["status"] == "refunded")
        .await;
    assert_eq!(order["paid_at"], Value::Null);
    let order = app
        .wait_order("alice", &id, |o| o["payment"]["status"] == "refunded")
        .await;
    assert_eq!(order["status"], "refunded");
    let held = common::check_invariants(&app.db, "late", &Default::default()).await;
    assert_eq!(held, 2, "only bob's units are held");
    assert_eq!(app.redis_sold("late").await, 2);
    let stats = app.stats("late").await;
    assert_eq!(stats["refunded"]["orders"], 1);
    assert_eq!(stats["pending"]["units"], 2);
    assert_eq!(stats["remaining"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orphan_reservations_are_released_within_the_grace_period() {
    let clock = manual_clock();
    let app = TestApp::spawn_with(|c| c.expiry_sweep_ms = 3_600_000, Some(clock.clone())).await;
    drop_with_timeout(&app, "orph", 4, 3600).await;
    let (status, recorded) = buy(&app, "orph", "alice", 2).await;
    assert_eq!(status, 201);

    // A process reserved and died before recording (simulated: reserve only).
    let orphan_id = reserve_unrecorded(&app, &clock, "orph", "bob").await;
    // And one order was cancelled in PostgreSQL whose Redis release was lost.
    app.cancel_unseen(&recorded, "alice").await;
    assert_eq!(app.redis_sold("orph").await, 4);
    assert_eq!(
        buy(&app, "orph", "carol", 1).await.0,
        409,
        "sold out meanwhile"
    );

    let grace = Duration::from_secs(60);
    let early = app.sale.reconcile(grace).await.unwrap();
    assert_eq!(
        (early.orphans_released, early.stale_released),
        (0, 0),
        "young reservations are left alone"
    );
    clock.advance(chrono::Duration::seconds(61));
    let done = app.sale.reconcile(grace).await.unwrap();
    assert_eq!(
        (done.orphans_released, done.stale_released),
        (1, 1),
        "{done:?}"
    );
    assert_eq!(app.redis_sold("orph").await, 0);
    let again = app.sale.reconcile(grace).await.unwrap();
    assert_eq!((again.orphans_released, again.stale_released), (0, 0));

    // Bob's retry with the same key reserves afresh (the key was forgotten).
    let token = app.admit("bob", "orph");
    let (status, order) = app.place(&token, "bob-key", r#"{"quantity":2}"#).await;
    assert_eq!(status, 201, "{order}");
    assert_ne!(order["id"].as_str().unwrap(), orphan_id.to_string());
    assert_eq!(buy(&app, "orph", "carol", 2).await.0, 201);
    common::check_invariants(&app.db, "orph", &Default::default()).await;
    assert_eq!(app.redis_sold("orph").await, 4);
}

/// The background reconciler's passes between full ones look a record up in
/// PostgreSQL once, when it crosses the grace, instead of every pass for
/// the order's life; a full pass comes back every `full_every`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_full_passes_a_record_is_looked_up_once_when_it_crosses_the_grace() {
    let clock = manual_clock();
    let app = TestApp::spawn_for_passes(&clock).await;
    drop_with_timeout(&app, "once", 10, 3600).await;
    assert_eq!(buy(&app, "once", "alice", 2).await.0, 201);
    assert_eq!(buy(&app, "once", "bob", 1).await.0, 201);
    let mut passes = Passes::new(&app, Some(&clock), 30, 600);
    let mut pass = async |secs: i64| {
        let done = passes.after(secs).await;
        (done.full, done.scanned, done.checked)
    };

    let first = pass(0).await;
    assert_eq!(first, (true, true, 0), "a process's first pass is full");
    let scan = pass(61).await;
    assert_eq!(scan, (false, true, 2), "both crossed the grace");
    assert_eq!(pass(10).await, (false, false, 0), "no scan within 30 s");
    assert_eq!(pass(30).await, (false, true, 0), "not looked up again");
    assert_eq!(buy(&app, "once", "carol", 1).await.0, 201);
    assert_eq!(pass(30).await, (false, true, 0), "carol's is too young");
    assert_eq!(pass(40).await, (false, true, 1), "carol's crossed it");
    assert_eq!(pass(30).await, (false, true, 0));
    let full = pass(600).await;
    assert_eq!(full, (true, true, 3), "the full pass looks all up");
    assert_eq!(pass(30).await, (false, true, 0));
    assert_eq!(app.redis_sold("once").await, 4, "nothing was released");
    common::check_invariants(&app.db, "once", &Default::default()).await;
}

/// An order that stopped holding in PostgreSQL (cancelled, expired) whose
/// release never reached Redis is released by the next pass between full
/// ones, though its record was looked up (holding) long before; an orphan
/// is released at the first scan after it crossed the grace.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_full_passes_lost_releases_and_orphans_are_still_released() {
    let clock = manual_clock();
    let app = TestApp::spawn_for_passes(&clock).await;
    drop_with_timeout(&app, "lost", 6, 600).await;
    let (_, alice) = buy(&app, "lost", "alice", 2).await;
    let (_, bob) = buy(&app, "lost", "bob", 2).await;
    let mut passes = Passes::new(&app, Some(&clock), 60, 3600);
    passes.after(0).await;
    assert_eq!(passes.after(61).await.checked, 2, "both looked up: holding");

    // Alice cancels; the process dies before Redis hears of it.
    app.cancel_unseen(&alice, "alice").await;
    assert_eq!(app.redis_sold("lost").await, 4);
    let done = passes.after(10).await;
    assert_eq!(
        (done.full, done.scanned, done.stale_released),
        (false, false, 1),
        "{done:?}"
    );
    assert_eq!(app.redis_sold("lost").await, 2);
    assert_eq!(passes.after(10).await.stale_released, 0, "released once");

    // Bob's order expires; the sweeper dies before releasing it in Redis.
    clock.advance(chrono::Duration::seconds(600));
    let now = sale::clock::Clock::now(&clock);
    let expired = sale::store::orders::expire_due(&app.db, now, 10)
        .await
        .unwrap();
    assert_eq!(expired.len(), 1);
    let bob_id: uuid::Uuid = bob["id"].as_str().unwrap().parse().unwrap();
    assert_eq!(expired[0].id, bob_id);
    let done = passes.after(10).await;
    assert_eq!((done.full, done.stale_released), (false, 1), "{done:?}");
    assert_eq!(app.redis_sold("lost").await, 0);
    assert_eq!(
        passes.after(60).await.stale_released,
        0,
        "and the scan finds none"
    );

    // A process reserves for carol and dies before recording.
    reserve_unrecorded(&app, &clock, "lost", "carol").await;
    let done = passes.after(30).await;
    assert_eq!(
        (done.scanned, done.orphans_released),
        (false, 0),
        "{done:?}"
    );
    let done = passes.after(31).await;
    assert_eq!(
        (done.full, done.scanned, done.checked, done.orphans_released),
        (false, true, 1, 1),
        "{done:?}"
    );
    assert_eq!(app.redis_sold("lost").await, 0);
    common::check_invariants(&app.db, "lost", &Default::default()).await;
}

/// What a pass between full ones cannot see (an order ended by hand in
/// SQL, dated before the last pass) the next full pass releases.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_passes_between_miss_the_next_full_pass_releases() {
    let clock = manual_clock();
    let app = TestApp::spawn_for_passes(&clock).await;
    drop_with_timeout(&app, "hand", 4, 3600).await;
    let (_, order) = buy(&app, "hand", "alice", 2).await;
    let mut passes = Passes::new(&app, Some(&clock), 60, 600);
    passes.after(61).await;
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    sqlx::query("UPDATE orders SET status = 'cancelled', updated_at = now() - interval '1 hour' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::query("UPDATE drops SET held = held - 2 WHERE id = 'hand'")
        .execute(&app.db)
        .await
        .unwrap();
    let done = passes.after(10).await;
    assert_eq!((done.full, done.stale_released), (false, 0), "{done:?}");
    assert_eq!(app.redis_sold("hand").await, 2);
    let done = passes.after(600).await;
    assert_eq!((done.full, done.stale_released), (true, 1), "{done:?}");
    assert_eq!(app.redis_sold("hand").await, 0);
    common::check_invariants(&app.db, "hand", &Default::default()).await;
}

/// A lost release is mended however many orders ended meanwhile (more
/// than a page of them), and also when the transaction that ended it began
/// before the last pass read (its `updated_at` is its start) and committed
/// after: the next pass reads back a margin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_release_behind_a_wave_of_endings_and_a_slow_commit_is_mended() {
    let clock = manual_clock();
    let app = TestApp::spawn_for_passes(&clock).await;
    drop_with_timeout(&app, "wave", 4, 3600).await;
    let (_, order) = buy(&app, "wave", "alice", 2).await;
    let mut passes = Passes::new(&app, Some(&clock), 3600, 3600);
    let first = passes.after(61).await;
    assert_eq!((first.full, first.checked), (true, 1));

    // 1,200 orders of others ended (their releases reached Redis), dated
    // before alice's cancel, which began 20 s before that pass's reading.
    sqlx::query(
        "INSERT INTO orders (id, drop_id, user_id, quantity, unit_price_cents, total_cents, \
           currency, status, idempotency_key, created_at, expires_at, updated_at) \
         SELECT gen_random_uuid(), 'wave', 'gone-' || n, 1, 5000, 5000, 'EUR', 'expired', 'k' || n, \
           now(), now(), now() - interval '30 seconds' + n * interval '1 millisecond' \
         FROM generate_series(1, 1200) n",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
    sqlx::query("UPDATE orders SET status = 'cancelled', updated_at = now() - interval '20 seconds' WHERE id = $1")
        .bind(id)
        .execute(&app.db)
        .await
        .unwrap();
    assert!(
        sale::store::orders::ended_since(&app.db, Some(chrono::Utc::now()))
            .await
            .unwrap()
            .orders
            .is_empty(),
        "dated before now"
    );
    assert_eq!(app.redis_sold("wave").await, 2);
    let done = passes.after(10).await;
    assert_eq!((done.scanned, done.stale_released), (false, 1), "{done:?}");
    assert_eq!(app.redis_sold("wave").await, 0);
}
