//! Seated sales against real Redis and PostgreSQL: fans racing for the same
//! seats, all-or-nothing holds, a hold through an order to a payment,
//! lapse and release returning seats once, the cap across holds and orders,
//! best available, the bad-input matrix, PostgreSQL refusing a double claim
//! written behind the fast path's back, and a rebuild after Redis lost the
//! sale.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, OPERATOR_KEY};
use sale::batching::KeptConnection;
use sale::clock::ManualClock;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::time::Duration;

fn seat(row: &str, number: u32) -> String {
    format!("stalls-{row}-{number}")
}

/// PostgreSQL's view: every claim live at the service's now, (seat, hold).
async fn live_claims(app: &TestApp, event: &str) -> Vec<(String, uuid::Uuid)> {
    sqlx::query_as("SELECT seat_id, hold_id FROM seat_claims WHERE event_id = $1 AND live @> $2")
        .bind(event)
        .bind(app.clock.now())
        .fetch_all(&app.db)
        .await
        .unwrap()
}

/// Every seat held or sold in Redis: seat index -> hold id.
async fn redis_owners(app: &TestApp, drop: &str) -> HashMap<String, String> {
    redis::cmd("HGETALL")
        .arg(format!("{}:{{{drop}}}:seat:owner", app.prefix))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cold_seated_sale_is_loaded_once_however_many_fans_arrive_at_once() {
    let app = TestApp::spawn().await;
    app.seated_sale("herd").await;
    let before = app.sale.seated_sale_loads();
    let loads: Vec<_> = (0..200)
        .map(|_| {
            let sale = app.sale.clone();
            tokio::spawn(async move { sale.seated_sale("herd").await.map(|s| s.drop_id.clone()) })
        })
        .collect();
    for load in loads {
        assert_eq!(load.await.unwrap().unwrap(), "herd");
    }
    assert_eq!(
        app.sale.seated_sale_loads() - before,
        1,
        "200 fans at once on a cold process read PostgreSQL once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn five_hundred_fans_race_for_the_same_twenty_seats() {
    let app = TestApp::spawn().await;
    app.seated_sale("race").await;
    // Twenty seats of row A (a block of 12 and part of another), asked for
    // in overlapping pairs by 500 fans at once.
    let seats: Vec<String> = (3..=22).map(|n| seat("A", n)).collect();
    let fans: Vec<_> = (0..500)
        .map(|n| {
            let (app_base, token) = (app.base.clone(), app.admit(&format!("f{n}"), "race"));
            let first = seats[n % 19].clone();
            let second = seats[(n * 7 + 1) % 20].clone();
            let pair = if first == second {
                vec![first]
            } else {
                vec![first, second]
            };
            tokio::spawn(async move {
                let response = reqwest::Client::new()
                    .post(format!("{app_base}/api/drops/race/holds"))
                    .bearer_auth(token)
                    .header("idempotency-key", format!("k{n}"))
                    .json(&json!({ "seats": pair }))
                    .send()
                    .await
                    .unwrap();
                let status = response.status().as_u16();
                (pair, status, response.json::<Value>().await.unwrap())
            })
        })
        .collect();
    let mut held: Vec<String> = Vec::new();
    let mut statuses: HashMap<u16, usize> = HashMap::new();
    for fan in fans {
        let (pair, status, body) = fan.await.unwrap();
        *statuses.entry(status).or_default() += 1;
        match status {
            201 => {
                let got: Vec<String> = serde_json::from_value(body["seats"].clone()).unwrap();
                assert_eq!(got, pair, "a hold takes exactly the seats asked for");
                held.extend(got);
            }
            409 => {
                assert_eq!(body["error"], "seats_taken", "{body}");
                let taken: Vec<String> = serde_json::from_value(body["taken"].clone()).unwrap();
                assert!(!taken.is_empty() && taken.iter().all(|t| pair.contains(t)));
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    eprintln!("answers: {statuses:?}");
    let unique: HashSet<&String> = held.iter().collect();
    assert_eq!(unique.len(), held.len(), "no seat held twice");
    assert!(
        held.len() <= 20 && held.len() >= 10,
        "{} seats held",
        held.len()
    );
    // Redis and PostgreSQL agree seat by seat, all or nothing.
    let claims = live_claims(&app, "race-show").await;
    let claimed: HashSet<String> = claims.iter().map(|(seat, _)| seat.clone()).collect();
    assert_eq!(claimed, unique.into_iter().cloned().collect::<HashSet<_>>());
    assert_eq!(redis_owners(&app, "race").await.len(), held.len());
    let snapshot = app.seats("race").await;
    let states = snapshot["states"].as_str().unwrap();
    assert_eq!(states.chars().filter(|c| *c == 'h').count(), held.len());
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_hold_becomes_an_order_of_exactly_its_seats_and_is_paid() {
    let app = TestApp::spawn().await;
    app.seated_sale("pay").await;
    let (status, hold) = app
        .hold(
            "pay",
            "ann",
            "h1",
            json!({"seats": [seat("A", 10), seat("A", 11)]}),
        )
        .await;
    assert_eq!(status, 201, "{hold}");
    assert_eq!(hold["total_cents"], 2 * 8900);
    // The same request again: the same hold.
    let (again, same) = app
        .hold(
            "pay",
            "ann",
            "h1",
            json!({"seats": [seat("A", 10), seat("A", 11)]}),
        )
        .await;
    assert_eq!((again, &same["id"]), (200, &hold["id"]));
    let token = app.admit("ann", "pay");
    let body = json!({"hold_id": hold["id"]}).to_string();
    let (status, order) = app.place_in("pay", &token, "o1", &body).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["quantity"], 2);
    assert_eq!(order["total_cents"], 2 * 8900);
    assert_eq!(order["hold_id"], hold["id"]);
    let (retry, same_order) = app.place_in("pay", &token, "o1", &body).await;
    assert_eq!((retry, &same_order["id"]), (200, &order["id"]));
    let id = order["id"].as_str().unwrap();
    assert_eq!(app.pay("ann", id, "card_ok").await.0, 202);
    let paid = app.wait_order("ann", id, |o| o["status"] == "paid").await;
    assert_eq!(paid["total_cents"], 2 * 8900);
    let snapshot = app.seats("pay").await;
    let states: Vec<char> = snapshot["states"].as_str().unwrap().chars().collect();
    // Row A seats 10 and 11 are indices 9 and 10.
    assert_eq!((states[9], states[10]), ('s', 's'));
    let held: i64 = sqlx::query_scalar("SELECT held FROM drops WHERE id = 'pay'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(held, 2);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_live_hold_can_be_ordered_after_the_admission_token_expired() {
    let app = TestApp::spawn().await;
    app.seated_sale("late").await;
    let (status, hold) = app
        .hold("late", "ann", "h1", json!({"seats": [seat("B", 3)]}))
        .await;
    assert_eq!(status, 201, "{hold}");
    // Ann's admission token runs out while she types her card number.
    let lapsed = |user: &str, ago: u64| {
        let issued = common::now() - 600 - ago;
        app.signer
            .sign(&admission::token::AdmissionClaims::new(
                user, "late", issued, 600,
            ))
            .unwrap()
    };
    let expired = lapsed("ann", 100);
    // A new hold or a plain order needs a valid token...
    let (status, body) = app
        .place_in("late", &expired, "q1", r#"{"quantity": 1}"#)
        .await;
    assert_eq!(status, 401, "{body}");
    // ...the order of the live hold she made in time does not.
    let by_hold = json!({"hold_id": hold["id"]}).to_string();
    let (status, order) = app.place_in("late", &expired, "o1", &by_hold).await;
    assert_eq!(status, 201, "{order}");
    assert_eq!(order["hold_id"], hold["id"]);
    // Not someone else's hold, and not with a token long expired.
    let (_, bob_hold) = app
        .hold("late", "bob", "h2", json!({"seats": [seat("B", 5)]}))
        .await;
    let bob_body = json!({"hold_id": bob_hold["id"]}).to_string();
    let (status, _) = app
        .place_in("late", &lapsed("ann", 100), "o2", &bob_body)
        .await;
    assert_eq!(status, 404);
    let (status, _) = app
        .place_in("late", &lapsed("bob", 2000), "o3", &bob_body)
        .await;
    assert_eq!(status, 401);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn lapsed_and_released_holds_return_their_seats_exactly_once() {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.expiry_sweep_ms = 3_600_000, Some(clock.clone())).await;
    app.seated_sale_with(
        "lapse",
        json!({"seating": {"prices": {"cat1": 8900}, "hold_secs": 60}}),
    )
    .await;
    let pair = json!({"seats": [seat("B", 8), seat("B", 9)]});
    let (status, first) = app.hold("lapse", "ann", "k", pair.clone()).await;
    assert_eq!(status, 201, "{first}");
    assert_eq!(app.hold("lapse", "bob", "k", pair.clone()).await.0, 409);
    // Past the hold time, before any sweep: Bob gets the seats at once.
    clock.advance(chrono::Duration::seconds(61));
    let (status, second) = app.hold("lapse", "bob", "k2", pair.clone()).await;
    assert_eq!(
        status, 201,
        "correctness does not wait for the sweeper: {second}"
    );
    // Ann's lapsed hold cannot be ordered.
    let body = json!({"hold_id": first["id"]}).to_string();
    let (status, refused) = app
        .place_in("lapse", &app.admit("ann", "lapse"), "o", &body)
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("hold_lapsed")),
        "{refused}"
    );
    assert_eq!(app.redis_sold("lapse").await, 2, "counted once");
    // Bob gives his up a moment later; twice: the second changes nothing.
    clock.advance(chrono::Duration::seconds(1));
    let release = |id: &Value| {
        app.http
            .delete(app.url(&format!("/api/holds/{}", id.as_str().unwrap())))
            .bearer_auth(app.user_token("bob"))
            .send()
    };
    assert_eq!(release(&second["id"]).await.unwrap().status(), 200);
    assert_eq!(release(&second["id"]).await.unwrap().status(), 409);
    assert_eq!(app.redis_sold("lapse").await, 0);
    assert!(live_claims(&app, "lapse-show").await.is_empty());
    // A hold nobody touched lapses; the sweeper tidies it exactly once.
    let (status, third) = app.hold("lapse", "cy", "k", pair.clone()).await;
    assert_eq!(status, 201, "{third}");
    clock.advance(chrono::Duration::seconds(61));
    let gate = app.sale.seat_gate.clone();
    let lapsed = sale::seats::lapse::lapse_all(&app.db, &gate, &clock)
        .await
        .unwrap();
    assert_eq!(lapsed, 1);
    assert_eq!(
        sale::seats::lapse::lapse_all(&app.db, &gate, &clock)
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.redis_sold("lapse").await, 0);
    let states = app.seats("lapse").await["states"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(!states.contains('h'), "{states}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_counts_holds_and_orders_together() {
    let app = TestApp::spawn().await;
    app.seated_sale("cap").await;
    let (status, one) = app
        .hold("cap", "ann", "1", json!({"seats": [seat("C", 8)]}))
        .await;
    assert_eq!(status, 201, "{one}");
    let token = app.admit("ann", "cap");
    let body = json!({"hold_id": one["id"]}).to_string();
    assert_eq!(app.place_in("cap", &token, "o", &body).await.0, 201);
    let (status, _) = app
        .hold("cap", "ann", "2", json!({"seats": [seat("C", 9)]}))
        .await;
    assert_eq!(status, 201);
    let (status, refused) = app
        .hold("cap", "ann", "3", json!({"seats": [seat("C", 10)]}))
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (409, Some("cap_exceeded"))
    );
    let (status, refused) = app
        .hold(
            "cap",
            "bob",
            "1",
            json!({"seats": [seat("D", 1), seat("D", 2), seat("D", 3)]}),
        )
        .await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (422, Some("invalid_seats"))
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn best_available_holds_adjacent_seats_near_the_stage_and_says_when_none() {
    let app = TestApp::spawn().await;
    app.seated_sale_with("best", json!({"per_user_cap": 10}))
        .await;
    let (status, best) = app
        .hold(
            "best",
            "ann",
            "1",
            json!({"best_available": {"quantity": 2, "category": "cat1"}}),
        )
        .await;
    assert_eq!(status, 201, "{best}");
    let seats: Vec<String> = serde_json::from_value(best["seats"].clone()).unwrap();
    // The front row (A), next to each other, around the middle (12, 13).
    assert_eq!(seats, [seat("A", 12), seat("A", 13)]);
    // Category 1 holds 60 seats in blocks of 12; 10 at once fit in a block.
    let (status, ten) = app
        .hold(
            "best",
            "bob",
            "1",
            json!({"best_available": {"quantity": 10, "category": "cat1"}}),
        )
        .await;
    assert_eq!(status, 201, "{ten}");
    let rows: HashSet<String> = serde_json::from_value::<Vec<String>>(ten["seats"].clone())
        .unwrap()
        .iter()
        .map(|s| s.split('-').nth(1).unwrap().to_string())
        .collect();
    assert_eq!(rows.len(), 1, "one row: {ten}");
    let (status, none) = app
        .hold(
            "best",
            "cy",
            "1",
            json!({"best_available": {"quantity": 10, "category": "cat3"}}),
        )
        .await;
    assert_eq!(status, 201, "cat3 has long blocks: {none}");
    let (status, none) = app
        .hold(
            "best",
            "di",
            "1",
            json!({"best_available": {"quantity": 10, "category": "cat2",
            "accessible": true}}),
        )
        .await;
    assert_eq!(
        (status, none["error"].as_str()),
        (409, Some("no_adjacent_seats")),
        "{none}"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_seat_requests_get_a_clear_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    app.seated_sale("bad").await;
    app.seated_sale("other").await;
    app.create_drop("units", 10).await;
    let expect = |(status, body): (u16, Value), want: u16, code: &str| {
        assert_eq!(
            (status, body["error"].as_str()),
            (want, Some(code)),
            "{body}"
        );
    };
    let hold = |body: Value| app.hold("bad", "ann", "k", body);
    expect(
        hold(json!({"seats": ["stalls-Z-99"]})).await,
        422,
        "invalid_seats",
    );
    expect(
        hold(json!({"seats": [seat("A", 1), seat("A", 1)]})).await,
        422,
        "invalid_seats",
    );
    expect(hold(json!({"seats": []})).await, 422, "invalid_seats");
    expect(
        hold(json!({"seats": [seat("A", 1)], "best_available":
        {"quantity": 1, "category": "cat1"}}))
        .await,
        422,
        "invalid_seats",
    );
    expect(
        hold(json!({"best_available": {"quantity": 1, "category": "nope"}})).await,
        422,
        "invalid_seats",
    );
    expect(hold(json!({"seat": ["x"]})).await, 422, "invalid_field");
    // A token of another sale.
    let response = app
        .http
        .post(app.url("/api/drops/bad/holds"))
        .bearer_auth(app.admit("ann", "other"))
        .header("idempotency-key", "k")
        .json(&json!({"seats": [seat("A", 1)]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    // Holding on a sale of units; ordering units on a seated sale.
    expect(
        app.hold("units", "ann", "k", json!({"seats": [seat("A", 1)]}))
            .await,
        409,
        "not_seated",
    );
    let (status, body) = app
        .place_in("bad", &app.admit("ann", "bad"), "q", r#"{"quantity":1}"#)
        .await;
    expect((status, body), 409, "seated_sale");
    // Someone else's hold.
    let (_, bobs) = app
        .hold("bad", "bob", "k", json!({"seats": [seat("A", 5)]}))
        .await;
    let body = json!({"hold_id": bobs["id"]}).to_string();
    let (status, body) = app
        .place_in("bad", &app.admit("ann", "bad"), "o", &body)
        .await;
    expect((status, body), 404, "unknown_hold");
    // Nothing of the refused requests is held.
    assert_eq!(app.redis_sold("bad").await, 1);
    assert_eq!(live_claims(&app, "bad-show").await.len(), 1);
    // A malformed map and one that is far too big.
    let venue = |map: Value| {
        app.http
            .post(app.url("/api/venues"))
            .bearer_auth(OPERATOR_KEY)
            .json(
                &json!({"id": "v", "name": "V", "city": "C", "country": "DE",
                "timezone": "Europe/Berlin", "lat": 1.0, "lon": 1.0, "map": map}),
            )
            .send()
    };
    let mut twice: Value =
        serde_json::from_str(&sale::seating::generate::small_hall().to_json()).unwrap();
    twice["sections"][0]["rows"][0]["seats"][1]["id"] =
        twice["sections"][0]["rows"][0]["seats"][0]["id"].clone();
    let response = venue(twice).await.unwrap();
    assert_eq!(response.status(), 422);
    let error: Value = response.json().await.unwrap();
    assert!(
        error["message"].as_str().unwrap().contains("twice"),
        "{error}"
    );
    let huge = json!({"format": "lineup.seatmap/1", "junk": "x".repeat(17 * 1024 * 1024)});
    match venue(huge).await {
        Ok(response) => assert_eq!(response.status(), 413),
        // Answered 413 and closed before the upload finished.
        Err(error) => assert!(error.is_request(), "{error}"),
    }
    let venues: i64 = sqlx::query_scalar("SELECT count(*) FROM venues WHERE id = 'v'")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(venues, 0, "refused maps create nothing");
    let response = app
        .http
        .post(app.url("/api/venues"))
        .bearer_auth(OPERATOR_KEY)
        .json(
            &json!({"id": "tz", "name": "V", "city": "C", "country": "DE",
            "timezone": "Mars/Olympus", "lat": 1.0, "lon": 1.0}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 422);
    app.stop().await;
}

/// The last line of defence: a claim written straight into PostgreSQL
/// (behind the fast path's back) on a seat already held is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refuses_a_double_claim_written_behind_the_fast_paths_back() {
    let app = TestApp::spawn().await;
    app.seated_sale("fence").await;
    let (status, hold) = app
        .hold("fence", "ann", "k", json!({"seats": [seat("E", 4)]}))
        .await;
    assert_eq!(status, 201, "{hold}");
    let rogue = uuid::Uuid::now_v7();
    sqlx::query(
        "INSERT INTO holds (id, drop_id, event_id, user_id, seats, total_cents, idempotency_key, \
           created_at, expires_at) \
         VALUES ($1, 'fence', 'fence-show', 'rogue', ARRAY['stalls-E-4'], 0, 'r', now(), \
           now() + interval '10 minutes')",
    )
    .bind(rogue)
    .execute(&app.db)
    .await
    .unwrap();
    let claimed = sqlx::query(
        "INSERT INTO seat_claims (event_id, seat_id, hold_id, live) \
         VALUES ('fence-show', 'stalls-E-4', $1, tstzrange(now(), now() + interval '10 minutes'))",
    )
    .bind(rogue)
    .execute(&app.db)
    .await;
    let error = claimed.expect_err("a second live claim on one seat is refused");
    assert!(error.to_string().contains("exclusion"), "{error}");
    // After the first claim's range, the seat may be claimed again.
    sqlx::query(
        "INSERT INTO seat_claims (event_id, seat_id, hold_id, live) \
         VALUES ('fence-show', 'stalls-E-4', $1, \
           tstzrange(now() + interval '1 hour', now() + interval '2 hours'))",
    )
    .bind(rogue)
    .execute(&app.db)
    .await
    .unwrap();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_are_recorded_in_batches_and_a_refused_seat_refuses_only_its_hold() {
    use sale::seats::writer::{insert_batch, BatchFailure};
    use sale::store::holds::HoldWrite;
    let app = TestApp::spawn().await;
    let (first, epoch) = loaded_with_ann_holding(&app, "batch").await;
    let new = |user: &str, key: &str, seats: &[String], epoch: i64| {
        new_hold("batch", user, key, seats, epoch)
    };
    let mut conn = KeptConnection::new(app.db.clone(), "test_connections_taken_total");
    let timeout = Duration::from_secs(5);
    let claims_of = |hold: uuid::Uuid| {
        let db = app.db.clone();
        async move {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM seat_claims WHERE hold_id = $1")
                .bind(hold)
                .fetch_one(&db)
                .await
                .unwrap()
        }
    };

    // One transaction: two new holds, a repeat of ann's key, a stale epoch.
    let bob = new("bob", "k1", &[seat("D", 1), seat("D", 2)], epoch);
    let cat = new("cat", "k1", &[seat("D", 3)], epoch);
    let again = new("ann", "k0", &[seat("D", 9)], epoch);
    let stale = new("dan", "k1", &[seat("D", 5)], epoch - 1);
    let written = insert_batch(&app.db, &mut conn, &[&bob, &cat, &again, &stale], timeout)
        .await
        .unwrap();
    assert!(matches!(&written[0], HoldWrite::Recorded(row) if row.seats == bob.seats));
    assert!(matches!(&written[1], HoldWrite::Recorded(row) if row.seats == cat.seats));
    assert!(
        matches!(&written[2], HoldWrite::Duplicate(row) if row.id.to_string() == first["id"].as_str().unwrap())
    );
    assert_eq!(written[3], HoldWrite::Stale);
    assert_eq!((claims_of(bob.id).await, claims_of(cat.id).await), (2, 1));
    assert_eq!(
        (claims_of(again.id).await, claims_of(stale.id).await),
        (0, 0)
    );

    // A seat PostgreSQL already has a live claim on: the whole batch is
    // refused and nothing of it committed...
    let eve = new("eve", "k1", &[seat("E", 1)], epoch);
    let fay = new("fay", "k1", &[seat("D", 1)], epoch); // bob's
    let failure = insert_batch(&app.db, &mut conn, &[&eve, &fay], timeout).await;
    assert!(
        matches!(failure, Err(BatchFailure::SeatClaimed)),
        "{failure:?}"
    );
    assert_eq!((claims_of(eve.id).await, claims_of(fay.id).await), (0, 0));
    // The refusal rolled its transaction back: the connection the worker
    // keeps takes the next batch.
    let gus = new("gus", "k1", &[seat("E", 2)], epoch);
    let written = insert_batch(&app.db, &mut conn, &[&gus], timeout).await;
    assert!(
        matches!(written.as_deref(), Ok([HoldWrite::Recorded(_)])),
        "{written:?}"
    );
    // ...and the writer then records them one by one: only fay is refused.
    let (writer, _workers) = sale::seats::writer::HoldWriter::spawn(app.db.clone(), 1, timeout);
    let (eve_written, fay_written) =
        tokio::join!(writer.write(eve.clone()), writer.write(fay.clone()));
    assert!(
        matches!(eve_written, Ok(HoldWrite::Recorded(_))),
        "{eve_written:?}"
    );
    assert!(
        matches!(fay_written, Ok(HoldWrite::SeatClaimed)),
        "{fay_written:?}"
    );
    assert_eq!((claims_of(eve.id).await, claims_of(fay.id).await), (1, 0));
    app.stop().await;
}

/// A seated sale `drop`, loaded into Redis (and PostgreSQL's epoch with it)
/// by ann's hold of C1 under key `k0`: that hold, and the epoch.
async fn loaded_with_ann_holding(app: &TestApp, drop: &str) -> (Value, i64) {
    app.seated_sale(drop).await;
    let (status, first) = app
        .hold(drop, "ann", "k0", json!({"seats": [seat("C", 1)]}))
        .await;
    assert_eq!(status, 201, "{first}");
    let epoch = sqlx::query_scalar("SELECT redis_epoch FROM drops WHERE id = $1")
        .bind(drop)
        .fetch_one(&app.db)
        .await
        .unwrap();
    (first, epoch)
}

/// A hold for a batch insert on `drop`'s show (as `seated_sale` makes it).
fn new_hold(
    drop: &str,
    user: &str,
    key: &str,
    seats: &[String],
    epoch: i64,
) -> sale::store::holds::NewHold {
    let now = chrono::Utc::now();
    sale::store::holds::NewHold {
        id: uuid::Uuid::now_v7(),
        drop_id: drop.into(),
        event_id: format!("{drop}-show"),
        user_id: user.into(),
        seats: seats.to_vec(),
        total_cents: 8900 * seats.len() as i64,
        idempotency_key: key.into(),
        admission_jti: format!("jti-{user}-{key}"),
        created_at: now,
        expires_at: now + chrono::Duration::minutes(10),
        epoch,
    }
}

/// The PostgreSQL backend serving a worker's kept connection.
async fn backend_of(conn: &mut KeptConnection) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(conn.get().await.unwrap())
        .await
        .unwrap()
}

/// The hold writer's workers keep their connection from batch to batch.
/// When PostgreSQL closes it (a restart, `pg_terminate_backend`), that
/// batch is not written and the connection is given up: the next batch
/// is recorded on a fresh one, not refused by a dead socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_batch_on_a_closed_connection_is_not_written_and_the_next_gets_a_fresh_one() {
    use sale::seats::writer::{insert_batch, BatchFailure};
    use sale::store::holds::HoldWrite;
    let app = TestApp::spawn().await;
    let (_, epoch) = loaded_with_ann_holding(&app, "closed").await;
    let timeout = Duration::from_secs(5);
    let mut conn = KeptConnection::new(app.db.clone(), "test_connections_taken_total");
    let bob = new_hold("closed", "bob", "k1", &[seat("D", 1)], epoch);
    let written = insert_batch(&app.db, &mut conn, &[&bob], timeout).await;
    assert!(
        matches!(written.as_deref(), Ok([HoldWrite::Recorded(_)])),
        "{written:?}"
    );

    let backend = backend_of(&mut conn).await;
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(backend)
        .execute(&app.db)
        .await
        .unwrap();
    let cat = new_hold("closed", "cat", "k1", &[seat("D", 2)], epoch);
    let failure = insert_batch(&app.db, &mut conn, &[&cat], timeout).await;
    assert!(
        matches!(failure, Err(BatchFailure::NotWritten(_))),
        "{failure:?}"
    );

    let dan = new_hold("closed", "dan", "k1", &[seat("D", 3)], epoch);
    let written = insert_batch(&app.db, &mut conn, &[&dan], timeout).await;
    assert!(
        matches!(written.as_deref(), Ok([HoldWrite::Recorded(_)])),
        "the batch after the closed connection: {written:?}"
    );
    assert_ne!(backend_of(&mut conn).await, backend);
    let recorded: Vec<String> =
        sqlx::query_scalar("SELECT user_id FROM holds WHERE drop_id = 'closed' ORDER BY user_id")
            .fetch_all(&app.db)
            .await
            .unwrap();
    assert_eq!(recorded, ["ann", "bob", "dan"]);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seated_sale_lost_from_redis_is_rebuilt_with_its_holds_and_orders() {
    let app = TestApp::spawn().await;
    app.seated_sale("lost").await;
    let (_, held) = app
        .hold("lost", "ann", "1", json!({"seats": [seat("F", 1)]}))
        .await;
    let (_, ordered) = app
        .hold("lost", "bob", "1", json!({"seats": [seat("F", 2)]}))
        .await;
    let body = json!({"hold_id": ordered["id"]}).to_string();
    assert_eq!(
        app.place_in("lost", &app.admit("bob", "lost"), "o", &body)
            .await
            .0,
        201
    );
    // Redis loses every key of the sale.
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{}:{{lost}}:*", app.prefix))
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    let _: () = redis::cmd("DEL")
        .arg(&keys)
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
    // The next hold rebuilds it: held and ordered seats stay taken.
    let (status, taken) = app
        .hold(
            "lost",
            "cy",
            "1",
            json!({"seats": [seat("F", 1), seat("F", 2)]}),
        )
        .await;
    assert_eq!(
        (status, taken["error"].as_str()),
        (409, Some("seats_taken")),
        "{taken}"
    );
    let (status, free) = app
        .hold("lost", "cy", "2", json!({"seats": [seat("F", 3)]}))
        .await;
    assert_eq!(status, 201, "{free}");
    assert_eq!(app.redis_sold("lost").await, 3);
    // Ann's rebuilt hold still orders.
    let body = json!({"hold_id": held["id"]}).to_string();
    assert_eq!(
        app.place_in("lost", &app.admit("ann", "lost"), "o", &body)
            .await
            .0,
        201
    );
    app.stop().await;
}

/// A seat taken reaches an open seat map's event stream within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_seat_taken_reaches_an_open_stream_at_once() {
    let app = TestApp::spawn().await;
    app.seated_sale("live").await;
    let version = app.seats("live").await["version"].as_i64().unwrap();
    let mut stream = app
        .http
        .get(app.url(&format!("/api/drops/live/seats/stream?after={version}")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let started = std::time::Instant::now();
    let (status, _) = app
        .hold("live", "ann", "k", json!({"seats": [seat("G", 5)]}))
        .await;
    assert_eq!(status, 201);
    let mut seen = String::new();
    while !seen.contains("event: seats") {
        let chunk = tokio::time::timeout(Duration::from_secs(3), stream.chunk())
            .await
            .expect("an event within 3 s")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    let took = started.elapsed();
    eprintln!("the hold reached the stream after {took:?}: {seen}");
    assert!(took < Duration::from_secs(1));
    // Row G seat 5 is index 6 * 24 + 4 = 148.
    assert!(seen.contains("[148,\"h\"]"), "{seen}");
    app.stop().await;
}

/// A seated sale `drop` in which ann holds seat H3 and orders it; the order.
async fn ordered_seat(app: &TestApp, drop: &str) -> Value {
    app.seated_sale(drop).await;
    let (_, hold) = app
        .hold(drop, "ann", "1", json!({"seats": [seat("H", 3)]}))
        .await;
    let body = json!({"hold_id": hold["id"]}).to_string();
    let (status, order) = app
        .place_in(drop, &app.admit("ann", drop), "o", &body)
        .await;
    assert_eq!(status, 201, "{order}");
    order
}

/// An ordered hold whose order PostgreSQL no longer holds (its release never
/// reached Redis) is given back by the reconciler, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_reconciler_gives_back_seats_of_an_order_that_ended_unseen() {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(|c| c.expiry_sweep_ms = 3_600_000, Some(clock.clone())).await;
    let order = ordered_seat(&app, "recon").await;
    // The order is cancelled in PostgreSQL; Redis never hears of it.
    app.cancel_unseen(&order, "ann").await;
    assert_eq!(app.redis_sold("recon").await, 1);
    let early = app.sale.reconcile(Duration::ZERO).await.unwrap();
    assert_eq!(
        early.stale_released, 0,
        "not before the hold's time has passed"
    );
    clock.advance(chrono::Duration::seconds(601));
    let done = app.sale.reconcile(Duration::ZERO).await.unwrap();
    assert_eq!(done.stale_released, 1, "{done:?}");
    assert_eq!(
        app.sale
            .reconcile(Duration::ZERO)
            .await
            .unwrap()
            .stale_released,
        0
    );
    assert_eq!(app.redis_sold("recon").await, 0);
    app.stop().await;
}

/// Between full passes too: an ordered hold whose order PostgreSQL
/// cancelled unseen by Redis is given back by the next pass, before its
/// hold time is up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn between_full_passes_seats_of_an_order_that_ended_unseen_are_given_back() {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_for_passes(&clock).await;
    let order = ordered_seat(&app, "recon2").await;
    let mut passes = common::Passes::new(&app, Some(&clock), 3600, 3600);
    let first = passes.after(0).await;
    assert!(first.full);
    app.cancel_unseen(&order, "ann").await;
    assert_eq!(app.redis_sold("recon2").await, 1);
    let done = passes.after(10).await;
    assert_eq!((done.scanned, done.stale_released), (false, 1), "{done:?}");
    assert_eq!(app.redis_sold("recon2").await, 0);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_and_venues_are_validated_and_shown_with_their_sales() {
    let app = TestApp::spawn().await;
    app.seated_sale("shown").await;
    let operator = |method: reqwest::Method, path: &str, body: Value| {
        app.http
            .request(method, app.url(path))
            .bearer_auth(OPERATOR_KEY)
            .json(&body)
            .send()
    };
    // Without performers, genre or description (they are optional).
    let response = operator(
        reqwest::Method::POST,
        "/api/events",
        json!({"id": "bare", "name": "Bare", "venue_id": "shown-hall",
            "starts_at": "2031-01-01T20:00:00Z"}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 201);
    for (body, what) in [
        (
            json!({"id": "x", "name": "X", "venue_id": "nowhere", "starts_at": "2031-01-01T20:00:00Z"}),
            "unknown venue",
        ),
        (
            json!({"id": "x", "name": "X\u{0}", "venue_id": "shown-hall", "starts_at": "2031-01-01T20:00:00Z"}),
            "NUL",
        ),
        (
            json!({"id": "x", "name": "X", "venue_id": "shown-hall", "starts_at": "2031-01-01T20:00:00Z", "status": "maybe"}),
            "status",
        ),
        (
            json!({"id": "X!", "name": "X", "venue_id": "shown-hall", "starts_at": "2031-01-01T20:00:00Z"}),
            "id",
        ),
    ] {
        let response = operator(reqwest::Method::POST, "/api/events", body)
            .await
            .unwrap();
        assert_eq!(response.status(), 422, "{what}");
    }
    let response = operator(
        reqwest::Method::PATCH,
        "/api/events/shown-show",
        json!({"status": "on_sale", "performers": ["The Band", "Support Act"]}),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200);
    let event: Value = app
        .http
        .get(app.url("/api/events/shown-show"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(event["status"], "on_sale");
    assert_eq!(event["venue"]["city"], "Köln");
    assert_eq!(event["sales"][0]["id"], "shown");
    assert_eq!(
        event["sales"][0]["stock"], 300,
        "every seat of the hall is on sale"
    );
    let map = app
        .http
        .get(app.url("/api/venues/shown-hall/map?version=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(map.status(), 200);
    assert!(map.headers()["cache-control"]
        .to_str()
        .unwrap()
        .contains("immutable"));
    let etag = map.headers()["etag"].clone();
    let again = app
        .http
        .get(app.url("/api/venues/shown-hall/map?version=1"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    app.stop().await;
}

/// A page tells a seated sale from a sale of units by the drop itself: the
/// view names its event and its seating (map version, prices, hold time).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_drop_view_names_its_event_and_seating() {
    let app = TestApp::spawn().await;
    let created = app.seated_sale("view").await;
    let shown: Value = app
        .http
        .get(app.url("/api/drops/view"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for drop in [&created, &shown] {
        assert_eq!(drop["event_id"], "view-show", "{drop}");
        assert_eq!(drop["seating"]["map_version"], 1, "{drop}");
        assert_eq!(drop["seating"]["prices"]["cat1"], 8900, "{drop}");
        assert_eq!(drop["seating"]["hold_secs"], 600, "{drop}");
    }
    let units = app.create_drop("units", 10).await;
    assert_eq!(units["event_id"], Value::Null);
    assert_eq!(units["seating"], Value::Null);
    app.stop().await;
}

/// The fan page (another origin) may hold seats and follow the stream from
/// the browser, and an EventSource that reconnects by itself resumes from
/// its `Last-Event-ID`, not from the older `after` in its URL.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fan_page_follows_the_stream_across_origins_and_resumes_from_last_event_id() {
    let fan_origin = "http://fan.example";
    let app = TestApp::spawn_with(|c| c.cors_origins = fan_origin.into(), None).await;
    app.seated_sale("resume").await;
    let preflight = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            app.url("/api/drops/resume/seats/stream"),
        )
        .header("origin", fan_origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "last-event-id")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let allowed = preflight.headers()["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("last-event-id"), "{allowed}");
    let before = app.seats("resume").await["version"].as_i64().unwrap();
    assert_eq!(
        app.hold("resume", "ann", "a", json!({"seats": [seat("C", 1)]}))
            .await
            .0,
        201
    );
    // The version a page saw after Ann's hold (each process's board follows
    // the change log a moment behind).
    let mut seen = before;
    for _ in 0..60 {
        seen = app.seats("resume").await["version"].as_i64().unwrap();
        if seen > before {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(seen > before, "the board never showed Ann's hold");
    assert_eq!(
        app.hold("resume", "bob", "b", json!({"seats": [seat("C", 3)]}))
            .await
            .0,
        201
    );
    let mut stream = app
        .http
        .get(app.url(&format!("/api/drops/resume/seats/stream?after={before}")))
        .header("origin", fan_origin)
        .header("last-event-id", seen.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(
        stream.headers()["access-control-allow-origin"],
        fan_origin,
        "the page may read the stream"
    );
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(3), stream.chunk())
            .await
            .expect("the missed change within 3 s")
            .unwrap()
            .unwrap();
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let first = text.split("\n\n").next().unwrap();
    assert!(first.contains("event: seats"), "{first}");
    // Row C seat 1 is index 48, seat 3 index 50: only Bob's hold is new.
    assert!(first.contains("[50,\"h\"]"), "{first}");
    assert!(
        !first.contains("[48,\"h\"]"),
        "replayed from after={before}: {first}"
    );
    app.stop().await;
}
