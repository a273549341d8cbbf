//! The search's answer cache through the API: a hit serves the same body
//! and ETag and says its age; a change committed before a search is seen
//! by it (the generation); without a change an answer lives exactly its
//! max-age (a manual clock); identical searches at once are one query;
//! a page reached from a first page is computed (not looked up) with the
//! pages after it, which are then served from the cache, until a change.
#![allow(clippy::unwrap_used)]

mod common;
mod search_fixture;

use common::TestApp;
use sale::clock::ManualClock;
use search_fixture as fx;
use serde_json::Value;

/// Status, body bytes, ETag, `X-Search-Cache`, `Age`.
async fn fetch(
    app: &TestApp,
    path: &str,
    query: &str,
) -> (u16, Vec<u8>, String, String, Option<u64>) {
    let response = app
        .http
        .get(format!("{}?{query}", app.url(path)))
        .send()
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
    };
    let etag = header("etag").unwrap_or_default();
    let cache = header("x-search-cache").unwrap_or_default();
    let age = header("age").map(|a| a.parse().unwrap());
    let status = response.status().as_u16();
    (
        status,
        response.bytes().await.unwrap().to_vec(),
        etag,
        cache,
        age,
    )
}

fn ids(body: &[u8]) -> Vec<String> {
    let body: Value = serde_json::from_slice(body).unwrap();
    body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_hit_serves_the_same_body_and_etag_and_says_its_age() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let (status, body, etag, cache, age) = fetch(&app, "/api/events", "q=berlin&limit=2").await;
    assert_eq!((status, cache.as_str(), age), (200, "miss", None));
    let (status, again, again_etag, cache, age) =
        fetch(&app, "/api/events", "q=berlin&limit=2").await;
    assert_eq!((status, cache.as_str()), (200, "hit"));
    assert_eq!(again, body, "the same bytes");
    assert_eq!(again_etag, etag);
    assert!(age.unwrap() <= 10);
    // Another limit is another answer; a later page is never cached.
    let (_, _, _, cache, _) = fetch(&app, "/api/events", "q=berlin&limit=3").await;
    assert_eq!(cache, "miss");
    let first: Value = serde_json::from_slice(&body).unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    for _ in 0..2 {
        let (status, _, _, cache, _) = fetch(
            &app,
            "/api/events",
            &format!("q=berlin&limit=2&cursor={cursor}"),
        )
        .await;
        assert_eq!((status, cache.as_str()), (200, "bypass"));
    }
    // Suggestions too.
    let (_, body, etag, cache, _) = fetch(&app, "/api/events/suggest", "q=tay").await;
    assert_eq!(cache, "miss");
    let (_, again, again_etag, cache, _) = fetch(&app, "/api/events/suggest", "q=tay").await;
    assert_eq!((again, again_etag, cache.as_str()), (body, etag, "hit"));
    app.stop().await;
}

#[tokio::test]
async fn a_new_event_or_an_edit_is_seen_by_the_next_search() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let query = "q=zanzibar";
    assert!(ids(&fetch(&app, "/api/events", query).await.1).is_empty());
    assert_eq!(fetch(&app, "/api/events", query).await.3, "hit");
    let suggested = |body: Vec<u8>| {
        String::from_utf8(body)
            .unwrap()
            .contains("Zanzibar Quartet")
    };
    assert!(!suggested(
        fetch(&app, "/api/events/suggest", "q=zanzib").await.1
    ));
    assert_eq!(
        fetch(&app, "/api/events/suggest", "q=zanzib").await.3,
        "hit"
    );
    // A new event, straight into PostgreSQL (another node, a script).
    sqlx::query(
        "INSERT INTO events (id, name, performers, venue_id, starts_at) \
         VALUES ('zanzibar-1', 'Zanzibar Nights', '{Zanzibar Quartet}', 'uber-arena', \
           now() + interval '30 days')",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let (_, body, _, cache, _) = fetch(&app, "/api/events", query).await;
    assert_eq!(
        (ids(&body), cache.as_str()),
        (vec!["zanzibar-1".to_string()], "miss")
    );
    assert_eq!(fetch(&app, "/api/events", query).await.3, "hit");
    assert!(suggested(
        fetch(&app, "/api/events/suggest", "q=zanzib").await.1
    ));
    // An edit.
    sqlx::query(
        "UPDATE events SET name = 'Kilimanjaro Nights', performers = '{Kilimanjaro Quartet}' \
         WHERE id = 'zanzibar-1'",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert!(ids(&fetch(&app, "/api/events", query).await.1).is_empty());
    let (_, body, _, _, _) = fetch(&app, "/api/events", "q=kilimanjaro").await;
    assert_eq!(ids(&body), ["zanzibar-1"]);
    app.stop().await;
}

#[tokio::test]
async fn without_a_change_an_answer_lives_exactly_its_max_age() {
    let clock = ManualClock::new(chrono::Utc::now());
    let app = TestApp::spawn_with(|_| {}, Some(clock.clone())).await;
    fx::load(&app.db).await;
    let (_, body, _, cache, _) = fetch(&app, "/api/events", "q=koln").await;
    assert_eq!(cache, "miss");
    clock.advance(chrono::Duration::milliseconds(9_999));
    let (_, again, _, cache, age) = fetch(&app, "/api/events", "q=koln").await;
    assert_eq!((again, cache.as_str(), age), (body, "hit", Some(9)));
    clock.advance(chrono::Duration::milliseconds(1));
    assert_eq!(fetch(&app, "/api/events", "q=koln").await.3, "miss");
    app.stop().await;
}

#[tokio::test]
async fn identical_searches_at_once_are_one_query() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let asks = (0..40).map(|_| fetch(&app, "/api/events", "q=taylor+swift&sort=date"));
    let answers = futures::future::join_all(asks).await;
    let misses = answers.iter().filter(|a| a.3 == "miss").count();
    assert_eq!(misses, 1, "one query for all");
    for a in &answers {
        assert_eq!((a.0, &a.1, &a.2), (200, &answers[0].1, &answers[0].2));
        assert!(["miss", "coalesced", "hit"].contains(&a.3.as_str()));
    }
    app.stop().await;
}

/// Follows the cursors from a first page: the ids of every page, and how
/// each page after the first was served.
async fn follow(app: &TestApp, query: &str, first: &[u8]) -> (Vec<String>, Vec<String>) {
    let mut got = ids(first);
    let mut served = Vec::new();
    let mut body: Value = serde_json::from_slice(first).unwrap();
    while let Some(cursor) = body["next_cursor"].as_str().map(str::to_string) {
        assert!(served.len() < 100, "runaway paging");
        let (status, page, _, cache, _) =
            fetch(app, "/api/events", &format!("{query}&cursor={cursor}")).await;
        assert_eq!(status, 200);
        got.extend(ids(&page));
        served.push(cache);
        body = serde_json::from_slice(&page).unwrap();
    }
    (got, served)
}

#[tokio::test]
async fn a_later_page_reads_the_next_ones_ahead_and_a_change_is_still_seen() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    for query in [
        "limit=2",
        "q=berlin&limit=1",
        "near=51.0,10.0&radius_km=500&sort=distance&limit=2",
    ] {
        // What the pages must add up to: the whole answer in one page.
        let whole = query
            .replace("limit=2", "limit=50")
            .replace("limit=1", "limit=50");
        let (_, body, _, _, _) = fetch(&app, "/api/events", &whole).await;
        let all = ids(&body);
        assert!(all.len() >= 6, "{query}: {all:?}");
        let (_, first, _, _, _) = fetch(&app, "/api/events", query).await;
        let (got, served) = follow(&app, query, &first).await;
        // The same hits in the same order (all of them when they fit in
        // one page of 50).
        assert!(got.len() >= all.len(), "{query}: {got:?}");
        assert_eq!(got[..all.len()], all[..], "{query}");
        if all.len() < 50 {
            assert_eq!(got.len(), all.len(), "{query}");
        }
        // Page 2 is computed with pages 3 to 5; page 6 with 7 to 9; ...
        for (n, cache) in served.iter().enumerate() {
            let expect = if n % 4 == 0 { "bypass" } else { "hit" };
            assert_eq!(cache, expect, "{query}: page {}", n + 2);
        }
    }
    // A change between page 2 and page 3: page 3 is computed again, and
    // has it.
    let (_, first, _, _, _) = fetch(&app, "/api/events", "limit=2").await;
    let first: Value = serde_json::from_slice(&first).unwrap();
    let cursor = first["next_cursor"].as_str().unwrap();
    let (_, second, _, cache, _) =
        fetch(&app, "/api/events", &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(cache, "bypass");
    let second: Value = serde_json::from_slice(&second).unwrap();
    let last = second["events"][1]["id"].as_str().unwrap();
    sqlx::query(
        "INSERT INTO events (id, name, performers, venue_id, starts_at, genre) \
         SELECT 'inserted', 'Inserted Show', '{Nobody}', venue_id, \
           starts_at + interval '1 second', genre FROM events WHERE id = $1",
    )
    .bind(last)
    .execute(&app.db)
    .await
    .unwrap();
    let cursor = second["next_cursor"].as_str().unwrap();
    let (_, third, _, cache, _) =
        fetch(&app, "/api/events", &format!("limit=2&cursor={cursor}")).await;
    assert_eq!(cache, "bypass", "not the page read before the insert");
    let (rest, _) = follow(&app, "limit=2", &third).await;
    assert!(rest.contains(&"inserted".to_string()), "{rest:?}");
    app.stop().await;
}
