//! Events in PostgreSQL: create, change, read, and the sales of an event.

use super::Changed;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;

/// An event as PostgreSQL records it (and the API shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventRow {
    pub id: String,
    pub name: String,
    pub performers: Vec<String>,
    pub venue_id: String,
    pub starts_at: DateTime<Utc>,
    pub genre: String,
    pub description: String,
    /// `scheduled`, `on_sale`, `sold_out`, `postponed` or `cancelled`.
    pub status: String,
    /// Counts changes: an edit names the version it was made from.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// An event to create, or the fields of a change (`None`: unchanged).
#[derive(Debug, Clone, Default)]
pub struct EventFields {
    pub name: Option<String>,
    pub performers: Option<Vec<String>>,
    pub venue_id: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub genre: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
}

/// Creates an event; `None` when the id is taken.
pub async fn insert(db: &PgPool, id: &str, event: &EventFields) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as!(
        EventRow,
        r#"INSERT INTO events (id, name, performers, venue_id, starts_at, genre, description, status)
           VALUES ($1, $2, COALESCE($3, '{}'::text[]), $4, $5, COALESCE($6, ''), COALESCE($7, ''),
             COALESCE($8, 'scheduled'))
           ON CONFLICT (id) DO NOTHING
           RETURNING id, name, performers, venue_id, starts_at, genre, description, status,
             version, created_at, updated_at"#,
        id,
        event.name,
        event.performers.as_deref(),
        event.venue_id,
        event.starts_at,
        event.genre,
        event.description,
        event.status
    )
    .fetch_optional(db)
    .await
}

/// Applies a change made from version `expected` (any version: `None`).
/// The event's row is locked first, so two changes are decided one after
/// the other, and a sale created meanwhile (its foreign key waits for the
/// lock) is seen by the venue rule.
pub async fn update(
    db: &PgPool,
    id: &str,
    change: &EventFields,
    expected: Option<i64>,
) -> sqlx::Result<Changed<Box<EventRow>>> {
    let mut tx = db.begin().await?;
    let Some(now) = sqlx::query!(
        r#"SELECT version, venue_id,
             EXISTS (SELECT 1 FROM drops d WHERE d.event_id = e.id) AS "has_sales!"
           FROM events e WHERE id = $1 FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?
    else {
        return Ok(Changed::Unknown);
    };
    let moves_venue = change.venue_id.as_ref().is_some_and(|v| *v != now.venue_id);
    if let Some(refused) = Changed::refusal(expected, now.version, now.has_sales && moves_venue) {
        return Ok(refused);
    }
    let row = sqlx::query_as!(
        EventRow,
        r#"UPDATE events SET
             name = COALESCE($2, name),
             performers = COALESCE($3, performers),
             venue_id = COALESCE($4, venue_id),
             starts_at = COALESCE($5, starts_at),
             genre = COALESCE($6, genre),
             description = COALESCE($7, description),
             status = COALESCE($8, status),
             version = version + 1,
             updated_at = now()
           WHERE id = $1
           RETURNING id, name, performers, venue_id, starts_at, genre, description, status,
             version, created_at, updated_at"#,
        id,
        change.name,
        change.performers.as_deref(),
        change.venue_id,
        change.starts_at,
        change.genre,
        change.description,
        change.status
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Changed::Done(Box::new(row)))
}

pub async fn get(db: &PgPool, id: &str) -> sqlx::Result<Option<EventRow>> {
    sqlx::query_as!(
        EventRow,
        "SELECT id, name, performers, venue_id, starts_at, genre, description, status, \
           version, created_at, updated_at FROM events WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

/// The ids of an event's sales, oldest opening first.
pub async fn sale_ids(db: &PgPool, event_id: &str) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT id FROM drops WHERE event_id = $1 ORDER BY opens_at, id",
        event_id
    )
    .fetch_all(db)
    .await
}
