//! Venues and their seat maps in PostgreSQL. A map version is immutable;
//! a new upload is a new version.

use super::Changed;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// A venue as PostgreSQL records it (and the API shows it).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VenueRow {
    pub id: String,
    pub name: String,
    pub city: String,
    pub country: String,
    pub address: String,
    pub timezone: String,
    pub lat: f64,
    pub lon: f64,
    pub map_version: Option<i32>,
    /// Counts changes (a new map version too): an edit names the version it
    /// was made from.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// A venue to create.
#[derive(Debug, Clone)]
pub struct NewVenue {
    pub id: String,
    pub name: String,
    pub city: String,
    pub country: String,
    pub address: String,
    pub timezone: String,
    pub lat: f64,
    pub lon: f64,
}

/// A seat map version to store.
#[derive(Debug, Clone)]
pub struct NewMap {
    pub json: String,
    pub sha256: String,
    pub seat_count: i32,
}

/// Creates a venue, with its first seat map when given; `None` when the id
/// is taken.
pub async fn insert(
    db: &PgPool,
    venue: &NewVenue,
    map: Option<&NewMap>,
) -> sqlx::Result<Option<VenueRow>> {
    let mut tx = db.begin().await?;
    let inserted = sqlx::query!(
        "INSERT INTO venues (id, name, city, country, address, timezone, lat, lon) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING RETURNING id",
        venue.id,
        venue.name,
        venue.city,
        venue.country,
        venue.address,
        venue.timezone,
        venue.lat,
        venue.lon
    )
    .fetch_optional(&mut *tx)
    .await?;
    if inserted.is_none() {
        return Ok(None);
    }
    if let Some(map) = map {
        add_map_in(&mut tx, &venue.id, map).await?;
    }
    let row = get_in(&mut tx, &venue.id).await?;
    tx.commit().await?;
    Ok(row)
}

/// Stores a new seat map version and makes it the venue's current one; the
/// version, or `None` for an unknown venue.
pub async fn add_map(db: &PgPool, venue_id: &str, map: &NewMap) -> sqlx::Result<Option<i32>> {
    let mut tx = db.begin().await?;
    let exists = sqlx::query_scalar!("SELECT 1 FROM venues WHERE id = $1 FOR UPDATE", venue_id)
        .fetch_optional(&mut *tx)
        .await?;
    if exists.is_none() {
        return Ok(None);
    }
    let version = add_map_in(&mut tx, venue_id, map).await?;
    tx.commit().await?;
    Ok(Some(version))
}

async fn add_map_in(
    tx: &mut sqlx::PgConnection,
    venue_id: &str,
    map: &NewMap,
) -> sqlx::Result<i32> {
    let version = sqlx::query_scalar!(
        r#"INSERT INTO venue_maps (venue_id, version, map, sha256, seat_count)
           SELECT $1, COALESCE(max(version), 0) + 1, $2, $3, $4 FROM venue_maps WHERE venue_id = $1
           RETURNING version"#,
        venue_id,
        map.json,
        map.sha256,
        map.seat_count
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE venues SET map_version = $2, version = version + 1, updated_at = now() \
         WHERE id = $1",
        venue_id,
        version
    )
    .execute(&mut *tx)
    .await?;
    Ok(version)
}

async fn get_in(tx: &mut sqlx::PgConnection, id: &str) -> sqlx::Result<Option<VenueRow>> {
    sqlx::query_as!(
        VenueRow,
        "SELECT id, name, city, country, address, timezone, lat, lon, map_version, \
           version, created_at, updated_at FROM venues WHERE id = $1",
        id
    )
    .fetch_optional(&mut *tx)
    .await
}

/// A change of a venue's place or names (`None`: unchanged); also
/// `PATCH /api/venues/{id}`'s body (the seat map changes by
/// `PUT /api/venues/{id}/map`), checked by `Sale::change_venue` before it
/// gets here.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VenueFields {
    pub name: Option<String>,
    pub city: Option<String>,
    pub country: Option<String>,
    pub address: Option<String>,
    pub timezone: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// Applies a change made from version `expected` (any: `None`), with the
/// venue's row locked so two changes are decided one after the other.
pub async fn update(
    db: &PgPool,
    id: &str,
    change: &VenueFields,
    expected: Option<i64>,
) -> sqlx::Result<Changed<VenueRow>> {
    let mut tx = db.begin().await?;
    let Some(now) = sqlx::query!(
        r#"SELECT version, timezone,
             EXISTS (SELECT 1 FROM drops d JOIN events e ON e.id = d.event_id
                     WHERE e.venue_id = v.id) AS "has_sales!"
           FROM venues v WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Changed::Unknown);
    };
    let moves_zone = change.timezone.as_ref().is_some_and(|t| *t != now.timezone);
    if let Some(refused) = Changed::refusal(expected, now.version, now.has_sales && moves_zone) {
        return Ok(refused);
    }
    sqlx::query!(
        "UPDATE venues SET name = COALESCE($2, name), city = COALESCE($3, city), \
           country = COALESCE($4, country), address = COALESCE($5, address), \
           timezone = COALESCE($6, timezone), lat = COALESCE($7, lat), lon = COALESCE($8, lon), \
           version = version + 1, updated_at = now() \
         WHERE id = $1",
        id,
        change.name,
        change.city,
        change.country,
        change.address,
        change.timezone,
        change.lat,
        change.lon
    )
    .execute(&mut *tx)
    .await?;
    let row = get_in(&mut tx, id).await?;
    tx.commit().await?;
    Ok(row.map_or(Changed::Unknown, Changed::Done))
}

pub async fn get(db: &PgPool, id: &str) -> sqlx::Result<Option<VenueRow>> {
    let mut conn = db.acquire().await?;
    get_in(&mut conn, id).await
}

/// A stored map: its JSON (served as it is) and its hash (the ETag).
#[derive(Debug, Clone)]
pub struct StoredMap {
    pub version: i32,
    pub json: String,
    pub sha256: String,
}

/// A venue's map of `version`, or its current one.
pub async fn map(
    db: &PgPool,
    venue_id: &str,
    version: Option<i32>,
) -> sqlx::Result<Option<StoredMap>> {
    sqlx::query_as!(
        StoredMap,
        r#"SELECT m.version, m.map AS json, m.sha256 FROM venue_maps m
           JOIN venues v ON v.id = m.venue_id
           WHERE m.venue_id = $1 AND m.version = COALESCE($2, v.map_version)"#,
        venue_id,
        version
    )
    .fetch_optional(db)
    .await
}
