//! Operators editing events and venues (`PATCH /api/events/{id}`,
//! `PATCH /api/venues/{id}`): the change and the search following it, the
//! version check (`If-Match`, 412) under racing operators, what must not
//! change once an event has sales, and bad input changing nothing.
#![allow(clippy::unwrap_used)]

mod common;

use common::{TestApp, OPERATOR_KEY};
use reqwest::Method;
use serde_json::{json, Value};

/// An operator's request with `If-Match` when given: status, ETag, body.
async fn edit(
    app: &TestApp,
    path: &str,
    if_match: Option<&str>,
    body: Value,
) -> (u16, Option<String>, Value) {
    let mut request = app
        .http
        .request(Method::PATCH, app.url(path))
        .bearer_auth(OPERATOR_KEY)
        .json(&body);
    if let Some(version) = if_match {
        request = request.header("if-match", version);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let etag = response
        .headers()
        .get("etag")
        .map(|v| v.to_str().unwrap().to_string());
    (status, etag, response.json().await.unwrap_or(Value::Null))
}

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> Value {
    let response = app
        .http
        .get(app.url(path))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{path} {query:?}");
    response.json().await.unwrap()
}

async fn found(app: &TestApp, query: &[(&str, &str)]) -> Vec<String> {
    get(app, "/api/events", query).await["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// A venue in Köln and an event there next month.
async fn catalog(app: &TestApp) {
    let (status, venue) = app
        .operator(
            Method::POST,
            "/api/venues",
            json!({"id": "halle", "name": "Stadthalle", "city": "Köln", "country": "DE",
                   "timezone": "Europe/Berlin", "lat": 50.94, "lon": 6.96}),
        )
        .await;
    assert_eq!(status, 201, "{venue}");
    assert_eq!(venue["version"], 1);
    let starts = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let (status, event) = app
        .operator(
            Method::POST,
            "/api/events",
            json!({"id": "show", "name": "Kraftwerk: 3-D", "performers": ["Kraftwerk"],
                   "venue_id": "halle", "starts_at": starts, "genre": "Electronic"}),
        )
        .await;
    assert_eq!(status, 201, "{event}");
    assert_eq!(event["version"], 1);
}

#[tokio::test]
async fn an_edited_event_is_found_by_its_new_name_and_a_stale_edit_is_refused() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    assert!(found(&app, &[("q", "zanzibar")]).await.is_empty());

    let (status, etag, body) = edit(
        &app,
        "/api/events/show",
        Some("\"1\""),
        json!({"name": "Zanzibar Nights", "performers": ["Ólafur Arnalds"], "genre": "Ambient"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(body["version"], 2);
    assert_eq!(body["name"], "Zanzibar Nights");
    // The search row, the lexicon and the suggestions followed (triggers).
    assert_eq!(found(&app, &[("q", "zanzibar nights")]).await, ["show"]);
    assert_eq!(found(&app, &[("q", "olafur")]).await, ["show"]);
    assert!(found(&app, &[("q", "kraftwerk 3 d")]).await.is_empty());
    assert_eq!(found(&app, &[("genre", "ambient")]).await, ["show"]);
    let typo = get(&app, "/api/events", &[("q", "zanzibra")]).await;
    assert_eq!(typo["events"][0]["id"], "show", "{typo}");
    let suggest = get(&app, "/api/events/suggest", &[("q", "olaf")]).await;
    assert_eq!(suggest["suggestions"][0]["label"], "Ólafur Arnalds");

    // A second operator's change made from version 1: refused, nothing
    // changes.
    let (status, _, body) = edit(
        &app,
        "/api/events/show",
        Some("\"1\""),
        json!({"name": "Overwritten"}),
    )
    .await;
    assert_eq!(status, 412, "{body}");
    assert_eq!(body["error"], "version_mismatch");
    assert!(body["message"].as_str().unwrap().contains("version 2"));
    let now = get(&app, "/api/events/show", &[]).await;
    assert_eq!(
        (now["name"].as_str(), now["version"].as_i64()),
        (Some("Zanzibar Nights"), Some(2))
    );
    // Without If-Match (a script), the change applies to what is there.
    let (status, _, body) = edit(
        &app,
        "/api/events/show",
        None,
        json!({"status": "postponed"}),
    )
    .await;
    assert_eq!((status, body["version"].as_i64()), (200, Some(3)), "{body}");
    app.stop().await;
}

#[tokio::test]
async fn of_racing_operators_editing_one_version_exactly_one_wins() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    let edits = (0..16).map(|i| {
        let app = &app;
        async move {
            let name = format!("Version by operator {i}");
            let (status, _, _) = edit(
                app,
                "/api/events/show",
                Some("\"1\""),
                json!({"name": name}),
            )
            .await;
            (status, name)
        }
    });
    let outcomes = futures::future::join_all(edits).await;
    let winners: Vec<&String> = outcomes
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, n)| n)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|(s, _)| *s == 200 || *s == 412),
        "{outcomes:?}"
    );
    let now = get(&app, "/api/events/show", &[]).await;
    assert_eq!(now["name"].as_str(), Some(winners[0].as_str()));
    assert_eq!(now["version"], 2);
    app.stop().await;
}

#[tokio::test]
async fn bad_edits_get_a_clear_4xx_and_change_nothing() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    let event_before = get(&app, "/api/events/show", &[]).await;
    let venue_before = get(&app, "/api/venues/halle", &[]).await;
    let event_cases: Vec<(Value, Option<&str>, u16, &str)> = vec![
        (json!({"name": ""}), None, 422, "invalid_field"),
        (json!({"name": "x".repeat(201)}), None, 422, "invalid_field"),
        (json!({"name": "a\u{7}b"}), None, 422, "invalid_field"),
        (
            json!({"performers": vec!["p"; 51]}),
            None,
            422,
            "invalid_field",
        ),
        (
            json!({"starts_at": "1999-12-31T20:00:00Z"}),
            None,
            422,
            "invalid_field",
        ),
        (
            json!({"starts_at": "next tuesday"}),
            None,
            422,
            "invalid_field",
        ),
        (json!({"status": "sold"}), None, 422, "invalid_field"),
        (json!({"venue_id": "nowhere"}), None, 422, "invalid_field"),
        (json!({"id": "other"}), None, 422, "invalid_field"),
        (json!({"colour": "red"}), None, 422, "invalid_field"),
        (
            json!({"name": "Fine"}),
            Some("\"two\""),
            400,
            "invalid_if_match",
        ),
        (
            json!({"name": "Fine"}),
            Some("\"9\""),
            412,
            "version_mismatch",
        ),
    ];
    for (body, if_match, status, code) in event_cases {
        let (got, _, answer) = edit(&app, "/api/events/show", if_match, body.clone()).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
        assert!(
            answer["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{answer}"
        );
    }
    let (status, _, answer) = edit(&app, "/api/events/nothing", None, json!({"name": "x"})).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("unknown_event"))
    );
    let venue_cases: Vec<(Value, u16, &str)> = vec![
        (json!({"lat": 91.0}), 422, "invalid_field"),
        (json!({"lon": -180.5}), 422, "invalid_field"),
        (json!({"country": "de"}), 422, "invalid_field"),
        (json!({"timezone": "Mars/Olympus"}), 422, "invalid_field"),
        (json!({"city": ""}), 422, "invalid_field"),
        (json!({"address": "a\nb"}), 422, "invalid_field"),
        (json!({"map": {}}), 422, "invalid_field"),
        (json!({"lat": "north"}), 422, "invalid_field"),
    ];
    for (body, status, code) in venue_cases {
        let (got, _, answer) = edit(&app, "/api/venues/halle", None, body.clone()).await;
        assert_eq!(
            (got, answer["error"].as_str()),
            (status, Some(code)),
            "{body}: {answer}"
        );
    }
    let broken = app
        .http
        .patch(app.url("/api/venues/halle"))
        .bearer_auth(OPERATOR_KEY)
        .header("content-type", "application/json")
        .body("{\"name\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(broken.status(), 400, "malformed JSON");
    let (status, _, answer) = edit(&app, "/api/venues/nowhere", None, json!({"name": "x"})).await;
    assert_eq!(
        (status, answer["error"].as_str()),
        (404, Some("unknown_venue"))
    );
    // Not an operator.
    let response = app
        .http
        .patch(app.url("/api/events/show"))
        .json(&json!({"name": "Mine now"}))
        .send()
        .await
        .unwrap();
    assert!(matches!(response.status().as_u16(), 401 | 403));
    assert_eq!(get(&app, "/api/events/show", &[]).await, event_before);
    assert_eq!(get(&app, "/api/venues/halle", &[]).await, venue_before);
    app.stop().await;
}

#[tokio::test]
async fn an_edited_venue_moves_its_events_in_the_search_and_sales_lock_what_was_sold() {
    let app = TestApp::spawn().await;
    catalog(&app).await;
    // Before any sale: the venue's names, place and time zone may change.
    let (status, etag, venue) = edit(
        &app,
        "/api/venues/halle",
        Some("1"),
        json!({"name": "Lanxess Arena", "city": "Düsseldorf", "lat": 51.23, "lon": 6.78,
               "timezone": "Asia/Tokyo"}),
    )
    .await;
    assert_eq!(status, 200, "{venue}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(found(&app, &[("city", "dusseldorf")]).await, ["show"]);
    assert!(found(&app, &[("city", "köln")]).await.is_empty());
    assert_eq!(found(&app, &[("q", "lanxess")]).await, ["show"]);
    assert_eq!(
        found(&app, &[("near", "51.23,6.78"), ("radius_km", "5")]).await,
        ["show"]
    );
    let hit = &get(&app, "/api/events", &[("q", "lanxess")]).await["events"][0];
    assert_eq!(hit["venue"]["timezone"], "Asia/Tokyo");
    let suggest = get(&app, "/api/events/suggest", &[("q", "duss")]).await;
    assert!(
        suggest["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["label"] == "Düsseldorf"),
        "{suggest}"
    );

    // A second venue to move to, then a sale: the event stays where its
    // tickets are for, the venue keeps its time zone; other edits go on.
    let (status, _) = app
        .operator(
            Method::POST,
            "/api/venues",
            json!({"id": "club", "name": "Gebäude 9", "city": "Köln", "country": "DE",
                   "timezone": "Europe/Berlin", "lat": 50.95, "lon": 6.99}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _, _) = edit(&app, "/api/events/show", None, json!({"venue_id": "club"})).await;
    assert_eq!(status, 200, "no sale yet: the venue may change");
    app.create_drop_with(json!({
        "id": "show-sale", "name": "Tickets", "stock": 10, "price_cents": 4200, "currency": "EUR",
        "opens_at": "2020-01-01T00:00:00Z", "event_id": "show",
    }))
    .await;
    let before = get(&app, "/api/events/show", &[]).await;
    let (status, _, body) =
        edit(&app, "/api/events/show", None, json!({"venue_id": "halle"})).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("venue_locked")),
        "{body}"
    );
    assert!(body["message"].as_str().unwrap().contains("sales"));
    let (status, _, body) = edit(
        &app,
        "/api/venues/club",
        None,
        json!({"timezone": "Europe/London"}),
    )
    .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("timezone_locked")),
        "{body}"
    );
    assert_eq!(get(&app, "/api/events/show", &[]).await, before);
    assert_eq!(
        get(&app, "/api/venues/club", &[]).await["timezone"],
        "Europe/Berlin"
    );
    // The same venue and time zone again are no change; names still may.
    let (status, _, body) = edit(
        &app,
        "/api/events/show",
        None,
        json!({"venue_id": "club", "name": "Kraftwerk live"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, _, body) = edit(
        &app,
        "/api/venues/club",
        None,
        json!({"timezone": "Europe/Berlin", "name": "Gebäude Neun"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(found(&app, &[("q", "gebaude neun")]).await, ["show"]);
    app.stop().await;
}
