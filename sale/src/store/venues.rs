//! Venues and their seat maps in PostgreSQL. A map version is immutable;
//! a new upload is a new version.

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
        "UPDATE venues SET map_version = $2, updated_at = now() WHERE id = $1",
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
           created_at, updated_at FROM venues WHERE id = $1",
        id
    )
    .fetch_optional(&mut *tx)
    .await
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
