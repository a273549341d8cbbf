//! Stock buckets against real Redis and PostgreSQL: buckets drained
//! unevenly (no phantom sold-out, exactly the stock sold), expiry in one
//! bucket sold to buyers of another (no undersell), the cap under one
//! user's racing requests, a transfer left half done, a rebuild of every
//! bucket, and the setting's bounds.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use futures::future::join_all;
use sale::gate::buckets::bucket_of;
use serde_json::{json, Value};

/// `n` user ids whose stock bucket among `k` is `b`.
fn users_in(b: u32, k: u32, n: usize, tag: &str) -> Vec<String> {
    (0..)
        .map(|i| format!("{tag}-{i}"))
        .filter(|user| bucket_of(user, k) == b)
        .take(n)
        .collect()
}

async fn bucketed_drop(app: &TestApp, id: &str, stock: i64, k: u32, extra: Value) {
    let mut body = json!({
        "id": id, "name": format!("Drop {id}"), "stock": stock, "price_cents": 4200,
        "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z", "stock_buckets": k,
    });
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let created = app.create_drop_with(body).await;
    assert_eq!(created["stock_buckets"], k, "{created}");
}

/// One purchase with a fresh key; a 503 (units moving between buckets) is
/// retried, as a client would.
async fn buy(app: &TestApp, drop: &str, user: &str, quantity: i64) -> (u16, Value) {
    let token = app.admit(user, drop);
    let key = uuid::Uuid::new_v4().to_string();
    let body = format!(r#"{{"quantity": {quantity}}}"#);
    for _ in 0..50 {
        let (status, answer) = app.place_in(drop, &token, &key, &body).await;
        if status != 503 {
            return (status, answer);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("still 503 after 50 tries");
}

/// Units free over every bucket plus units in flight, as Redis says.
async fn redis_left(app: &TestApp, drop: &str, k: u32) -> i64 {
    let parts = app.sale.gate.bucket_counters(drop, k).await.unwrap();
    parts
        .iter()
        .map(|p| {
            let p = p.expect("every bucket loaded");
            p.free() + p.lending
        })
        .sum()
}

/// Buyers who all hash to one bucket buy far more than its share, then
/// buyers of another bucket buy the rest: every purchase while units are
/// left anywhere succeeds, exactly the stock is sold, and then everyone,
/// whatever their bucket, is told sold out (and the line's mirror agrees).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buckets_drained_unevenly_sell_exactly_the_stock_without_phantom_sold_out() {
    let app = TestApp::spawn().await;
    let k = 4;
    bucketed_drop(&app, "uneven", 40, k, json!({})).await;
    for user in users_in(0, k, 30, "a") {
        let (status, body) = buy(&app, "uneven", &user, 1).await;
        assert_eq!(
            status, 201,
            "bucket 0 borrows while others have stock: {body}"
        );
    }
    assert_eq!(redis_left(&app, "uneven", k).await, 10);
    for user in users_in(1, k, 10, "b") {
        let (status, body) = buy(&app, "uneven", &user, 1).await;
        assert_eq!(status, 201, "{body}");
    }
    for b in 0..k {
        let user = &users_in(b, k, 1, "late")[0];
        let (status, body) = buy(&app, "uneven", user, 1).await;
        assert_eq!((status, body["error"].as_str()), (409, Some("sold_out")));
    }
    let (pg_units, per_user) = app.pg_holdings("uneven").await;
    assert_eq!(pg_units, 40, "exactly the stock is sold");
    assert!(per_user.iter().all(|(_, n)| *n == 1));
    assert_eq!(app.pg_held_column("uneven").await, 40);
    assert_eq!(redis_left(&app, "uneven", k).await, 0);
    assert_eq!(app.redis_sold("uneven").await, 40, "the line's mirror");
    let counters = app.sale.gate.counters("uneven").await.unwrap().unwrap();
    assert_eq!((counters.stock, counters.sold), (40, 40));
    app.stop().await;
}

/// 300 buyers, most of them of one bucket, race for 100 units over 8
/// buckets: exactly 100 are sold (no undersell from units stranded in a
/// bucket, no oversell), nobody over the cap, and PostgreSQL and Redis agree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_buyers_skewed_to_one_bucket_take_exactly_the_stock() {
    let app = TestApp::spawn().await;
    let k = 8;
    bucketed_drop(&app, "skew", 100, k, json!({})).await;
    let mut buyers = users_in(3, k, 200, "hot");
    buyers.extend((0..100).map(|n| format!("cold-{n}")));
    let results = join_all(buyers.iter().map(|user| buy(&app, "skew", user, 1))).await;
    let mut sold = 0;
    for (status, body) in &results {
        match status {
            201 => sold += body["quantity"].as_i64().unwrap(),
            // Asked for more than was left anywhere.
            409 => assert_eq!(body["error"], "sold_out", "{body}"),
            other => panic!("unexpected {other}: {body}"),
        }
    }
    assert_eq!(sold, 100, "every unit sold, none twice");
    let (pg_units, per_user) = app.pg_holdings("skew").await;
    assert_eq!(pg_units, 100);
    assert!(per_user.iter().all(|(_, n)| *n <= 2));
    assert_eq!(app.pg_held_column("skew").await, 100);
    assert_eq!(redis_left(&app, "skew", k).await, 0);
    app.stop().await;
}

/// Orders of one bucket's buyers expire; buyers of another bucket then get
/// those units (borrowed from where they came back): nothing undersold.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn units_expired_in_one_bucket_are_sold_to_buyers_of_another() {
    let clock = sale::clock::ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.expiry_sweep_ms = 3_600_000, Some(clock.clone())).await;
    let k = 4;
    bucketed_drop(&app, "exp", 8, k, json!({"order_timeout_secs": 60})).await;
    for user in users_in(0, k, 4, "first") {
        assert_eq!(buy(&app, "exp", &user, 2).await.0, 201);
    }
    let second = users_in(2, k, 5, "second");
    let (status, body) = buy(&app, "exp", &second[4], 1).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("sold_out")));

    clock.advance(chrono::Duration::seconds(61));
    assert_eq!(app.sale.sweep_expired().await.unwrap(), 4);
    assert_eq!(redis_left(&app, "exp", k).await, 8, "back in bucket 0");
    for user in &second[..4] {
        let (status, body) = buy(&app, "exp", user, 2).await;
        assert_eq!(status, 201, "bucket 2 borrows the expired units: {body}");
    }
    let (status, body) = buy(&app, "exp", &second[4], 1).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("sold_out")));
    assert_eq!(app.pg_holdings("exp").await.0, 8);
    assert_eq!(app.pg_held_column("exp").await, 8);
    app.stop().await;
}

/// One user fires 20 requests at once at a drop whose every bucket holds
/// one unit (so theirs must borrow): exactly the cap is sold to them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn one_users_racing_requests_stay_within_the_cap() {
    let app = TestApp::spawn().await;
    let k = 4;
    bucketed_drop(&app, "cap", 4, k, json!({"per_user_cap": 2})).await;
    let results = join_all((0..20).map(|_| buy(&app, "cap", "racer", 1))).await;
    let placed = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(placed, 2, "{results:?}");
    for (status, body) in &results {
        assert!(
            *status == 201 || body["error"] == "cap_exceeded",
            "{status} {body}"
        );
    }
    assert_eq!(app.pg_holdings("cap").await.0, 2);
    assert_eq!(redis_left(&app, "cap", k).await, 2);
    app.stop().await;
}

/// A process dies after lending (the donor debited, the receiver not yet
/// credited): the units are in flight, so a buyer is told to retry, never
/// sold out; the reconciler finishes the transfer, and they sell.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transfer_left_half_done_is_finished_by_the_reconciler() {
    // The background reconciler only at start: this test calls it. The
    // transfer is journalled at the manual clock's now, so that start pass
    // finds it too young to finish, unless a loaded box delays the pass
    // past the clock's advance below: then that pass finishes it.
    let clock = sale::clock::ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.reconcile_every_secs = 3600, Some(clock.clone())).await;
    let k = 2;
    bucketed_drop(&app, "half", 2, k, json!({})).await;
    // Bucket 1's only unit is lent to bucket 0 and the lender "dies".
    let donor = app.sale.gate.bucket_keys("half", 1);
    let epoch = app.sale.gate.bucket_counters("half", k).await.unwrap()[1]
        .unwrap()
        .epoch;
    let lent: i64 = redis::Script::new(include_str!("../src/scripts/lend.lua"))
        .key(donor.drop())
        .key(donor.lent())
        .arg("t-1")
        .arg(0)
        .arg(1)
        .arg(epoch)
        .arg(app.clock.now().timestamp_millis())
        .invoke_async(&mut app.redis.clone())
        .await
        .unwrap();
    assert_eq!(lent, 1);
    // Bucket 0 sells its own unit; the lent one is in flight.
    let first = &users_in(0, k, 1, "zero")[0];
    assert_eq!(buy(&app, "half", first, 1).await.0, 201);
    let buyer = &users_in(1, k, 1, "one")[0];
    let token = app.admit(buyer, "half");
    let (status, body) = app
        .place_in("half", &token, "k1", r#"{"quantity": 1}"#)
        .await;
    assert_eq!((status, body["error"].as_str()), (503, Some("unavailable")));
    assert_eq!(redis_left(&app, "half", k).await, 1, "nothing lost");
    // The lender stays dead past the grace: the reconciler's turn.
    clock.advance(chrono::Duration::seconds(60));

    let done = app
        .sale
        .reconcile(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    // 1, or 0 when the late start pass finished it: either way it is
    // finished (the buyer gets the unit) and only once (no third unit).
    assert!(done.transfers_finished <= 1, "{done:?}");
    let again = app.sale.reconcile(std::time::Duration::from_secs(60)).await;
    assert_eq!(again.unwrap().transfers_finished, 0, "credited once");
    assert_eq!(
        buy(&app, "half", buyer, 1).await.0,
        201,
        "the lent unit arrived"
    );
    let (status, body) = buy(&app, "half", "a-third", 1).await;
    assert_eq!((status, body["error"].as_str()), (409, Some("sold_out")));
    assert_eq!(app.pg_holdings("half").await.0, 2);
    app.stop().await;
}

/// Orders cancelled in PostgreSQL whose release never reached Redis, in
/// both buckets: the reconciler's next pass between full ones finds each in
/// its buyer's bucket and gives the units back, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lost_releases_in_each_bucket_are_mended_between_full_passes() {
    let app = TestApp::spawn_with(|c| c.reconcile_every_secs = 3600, None).await;
    let k = 2;
    bucketed_drop(&app, "mend", 4, k, json!({})).await;
    let mut passes = common::Passes::new(&app, None, 3600, 3600);
    assert!(passes.after(0).await.full);
    for b in 0..k {
        let user = &users_in(b, k, 1, "mend")[0];
        let (status, order) = buy(&app, "mend", user, 2).await;
        assert_eq!(status, 201, "{order}");
        app.cancel_unseen(&order, user).await;
    }
    assert_eq!(redis_left(&app, "mend", k).await, 0, "Redis never heard");
    let done = passes.after(0).await;
    assert_eq!((done.scanned, done.stale_released), (false, 2), "{done:?}");
    assert_eq!(redis_left(&app, "mend", k).await, 4);
    let again = passes.after(0).await;
    assert_eq!(again.stale_released, 0);
    app.stop().await;
}

/// One bucket's keys vanish (a master lost them); the next order rebuilds
/// every bucket from PostgreSQL under a new epoch, holdings where their
/// users live and the rest spread: selling goes on to exactly the stock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_lost_bucket_rebuilds_every_bucket_from_postgresql() {
    let app = TestApp::spawn().await;
    let k = 4;
    bucketed_drop(&app, "lost", 20, k, json!({})).await;
    for user in users_in(2, k, 7, "early") {
        assert_eq!(buy(&app, "lost", &user, 1).await.0, 201);
    }
    let lost = app.sale.gate.bucket_keys("lost", 2);
    let _: () = redis::cmd("DEL")
        .arg(lost.drop())
        .arg(lost.held())
        .arg(lost.reservations())
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    let mut sold = 7;
    for n in 0..30 {
        let (status, _) = buy(&app, "lost", &format!("later-{n}"), 1).await;
        if status == 201 {
            sold += 1;
        }
    }
    assert_eq!(sold, 20);
    assert_eq!(app.pg_holdings("lost").await.0, 20);
    let parts = app.sale.gate.bucket_counters("lost", k).await.unwrap();
    let epochs: std::collections::HashSet<i64> = parts.iter().map(|p| p.unwrap().epoch).collect();
    assert_eq!(epochs.len(), 1, "one epoch over every bucket");
    assert_eq!(redis_left(&app, "lost", k).await, 0);

    // A forced reload (as after a failover) keeps the count exact too.
    app.sale.reload_after_failover("lost").await.unwrap();
    assert_eq!(redis_left(&app, "lost", k).await, 0);
    let counters = app.sale.gate.counters("lost").await.unwrap().unwrap();
    assert_eq!(counters.sold, 20);
    app.stop().await;
}

/// The setting's bounds: 1 to 16, not for a seated sale; bad input is a
/// 422 and creates nothing.
#[tokio::test]
async fn stock_buckets_out_of_bounds_are_refused() {
    let app = TestApp::spawn().await;
    for k in [0, 17, -1] {
        let (status, body) = app
            .operator(
                reqwest::Method::POST,
                "/api/drops",
                json!({
                    "id": "bad", "name": "Bad", "stock": 10, "price_cents": 1,
                    "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z", "stock_buckets": k,
                }),
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (422, Some("invalid_field")),
            "{body}"
        );
    }
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM drops")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(count, 0);
    let plain = app.create_drop("plain", 5).await;
    assert_eq!(plain["stock_buckets"], 1, "the default");
    app.stop().await;
}
