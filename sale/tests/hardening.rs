//! What hostile and unlucky clients tried, and what must hold: buyers who
//! hang up mid-order, a cancel racing a payment, names and dates that once
//! gave 500s, a public list that must be paged, errors the framework answers
//! itself, the pages' security headers, thousands of drops.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, OPERATOR_KEY};
use rand::Rng;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::time::Duration;

/// Clients that hang up at random points of placing an order (a phone
/// losing signal), then retry with the same key: every retry gets its
/// order, and no reservation is left without one (the reconciler finds
/// nothing to release).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn buyers_who_hang_up_mid_order_get_their_order_on_retry() {
    let app = TestApp::spawn().await;
    app.create_drop("hangup", 10_000).await;
    let buyers = 120;
    let tasks: Vec<_> = (0..buyers)
        .map(|n| {
            let (base, token) = (app.base.clone(), app.admit(&format!("h{n}"), "hangup"));
            tokio::spawn(async move {
                let key = format!("key-{n}");
                let send = |client: &reqwest::Client| {
                    client
                        .post(format!("{base}/api/drops/hangup/orders"))
                        .bearer_auth(&token)
                        .header("idempotency-key", &key)
                        .json(&json!({"quantity": 1}))
                        .send()
                };
                // Hang up after 0-60 ms: before, during or after the work.
                let hang_up_after = Duration::from_micros(rand::thread_rng().gen_range(0..60_000));
                let impatient = reqwest::Client::new();
                let first = tokio::time::timeout(hang_up_after, send(&impatient)).await;
                drop(impatient);
                let hung_up = first.is_err();
                let retry = send(&reqwest::Client::new()).await.unwrap();
                let status = retry.status().as_u16();
                let body: Value = retry.json().await.unwrap();
                (hung_up, status, body)
            })
        })
        .collect();
    let mut hung_up = 0;
    let mut orders = HashSet::new();
    for task in tasks {
        let (gone, status, body) = task.await.unwrap();
        hung_up += usize::from(gone);
        assert!(
            status == 200 || status == 201,
            "retry answered {status}: {body}"
        );
        orders.insert(body["id"].as_str().unwrap().to_string());
    }
    eprintln!("{hung_up} of {buyers} buyers hung up before an answer");
    assert!(hung_up > buyers / 4, "the test must actually hang up");
    assert_eq!(orders.len(), buyers, "one order per buyer");
    common::check_invariants(&app.db, "hangup", &orders).await;
    assert_eq!(app.redis_sold("hangup").await, buyers as i64);
    let done = app.sale.reconcile(Duration::ZERO).await.unwrap();
    assert_eq!(
        (done.orphans_released, done.stale_released),
        (0, 0),
        "no reservation was left behind: {done:?}"
    );
    app.stop().await;
}

/// A cancel and a payment of the same order, sent at once, 100 times: never
/// both succeed (the card would be charged, then the order cancelled).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_cancel_never_wins_over_a_payment_in_flight() {
    // Slow sandbox: the payment stays in flight while the race is decided.
    let app = TestApp::spawn_with(|c| c.sandbox_latency_ms = 60_000, None).await;
    app.create_drop("race", 1_000).await;
    let mut outcomes = std::collections::BTreeMap::new();
    for n in 0..100 {
        let user = format!("r{n}");
        let (status, order) = app
            .place(
                &app.admit(&user, "race"),
                &format!("k{n}"),
                r#"{"quantity":1}"#,
            )
            .await;
        assert_eq!(status, 201, "{order}");
        let id = order["id"].as_str().unwrap();
        let cancel = app
            .http
            .delete(app.url(&format!("/api/orders/{id}")))
            .bearer_auth(app.user_token(&user))
            .send();
        let pay = app.pay(&user, id, "card_ok");
        let (cancelled, (paid, _)) = tokio::join!(cancel, pay);
        let cancelled = cancelled.unwrap().status().as_u16();
        assert!(
            !(cancelled == 200 && paid == 202),
            "order {id}: cancelled and paying at once"
        );
        *outcomes.entry((cancelled, paid)).or_insert(0) += 1;
    }
    eprintln!("cancel vs pay outcomes (cancel status, pay status): {outcomes:?}");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drop_names_and_dates_that_gave_500s_get_422() {
    let app = TestApp::spawn().await;
    let create = |body: Value| {
        app.http
            .post(app.url("/api/drops"))
            .bearer_auth(OPERATOR_KEY)
            .json(&body)
            .send()
    };
    let base = json!({"id": "x", "name": "ok", "stock": 1, "price_cents": 1,
        "currency": "EUR", "opens_at": "2030-01-01T00:00:00Z"});
    let with = |field: &str, value: Value| {
        let mut body = base.clone();
        body[field] = value;
        body
    };
    for (body, what) in [
        (with("name", json!("bad\u{0}name")), "NUL in the name"),
        (with("name", json!("tab\there")), "a control character"),
        (
            with("opens_at", json!("-5000-01-01T00:00:00Z")),
            "year -5000",
        ),
        (with("name", json!("é".repeat(201))), "201 characters"),
    ] {
        let response = create(body).await.unwrap();
        assert_eq!(response.status(), 422, "{what}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], "invalid_field", "{what}: {error}");
    }
    // 200 characters of two bytes each: the limit counts characters.
    let response = create(with("name", json!("é".repeat(200)))).await.unwrap();
    assert_eq!(response.status(), 201);
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_drop_list_is_paged_and_cacheable() {
    let app = TestApp::spawn().await;
    for n in 0..5 {
        app.create_drop_with(
            json!({"id": format!("page-{n}"), "name": "Paged", "stock": 3,
            "price_cents": 100, "currency": "EUR",
            "opens_at": format!("2030-01-0{}T00:00:00Z", n + 1)}),
        )
        .await;
    }
    let mut seen = Vec::new();
    let mut next = Some("/api/drops?limit=2".to_string());
    while let Some(path) = next.take() {
        let response = app.http.get(app.url(&path)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert!(response
            .headers()
            .get("cache-control")
            .is_some_and(|v| v.to_str().unwrap().contains("max-age")));
        next = response
            .headers()
            .get("link")
            .map(|l| l.to_str().unwrap().to_string())
            .map(|l| {
                l.trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap()
                    .to_string()
            });
        let page: Vec<Value> = response.json().await.unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|d| d["id"].as_str().unwrap().to_string()));
    }
    assert_eq!(seen, ["page-4", "page-3", "page-2", "page-1", "page-0"]);
    for (path, status, code) in [
        ("/api/drops?limit=0", 422, "invalid_field"),
        ("/api/drops?limit=10000", 422, "invalid_field"),
        ("/api/drops?cursor=not-a-cursor", 400, "invalid_cursor"),
        ("/api/drops?colour=red", 400, "invalid_query"),
    ] {
        let response = app.http.get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), status, "{path}");
        let error: Value = response.json().await.unwrap();
        assert_eq!(error["error"], code, "{path}: {error}");
    }
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_is_json_and_pages_carry_security_headers() {
    let app = TestApp::spawn().await;
    app.create_drop("shape", 1).await;
    for (method, path, status) in [
        (reqwest::Method::DELETE, "/api/drops", 405),
        (reqwest::Method::PUT, "/api/drops/shape", 405),
        (reqwest::Method::GET, "/api/drops/%FF%FE", 400),
        (reqwest::Method::GET, "/api/orders/%FF", 401),
        (reqwest::Method::GET, "/nowhere", 404),
    ] {
        let response = app
            .http
            .request(method.clone(), app.url(path))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), status, "{method} {path}");
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{method} {path}: {body}"
        );
    }
    let page = app.http.get(app.url("/ops")).send().await.unwrap();
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert_eq!(page.headers()["x-content-type-options"], "nosniff");
    app.stop().await;
}

/// Background loops and the public list cover every drop, however many:
/// with 2,000 drops opening later than an open one (the old code read the
/// newest 500 only), an orphan reservation in that open drop is released,
/// and a settings change missed by Redis is copied over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_thousand_drops_are_all_covered() {
    let app = TestApp::spawn().await;
    app.create_drop("old-open", 10).await; // opens 2020-01-01
    sqlx::query(
        "INSERT INTO drops (id, name, stock, price_cents, currency, opens_at, per_user_cap, \
           order_timeout_secs, admission_rate_per_sec, max_active) \
         SELECT 'later-' || n, 'Later', 10, 100, 'EUR', now() + interval '30 days', 2, 3600, 50, 1000 \
         FROM generate_series(1, 2000) AS n",
    )
    .execute(&app.db)
    .await
    .unwrap();
    // An orphan: units reserved in Redis, no order in PostgreSQL.
    let reserved = app
        .sale
        .gate
        .reserve(
            "old-open",
            "ghost",
            "jti",
            2,
            chrono::Utc::now().timestamp_millis(),
            uuid::Uuid::now_v7(),
            "g",
        )
        .await
        .unwrap();
    assert!(matches!(reserved, sale::gate::Reservation::Reserved { .. }));
    let done = app.sale.reconcile(Duration::ZERO).await.unwrap();
    assert_eq!(done.orphans_released, 1, "{done:?}");
    assert_eq!(app.redis_sold("old-open").await, 0);

    // A pause that reached PostgreSQL but not Redis is repaired by the sync.
    sqlx::query("UPDATE drops SET state = 'paused', updated_at = now() WHERE id = 'old-open'")
        .execute(&app.db)
        .await
        .unwrap();
    sale::sync::sync_once(&app.db, &app.sale.gate)
        .await
        .unwrap();
    let (status, body) = app
        .place(&app.admit("late", "old-open"), "k", r#"{"quantity":1}"#)
        .await;
    assert_eq!((status, body["error"].as_str()), (409, Some("paused")));
    app.stop().await;
}

/// An orderly shutdown (SIGTERM) in the middle of a burst: every order
/// answered 201 is recorded, and every reservation made has its order (the
/// orders in flight were allowed to finish).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_orderly_shutdown_lets_the_orders_in_flight_finish() {
    let app = TestApp::spawn().await;
    app.create_drop("bye", 100_000).await;
    let witness = app.peer().await;
    let base = std::sync::Arc::new(std::sync::Mutex::new(app.base.clone()));
    let burst = common::Burst::start(base, app.signer.clone(), "bye", 60);
    burst.until_acknowledged(200).await;
    app.stop().await;
    let (acknowledged, answers) = burst.finish().await;
    eprintln!("answers by status: {answers:?}");
    common::check_invariants(&witness.db, "bye", &acknowledged).await;
    let held = witness.pg_held_column("bye").await;
    assert_eq!(
        witness.redis_sold("bye").await,
        held,
        "every reservation has its recorded order"
    );
    witness.stop().await;
}
