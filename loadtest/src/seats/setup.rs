//! Setting a seated sale up through the sale API, as an operator would: a
//! venue with a generated stadium map, an event there, a seated sale of every
//! category; and what the fans need of the map (the categories, the hot
//! seats next to the stage).

use crate::sale_api::error_code;
use sale::seating::doc::Document;
use sale::seating::SeatMap;
use serde_json::json;

/// The sale as the run knows it.
pub struct SeatedSale {
    pub drop: String,
    pub event: String,
    pub map: SeatMap,
    pub categories: Vec<String>,
    /// Pairs of adjacent seats (ids) near the stage: what "hot seat" fans ask for.
    pub hot_pairs: Vec<[String; 2]>,
}

/// What the sale looks like.
pub struct SaleShape {
    pub seats: usize,
    pub cap: u32,
    pub hold_secs: u32,
    pub admission_rate: f64,
    pub opens_in_secs: i64,
}

async fn post(
    http: &reqwest::Client,
    url: String,
    key: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let response = http.post(&url).bearer_auth(key).json(body).send().await?;
    anyhow::ensure!(
        response.status() == 201,
        "POST {url}: {}",
        error_code(response).await
    );
    Ok(())
}

/// Creates the venue (uploading the map), the event and the seated sale.
pub async fn create(
    http: &reqwest::Client,
    sale: &str,
    operator_key: &str,
    shape: &SaleShape,
) -> anyhow::Result<SeatedSale> {
    let stamp = chrono::Utc::now().timestamp_millis();
    let (venue, event, drop) = (
        format!("lt-venue-{stamp}"),
        format!("lt-event-{stamp}"),
        format!("lt-seats-{stamp}"),
    );
    let document: Document = sale::seating::generate::stadium(shape.seats, stamp as u64);
    let map = SeatMap::from_document(document.clone())?;
    let map_json: serde_json::Value = serde_json::from_str(&map.to_json())?;
    post(
        http,
        format!("{sale}/api/venues"),
        operator_key,
        &json!({
            "id": venue, "name": "Load Test Stadium", "city": "Köln", "country": "DE",
            "timezone": "Europe/Berlin", "lat": 50.94, "lon": 6.96, "map": map_json,
        }),
    )
    .await?;
    post(
        http,
        format!("{sale}/api/events"),
        operator_key,
        &json!({
            "id": event, "name": "Load Test Night", "performers": ["The Load Testers"],
            "venue_id": venue, "starts_at": "2031-06-01T19:00:00Z", "genre": "rock",
        }),
    )
    .await?;
    let categories: Vec<String> = map.categories().iter().map(|c| c.id.clone()).collect();
    let prices: serde_json::Map<String, serde_json::Value> = categories
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), json!(9900 - 1000 * i as i64)))
        .collect();
    let opens_at = chrono::Utc::now() + chrono::Duration::seconds(shape.opens_in_secs);
    post(
        http,
        format!("{sale}/api/drops"),
        operator_key,
        &json!({
            "id": drop, "name": "Load Test Night (seated)", "currency": "EUR",
            "opens_at": opens_at, "event_id": event, "per_user_cap": shape.cap,
            "admission_rate_per_sec": shape.admission_rate, "max_active": 1_000_000,
            "seating": {"prices": prices, "hold_secs": shape.hold_secs},
        }),
    )
    .await?;
    let hot_pairs = hot_pairs(&map, (shape.seats / 50).max(20));
    Ok(SeatedSale {
        drop,
        event,
        map,
        categories,
        hot_pairs,
    })
}

/// Adjacent pairs among the `count` seats closest to the stage.
fn hot_pairs(map: &SeatMap, count: usize) -> Vec<[String; 2]> {
    let focal = map.focal_point();
    let mut by_distance: Vec<u32> = (0..map.seat_count() as u32).collect();
    let distance = |i: u32| {
        map.seat(i)
            .map(|s| (s.x - focal.x).hypot(s.y - focal.y))
            .unwrap_or(f64::MAX)
    };
    by_distance.sort_by(|a, b| distance(*a).total_cmp(&distance(*b)));
    let hot: std::collections::HashSet<u32> = by_distance.into_iter().take(count).collect();
    let mut pairs = Vec::new();
    for &i in &hot {
        let (Some(a), Some(b)) = (map.seat(i), map.seat(i + 1)) else {
            continue;
        };
        if hot.contains(&(i + 1)) && a.block == b.block {
            if let (Some(x), Some(y)) = (map.seat_id(i), map.seat_id(i + 1)) {
                pairs.push([x.to_string(), y.to_string()]);
            }
        }
    }
    pairs.sort();
    pairs
}
