//! Event search against a real PostgreSQL: the relevance set, each filter
//! and their combinations against a brute-force count, facets, the cursor
//! under inserts, the bad-input matrix, cache headers, suggestions, and
//! the plans of the big queries at 50,000 events.
#![allow(clippy::unwrap_used)]

mod common;
mod search_fixture;

use common::TestApp;
use search_fixture::{self as fx, Expect};
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

async fn get(app: &TestApp, path: &str, query: &[(&str, &str)]) -> (u16, Value) {
    let response = app
        .http
        .get(app.url(path))
        .query(query)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn ids(body: &Value) -> Vec<String> {
    body["events"]
        .as_array()
        .unwrap_or_else(|| panic!("no events in {body}"))
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect()
}

/// Every hit of a search, page after page.
async fn all_pages(app: &TestApp, query: &[(&str, &str)], limit: &str) -> (Vec<String>, Value) {
    let mut q: Vec<(&str, &str)> = query.to_vec();
    q.push(("limit", limit));
    let (status, first) = get(app, "/api/events", &q).await;
    assert_eq!(status, 200, "{query:?}: {first}");
    let mut out = ids(&first);
    let mut cursor = first["next_cursor"].as_str().map(str::to_string);
    let mut pages = 0;
    while let Some(c) = cursor {
        pages += 1;
        assert!(pages < 100, "runaway paging");
        let mut q = q.clone();
        q.push(("cursor", &c));
        let (status, page) = get(app, "/api/events", &q).await;
        assert_eq!(status, 200, "{page}");
        assert_eq!(page["facets"], Value::Null, "facets only on the first page");
        out.extend(ids(&page));
        cursor = page["next_cursor"].as_str().map(str::to_string);
    }
    (out, first)
}

#[tokio::test]
async fn the_relevance_set_finds_the_expected_show_in_the_top_three() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let venue_of: BTreeMap<String, (String, String)> =
        sqlx::query_as::<_, (String, String, String)>(
            "SELECT e.id, v.id, v.city FROM events e JOIN venues v ON v.id = e.venue_id",
        )
        .fetch_all(&app.db)
        .await
        .unwrap()
        .into_iter()
        .map(|(e, v, c)| (e, (v, c)))
        .collect();
    let mut misses = Vec::new();
    for (query, expect) in fx::RELEVANCE {
        let (status, body) = get(&app, "/api/events", &[("q", query), ("limit", "3")]).await;
        assert_eq!(status, 200, "{query}: {body}");
        let top = ids(&body);
        let good = |id: &String| match expect {
            Expect::Prefix(p) => id.starts_with(p),
            Expect::Id(want) => id == want,
            Expect::Venue(v) => venue_of[id].0 == *v,
            Expect::City(c) => venue_of[id].1 == *c,
        };
        if !top.iter().any(good) {
            misses.push(format!(
                "{query:?} -> {top:?} (corrected {})",
                body["corrected"]
            ));
        }
    }
    let n = fx::RELEVANCE.len();
    assert!(n >= 50, "at least 50 queries");
    let score = (n - misses.len()) as f64 / n as f64;
    println!("relevance hit@3 = {score:.3} over {n} queries; misses: {misses:#?}");
    assert!(score >= 0.95, "hit@3 {score:.3}: {misses:#?}");
    // A misspelt query says what it searched.
    let (_, body) = get(&app, "/api/events", &[("q", "tayler swfit")]).await;
    assert_eq!(body["corrected"], "taylor swift", "{body}");
    app.stop().await;
}

/// What the brute force knows of an event, read without `event_search`.
struct Facts {
    id: String,
    venue: String,
    city: String,
    country: String,
    genre: String,
    performer: String,
    starts_at: chrono::DateTime<chrono::Utc>,
    local_day: chrono::NaiveDate,
    month: String,
    lat: f64,
    lon: f64,
    on_sale: bool,
}

fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    // earthdistance's sphere: 6,378,168 m.
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dp = p2 - p1;
    let dl = (lon2 - lon1).to_radians();
    let a = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6378.168 * a.sqrt().asin()
}

async fn facts(app: &TestApp) -> Vec<Facts> {
    let rows = sqlx::query_as::<
        _,
        (
            String,
            String,
            String,
            String,
            String,
            Vec<String>,
            chrono::DateTime<chrono::Utc>,
            chrono::NaiveDateTime,
            f64,
            f64,
            bool,
        ),
    >(
        "SELECT e.id, v.id, v.city, v.country, e.genre, e.performers, e.starts_at, \
           e.starts_at AT TIME ZONE v.timezone, v.lat, v.lon, \
           EXISTS (SELECT 1 FROM drops d WHERE d.event_id = e.id AND d.state <> 'closed' \
             AND d.held < d.stock AND d.opens_at <= now()) \
         FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.status <> 'cancelled'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut out: Vec<Facts> = rows
        .into_iter()
        .map(|r| Facts {
            id: r.0,
            venue: r.1,
            city: r.2,
            country: r.3,
            genre: r.4,
            performer: r.5[0].clone(),
            starts_at: r.6,
            local_day: r.7.date(),
            month: r.7.format("%Y-%m").to_string(),
            lat: r.8,
            lon: r.9,
            on_sale: r.10,
        })
        .collect();
    out.sort_by(|a, b| a.starts_at.cmp(&b.starts_at).then(a.id.cmp(&b.id)));
    out
}

async fn add_sale(app: &TestApp, id: &str, event: &str, opens: &str, held: i64, state: &str) {
    sqlx::query(
        "INSERT INTO drops (id, name, stock, held, price_cents, currency, opens_at, per_user_cap, \
           order_timeout_secs, admission_rate_per_sec, max_active, state, event_id) \
         VALUES ($1, $1, 100, $2, 5900, 'EUR', $3::timestamptz, 2, 3600, 10, 10, $4, $5)",
    )
    .bind(id)
    .bind(held)
    .bind(opens)
    .bind(state)
    .bind(event)
    .execute(&app.db)
    .await
    .unwrap();
}

type Case = (Vec<(&'static str, String)>, Box<dyn Fn(&Facts) -> bool>);

#[tokio::test]
async fn each_filter_and_combinations_match_a_brute_force_with_facets() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    add_sale(
        &app,
        "ts-1",
        "taylor-swift-1",
        "2020-01-01T00:00:00Z",
        0,
        "open",
    )
    .await;
    add_sale(
        &app,
        "bey-1",
        "beyonce-1",
        "2099-01-01T00:00:00Z",
        0,
        "open",
    )
    .await;
    add_sale(
        &app,
        "adele-1",
        "adele-1",
        "2020-01-01T00:00:00Z",
        100,
        "open",
    )
    .await;
    add_sale(
        &app,
        "cold-1",
        "coldplay-1",
        "2020-01-01T00:00:00Z",
        0,
        "closed",
    )
    .await;
    let all = facts(&app).await;
    let tokyo_day = all
        .iter()
        .find(|f| f.id == "taylor-swift-4")
        .unwrap()
        .local_day;
    let tokyo_utc_day = all
        .iter()
        .find(|f| f.id == "taylor-swift-4")
        .unwrap()
        .starts_at
        .date_naive();
    assert_ne!(
        tokyo_day, tokyo_utc_day,
        "the fixture has a show on the next day locally"
    );
    let s = |v: &str| v.to_string();
    let y = fx::year();
    let day = move |m, d| chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
    let cases: Vec<Case> = vec![
        (vec![], Box::new(|_| true)),
        (vec![("city", s("Köln"))], Box::new(|f| f.city == "Köln")),
        (vec![("city", s("koln"))], Box::new(|f| f.city == "Köln")),
        (
            vec![("venue", s("tempodrom"))],
            Box::new(|f| f.venue == "tempodrom"),
        ),
        (vec![("country", s("de"))], Box::new(|f| f.country == "DE")),
        (
            vec![("genre", s("classical"))],
            Box::new(|f| f.genre == "Classical"),
        ),
        (
            vec![
                ("from", day(3, 1).to_string()),
                ("to", day(5, 31).to_string()),
            ],
            Box::new(move |f| f.local_day >= day(3, 1) && f.local_day <= day(5, 31)),
        ),
        (
            vec![
                ("from", tokyo_day.to_string()),
                ("to", tokyo_day.to_string()),
            ],
            Box::new(move |f| f.local_day == tokyo_day),
        ),
        (
            vec![
                ("from", tokyo_utc_day.to_string()),
                ("to", tokyo_utc_day.to_string()),
            ],
            Box::new(move |f| f.local_day == tokyo_utc_day),
        ),
        (vec![("on_sale", s("true"))], Box::new(|f| f.on_sale)),
        (
            vec![("near", s("52.52,13.40")), ("radius_km", s("30"))],
            Box::new(|f| km(52.52, 13.40, f.lat, f.lon) <= 30.0),
        ),
        (
            vec![("near", s("52.52,13.40")), ("radius_km", s("10"))],
            Box::new(|f| km(52.52, 13.40, f.lat, f.lon) <= 10.0),
        ),
        (
            vec![("q", s("rammstein")), ("country", s("DE"))],
            Box::new(|f| f.performer == "Rammstein" && f.country == "DE"),
        ),
        (
            vec![
                ("genre", s("Pop")),
                ("country", s("GB")),
                ("from", day(1, 1).to_string()),
            ],
            Box::new(|f| f.genre == "Pop" && f.country == "GB"),
        ),
        (
            vec![
                ("near", s("48.85,2.35")),
                ("radius_km", s("20")),
                ("genre", s("pop")),
            ],
            Box::new(|f| km(48.85, 2.35, f.lat, f.lon) <= 20.0 && f.genre == "Pop"),
        ),
        (
            vec![("q", s("pop")), ("on_sale", s("true")), ("city", s("KÖLN"))],
            Box::new(|f| f.genre == "Pop" && f.on_sale && f.city == "Köln"),
        ),
    ];
    for (query, keep) in &cases {
        let q: Vec<(&str, &str)> = query.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let expected: Vec<&Facts> = all.iter().filter(|f| keep(f)).collect();
        let want: Vec<String> = expected.iter().map(|f| f.id.clone()).collect();
        let (mut got, first) = all_pages(&app, &q, "7").await;
        if q.iter().any(|(k, _)| *k == "q") {
            // Relevance order; compare as sets.
            got.sort();
            let mut want = want.clone();
            want.sort();
            assert_eq!(got, want, "{query:?}");
        } else {
            assert_eq!(got, want, "{query:?}: soonest first, every page");
        }
        // Facets against a count of the same events.
        let facets = &first["facets"];
        assert_eq!(facets["complete"], true, "{facets}");
        assert_eq!(facets["counted"], expected.len() as i64, "{query:?}");
        let mut months: BTreeMap<String, i64> = BTreeMap::new();
        let mut cities: BTreeMap<String, i64> = BTreeMap::new();
        for f in &expected {
            *months.entry(f.month.clone()).or_default() += 1;
            *cities.entry(f.city.clone()).or_default() += 1;
        }
        let got_months: BTreeMap<String, i64> = facets["month"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["value"].as_str().unwrap().to_string(),
                    m["count"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got_months, months, "{query:?} month facet");
        let mut top: Vec<(String, i64)> = cities.into_iter().collect();
        top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        top.truncate(10);
        let got_cities: Vec<(String, i64)> = facets["city"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| {
                (
                    m["value"].as_str().unwrap().to_string(),
                    m["count"].as_i64().unwrap(),
                )
            })
            .collect();
        assert_eq!(got_cities, top, "{query:?} city facet");
    }

    // Nearest first, ties by id.
    let (got, first) = all_pages(
        &app,
        &[
            ("near", "52.52,13.40"),
            ("radius_km", "400"),
            ("sort", "distance"),
        ],
        "4",
    )
    .await;
    let mut want: Vec<&Facts> = all
        .iter()
        .filter(|f| km(52.52, 13.40, f.lat, f.lon) <= 400.0)
        .collect();
    want.sort_by(|a, b| {
        km(52.52, 13.40, a.lat, a.lon)
            .total_cmp(&km(52.52, 13.40, b.lat, b.lon))
            .then(a.id.cmp(&b.id))
    });
    let want: Vec<String> = want.iter().map(|f| f.id.clone()).collect();
    assert_eq!(got, want);
    let d = first["events"][0]["distance_km"].as_f64().unwrap();
    assert!(d < 10.0, "{d}");

    // Each hit says how its sales stand.
    let state = |body: &Value, id: &str| {
        body["events"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["id"] == id)
            .map(|e| (e["sale"]["state"].clone(), e["price"].clone()))
            .unwrap()
    };
    let (_, body) = get(&app, "/api/events", &[("limit", "50")]).await;
    let (ts, price) = state(&body, "taylor-swift-1");
    assert_eq!(ts, "on_sale");
    assert_eq!(price["min_cents"], 5900);
    assert_eq!(state(&body, "beyonce-1").0, "not_yet_open");
    assert_eq!(state(&body, "adele-1").0, "sold_out");
    assert_eq!(state(&body, "coldplay-1").0, "none");
    // The sale sells out: the event follows (the trigger fires when `held`
    // reaches `stock`).
    sqlx::query("UPDATE drops SET held = stock WHERE id = 'ts-1'")
        .execute(&app.db)
        .await
        .unwrap();
    let (_, body) = get(&app, "/api/events", &[("limit", "50")]).await;
    assert_eq!(state(&body, "taylor-swift-1").0, "sold_out");
    app.stop().await;
}

#[tokio::test]
async fn the_cursor_neither_repeats_nor_skips_when_events_are_inserted() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let before: Vec<String> = facts(&app).await.into_iter().map(|f| f.id).collect();
    for (query, sorted) in [
        (vec![], true),
        (vec![("q", "berlin")], false),
        (
            vec![
                ("near", "52.52,13.40"),
                ("radius_km", "500"),
                ("sort", "distance"),
            ],
            false,
        ),
    ] {
        let mut q: Vec<(&str, &str)> = query.clone();
        q.push(("limit", "3"));
        let (_, first) = get(&app, "/api/events", &q).await;
        let mut seen = ids(&first);
        let mut cursor = first["next_cursor"].as_str().unwrap().to_string();
        // Insert around the cursor: earlier, later, and in Berlin.
        let tag = uuid::Uuid::new_v4().simple().to_string();
        let y = fx::year();
        let times = [
            format!("{y}-01-01T00:00:00Z"),
            format!("{y}-12-30T00:00:00Z"),
            format!("{y}-06-15T20:00:00Z"),
        ];
        for (n, when) in times.iter().enumerate() {
            sqlx::query(
                "INSERT INTO events (id, name, performers, venue_id, starts_at) \
                 VALUES ($1, 'Berlin Inserted', '{}', 'uber-arena', $2::timestamptz)",
            )
            .bind(format!("new-{n}-{}", &tag[..8]))
            .bind(when)
            .execute(&app.db)
            .await
            .unwrap();
        }
        loop {
            let mut q = q.clone();
            q.push(("cursor", &cursor));
            let (status, page) = get(&app, "/api/events", &q).await;
            assert_eq!(status, 200, "{page}");
            seen.extend(ids(&page));
            match page["next_cursor"].as_str() {
                Some(c) => cursor = c.to_string(),
                None => break,
            }
        }
        let unique: HashSet<&String> = seen.iter().collect();
        assert_eq!(
            unique.len(),
            seen.len(),
            "{query:?}: a hit repeated: {seen:?}"
        );
        if sorted {
            // Everything that was there is shown once; the later insert too.
            for id in &before {
                assert!(unique.contains(id), "{id} skipped");
            }
            assert!(unique.contains(&format!("new-1-{}", &tag[..8])));
            assert!(
                !unique.contains(&format!("new-0-{}", &tag[..8])),
                "before the cursor"
            );
        }
    }
    app.stop().await;
}

#[tokio::test]
async fn bad_input_gets_a_clear_400_and_changes_nothing() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let counts = || async {
        sqlx::query_as::<_, (i64, i64, i64)>(
            "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM event_search), \
               (SELECT count(*) FROM search_words)",
        )
        .fetch_one(&app.db)
        .await
        .unwrap()
    };
    let before = counts().await;
    let (_, page) = get(&app, "/api/events", &[("limit", "2")]).await;
    let cursor = page["next_cursor"].as_str().unwrap().to_string();
    let mut tampered = cursor.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    let long = "a".repeat(10 * 1024);
    let cases: Vec<(String, &str)> = vec![
        (format!("q={long}"), "query_too_long"),
        ("q=%26%20%7C%20!".into(), "invalid_query"),
        ("q=%27".into(), "invalid_query"),
        ("q=%3A*".into(), "invalid_query"),
        ("from=2030-05-01&to=2030-04-01".into(), "invalid_date_range"),
        ("near=52.5,13.4&radius_km=-1".into(), "invalid_radius"),
        ("near=52.5,13.4&radius_km=50000".into(), "invalid_radius"),
        (format!("cursor={tampered}"), "invalid_cursor"),
        ("cursor=bm90LWEtY3Vyc29y".into(), "invalid_cursor"),
        (format!("cursor={cursor}&city=Berlin"), "invalid_cursor"),
        ("limit=0".into(), "invalid_limit"),
        ("limit=10000".into(), "invalid_limit"),
        ("colour=blue".into(), "unknown_parameter"),
        ("q=%FF%FE%FD".into(), "invalid_encoding"),
        ("sort=distance".into(), "invalid_parameter"),
    ];
    for (query, code) in &cases {
        let response = app
            .http
            .get(format!("{}?{query}", app.url("/api/events")))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{}", &query[..query.len().min(60)]);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], *code, "{body}");
        assert!(body["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // SQL and tsquery syntax among words is text, never syntax.
    for q in [
        "a & | ! beyonce",
        "beyonce'; DROP TABLE events; --",
        "beyonce:* & !x",
    ] {
        let (status, body) = get(&app, "/api/events", &[("q", q)]).await;
        assert_eq!(status, 200, "{q}: {body}");
    }
    let (status, body) = get(&app, "/api/events/suggest", &[("q", "")]).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_query"))
    );
    assert_eq!(counts().await, before, "bad input changed nothing");
    app.stop().await;
}

#[tokio::test]
async fn answers_are_cacheable_and_suggestions_forgive_typos() {
    let app = TestApp::spawn().await;
    fx::load(&app.db).await;
    let url = format!("{}?q=koln", app.url("/api/events"));
    let first = app.http.get(&url).send().await.unwrap();
    assert_eq!(first.status(), 200);
    let etag = first.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(first.headers()["cache-control"], "public, max-age=10");
    let again = app
        .http
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let other = app
        .http
        .get(&url)
        .header("if-none-match", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 200);

    for (typed, kind, label) in [
        ("tay", "performer", "Taylor Swift"),
        ("swi", "performer", "Taylor Swift"),
        ("Bey", "performer", "Beyoncé"),
        ("beyonse", "performer", "Beyoncé"),
        ("tayler sw", "performer", "Taylor Swift"),
        ("koln", "city", "Köln"),
        ("lanx", "venue", "LANXESS arena"),
        ("москв", "city", "Москва"),
        ("kraftwek", "performer", "Kraftwerk"),
    ] {
        let (status, body) = get(&app, "/api/events/suggest", &[("q", typed)]).await;
        assert_eq!(status, 200, "{body}");
        let found = body["suggestions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["kind"] == kind && s["label"] == label);
        assert!(found, "{typed}: {body}");
    }
    app.stop().await;
}

/// The SQL of the engine's queries, straight from its source.
fn engine_queries() -> Vec<String> {
    let source = [
        include_str!("../src/search/pg/page.rs"),
        include_str!("../src/search/pg/text.rs"),
    ]
    .concat();
    source
        .split("r#\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("\"#").map(|(sql, _)| sql.to_string()))
        // The relevance statement reads `event_search m` itself (its walk
        // is `search_walk`, migration 0019), the others `event_search s`.
        .filter(|sql| {
            sql.contains("FROM event_search s")
                || sql.contains("FROM event_search m")
                || sql.contains("FROM search_names n")
        })
        .collect()
}

#[tokio::test]
async fn the_big_queries_use_the_indexes() {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(
        "ALTER TABLE events DISABLE TRIGGER USER;
         INSERT INTO venues (id, name, city, country, timezone, lat, lon)
           SELECT 'v' || i, 'Venue ' || i, 'City ' || (i % 500), 'DE', 'Europe/Berlin',
             47 + (i % 100) * 0.05, 6 + (i / 100) * 0.1
           FROM generate_series(1, 5000) i;
         INSERT INTO events (id, name, performers, venue_id, starts_at, genre)
           SELECT 'e' || i, 'Show ' || md5(i::text), ARRAY['Artist ' || (i % 20000)],
             'v' || (1 + i % 5000), now() + i * interval '10 minutes',
             (ARRAY['Pop', 'Rock', 'Jazz'])[1 + i % 3]
           FROM generate_series(1, 50000) i;
         ALTER TABLE events ENABLE TRIGGER USER;
         SELECT search_refresh_all();
         SELECT search_rebuild_lexicon();
         ANALYZE;",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let rare: String = sqlx::query_scalar("SELECT md5('777')")
        .fetch_one(&app.db)
        .await
        .unwrap();
    let queries = engine_queries();
    assert_eq!(
        queries.len(),
        4,
        "relevance, date and distance (each with its facets), suggest"
    );
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::raw_sql("SET plan_cache_mode = force_custom_plan")
        .execute(&mut *conn)
        .await
        .unwrap();
    let null12 = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, now()";
    let text =
        format!("'''{rare}''', NULL, NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, now()");
    let city = "NULL, 'City 7', NULL, NULL, NULL, NULL, NULL, false, NULL, NULL, NULL, now()";
    let near = "NULL, NULL, NULL, NULL, NULL, NULL, NULL, false, 48.0, 7.0, 20000.0, now()";
    let mut checked = 0;
    for (n, sql) in queries.iter().enumerate() {
        let mut runs: Vec<(String, &str)> = Vec::new();
        if sql.contains("ts_rank") {
            runs.push((
                format!("{text}, NULL, NULL, NULL, 21, 1001, 1001"),
                "event_search_doc",
            ));
        } else if sql.contains("AS knn") {
            // Nearest first by the GiST walk, the facets cell by cell.
            runs.push((
                format!("{near}, NULL, NULL, 21, 1001"),
                "event_search_by_point",
            ));
            runs.push((
                format!("{near}, NULL, NULL, 21, 1001"),
                "event_search_by_cell",
            ));
        } else if sql.contains("search_names") {
            // A rare prefix: its few keys (11 names).
            runs.push(("'Artist 1234', 8".into(), "search_names_prefix"));
            // A common one (every name): the most used first, not all of
            // them ("Artist 12", 1,030 names, walks this one too).
            runs.push(("'A', 8".into(), "search_names_by_freq"));
        } else {
            runs.push((
                format!("{null12}, NULL, NULL, 21, 1001"),
                "event_search_by_start",
            ));
            runs.push((
                format!("{city}, NULL, NULL, 21, 1001"),
                "event_search_by_city",
            ));
            runs.push((format!("{text}, NULL, NULL, 21, 1001"), "event_search_doc"));
            runs.push((
                format!("{near}, NULL, NULL, 21, 1001"),
                "event_search_by_cell",
            ));
        }
        sqlx::raw_sql(&format!("PREPARE q{n} AS {sql}"))
            .execute(&mut *conn)
            .await
            .unwrap();
        for (args, index) in runs {
            let plan: Vec<String> = sqlx::query_scalar(&format!("EXPLAIN EXECUTE q{n}({args})"))
                .fetch_all(&mut *conn)
                .await
                .unwrap();
            let plan = plan.join("\n");
            assert!(
                index.split('|').any(|i| plan.contains(i)),
                "{index} not used:\n{plan}"
            );
            assert!(!plan.contains("Seq Scan on event_search"), "{plan}");
            assert!(!plan.contains("Seq Scan on search_names"), "{plan}");
            checked += 1;
        }
    }
    assert_eq!(checked, 9);
    drop(conn);
    app.stop().await;
}
