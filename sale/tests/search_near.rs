//! Near a point (migration 0014): the grid cells and the nearest-neighbour
//! walk find exactly what a brute force over every venue finds, around a
//! corner of four cells, across many cells, past the 64-cell bound (the
//! general path) and across the antimeridian; sorted by date the pages are
//! in start order, sorted by distance in distance order with ties of one
//! venue neither repeated nor skipped across pages; the facets count the
//! same rows.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use serde_json::Value;
use std::collections::HashSet;

/// Metres on earthdistance's sphere, as the filter computes them.
fn km(lat1: f64, lon1: f64, lat2: f64, lon2: f64) -> f64 {
    let (p1, p2) = (lat1.to_radians(), lat2.to_radians());
    let dl = (lon2 - lon1).to_radians();
    let a = ((p2 - p1) / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * 6378.168 * a.sqrt().asin()
}

/// Every page of a search: the hits (id, start, distance) and the first
/// page's facets.
async fn pages(
    app: &TestApp,
    query: &[(&str, String)],
    limit: &str,
) -> (Vec<(String, chrono::DateTime<chrono::Utc>, f64)>, Value) {
    let mut hits = Vec::new();
    let mut cursor: Option<String> = None;
    let mut first = Value::Null;
    for page in 0.. {
        assert!(page < 200, "runaway paging");
        let mut q = query.to_vec();
        q.push(("limit", limit.into()));
        if let Some(c) = &cursor {
            q.push(("cursor", c.clone()));
        }
        let response = app
            .http
            .get(app.url("/api/events"))
            .query(&q)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{q:?}");
        let body: Value = response.json().await.unwrap();
        for e in body["events"].as_array().unwrap() {
            hits.push((
                e["id"].as_str().unwrap().to_string(),
                e["starts_at"].as_str().unwrap().parse().unwrap(),
                e["distance_km"].as_f64().unwrap(),
            ));
        }
        if page == 0 {
            first = body.clone();
        }
        match body["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    (hits, first)
}

#[tokio::test]
async fn near_finds_what_a_brute_force_finds_by_date_and_by_distance() {
    let app = TestApp::spawn().await;
    // Venues every 0.07° of latitude and 0.1° of longitude around the
    // corner of four cells at 47.5, 7.5; two on either side of the
    // antimeridian. Every venue has one event; a tenth have three (ties of
    // distance), one of them cancelled. Every start is its own hour.
    sqlx::raw_sql(
        "ALTER TABLE events DISABLE TRIGGER USER;
         INSERT INTO venues (id, name, city, country, timezone, lat, lon)
           SELECT 'v' || a || '-' || o, 'Venue ' || a || '-' || o, 'City ' || (a % 7), 'CH',
             'Europe/Zurich', 46.0 + a * 0.07, 5.5 + o * 0.1
           FROM generate_series(0, 42) a, generate_series(0, 40) o;
         INSERT INTO venues (id, name, city, country, timezone, lat, lon) VALUES
           ('east', 'East', 'Suva', 'FJ', 'Pacific/Fiji', -17.0, 179.95),
           ('west', 'West', 'Apia', 'WS', 'Pacific/Apia', -17.0, -179.95);
         INSERT INTO events (id, name, performers, venue_id, starts_at, genre, status)
           SELECT 'e-' || v.id || '-' || n, 'Show ' || v.id, ARRAY['Band'], v.id,
             now() + row_number() OVER (ORDER BY hashtext(v.id || n), v.id, n) * interval '1 hour',
             (ARRAY['Pop', 'Rock', 'Jazz'])[1 + abs(hashtext(v.id)) % 3],
             CASE WHEN n = 3 THEN 'cancelled' ELSE 'scheduled' END
           FROM venues v, generate_series(1, 3) n
           WHERE n = 1 OR abs(hashtext(v.id)) % 10 = 0;
         ALTER TABLE events ENABLE TRIGGER USER;
         SELECT search_refresh_all();
         ANALYZE;",
    )
    .execute(&app.db)
    .await
    .unwrap();
    let venues: Vec<(String, f64, f64)> = sqlx::query_as(
        "SELECT e.id, v.lat, v.lon FROM events e JOIN venues v ON v.id = e.venue_id \
         WHERE e.status <> 'cancelled'",
    )
    .fetch_all(&app.db)
    .await
    .unwrap();
    let mut checked = 0;
    // Around the corner; many cells; more than 64 cells (the general
    // path); across the antimeridian.
    for (lat, lon, radius) in [
        (47.5, 7.5, 25.0),
        (47.51, 7.49, 60.0),
        (47.3, 7.8, 120.0),
        (47.5, 7.5, 400.0),
        (-17.0, 179.99, 30.0),
    ] {
        let mut expected: Vec<(String, f64)> = venues
            .iter()
            .map(|(id, vlat, vlon)| (id.clone(), km(lat, lon, *vlat, *vlon)))
            .filter(|(_, d)| *d <= radius)
            .collect();
        expected.sort_by(|a, b| a.1.total_cmp(&b.1));
        // Not a boundary case: nothing within a metre of the radius.
        assert!(
            venues
                .iter()
                .all(|(_, a, o)| (km(lat, lon, *a, *o) - radius).abs() > 0.001),
            "a venue on the circle at {lat},{lon} {radius}"
        );
        assert!(!expected.is_empty());
        let want: HashSet<&str> = expected.iter().map(|(id, _)| id.as_str()).collect();
        let near = format!("{lat},{lon}");
        for sort in ["date", "distance"] {
            let query = [
                ("near", near.clone()),
                ("radius_km", radius.to_string()),
                ("sort", sort.to_string()),
            ];
            // Small pages where there are few hits (ties cut across pages).
            let limit = if radius < 100.0 { "7" } else { "50" };
            let (hits, first) = pages(&app, &query, limit).await;
            let got: Vec<&str> = hits.iter().map(|h| h.0.as_str()).collect();
            assert_eq!(
                got.iter().copied().collect::<HashSet<_>>().len(),
                got.len(),
                "{query:?}: a hit repeated"
            );
            assert_eq!(
                got.iter().copied().collect::<HashSet<_>>(),
                want,
                "{query:?}"
            );
            let facets = &first["facets"];
            assert_eq!(
                facets["counted"].as_i64().unwrap(),
                expected.len().min(1001) as i64,
                "{query:?}: {facets}"
            );
            for pair in hits.windows(2) {
                match sort {
                    "date" => assert!(pair[0].1 < pair[1].1, "{query:?}: {pair:?}"),
                    _ => assert!(pair[0].2 <= pair[1].2 + 1e-9, "{query:?}: {pair:?}"),
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
    app.stop().await;
}
