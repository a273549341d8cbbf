//! Drops in PostgreSQL: create, read, change, page through, and the
//! rebuild's lock and epoch.

use crate::seats::Seating;
use admission::contract::DropState;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use sqlx::PgPool;
use uuid::Uuid;

/// A drop as PostgreSQL records it.
#[derive(Debug, Clone)]
pub struct DropRow {
    pub id: String,
    pub name: String,
    pub stock: i64,
    pub held: i64,
    pub price_cents: i64,
    pub currency: String,
    pub opens_at: DateTime<Utc>,
    pub per_user_cap: i32,
    pub order_timeout_secs: i32,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    pub state: DropState,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Which load of this drop Redis should hold (see migration 0002).
    pub redis_epoch: i64,
    /// The pre-queue draw's secret seed (see migration 0003); never shown
    /// before the drop opens.
    pub draw_seed: String,
    /// The event this drop sells (see migration 0005).
    pub event_id: Option<String>,
    /// A seated sale's seating; `None` for units.
    pub seating: Option<Json<Seating>>,
    /// How many Redis buckets the stock is split over (see migration 0010
    /// and `crate::gate::buckets`); 1 for a seated sale.
    pub stock_buckets: i32,
}

impl DropRow {
    /// What the Redis gate needs of this drop.
    pub fn gate_state(&self) -> crate::gate::DropGateState {
        crate::gate::DropGateState {
            stock: self.stock,
            state: self.state,
            opens_at_ms: self.opens_at.timestamp_millis(),
            cap: self.per_user_cap,
            price_cents: self.price_cents,
            currency: self.currency.clone(),
            timeout_secs: self.order_timeout_secs,
            version: self.updated_at.timestamp_micros(),
            epoch: self.redis_epoch,
            seated: self.seating.is_some(),
            hold_ms: self
                .seating
                .as_ref()
                .map_or(0, |seating| i64::from(seating.hold_secs) * 1000),
            buckets: if self.seating.is_some() {
                1
            } else {
                self.stock_buckets
                    .clamp(1, crate::gate::buckets::MAX_BUCKETS as i32) as u32
            },
        }
    }
}

/// A drop to create.
#[derive(Debug, Clone)]
pub struct NewDrop {
    pub id: String,
    pub name: String,
    pub stock: i64,
    pub price_cents: i64,
    pub currency: String,
    pub opens_at: DateTime<Utc>,
    pub per_user_cap: i32,
    pub order_timeout_secs: i32,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    pub event_id: Option<String>,
    pub seating: Option<Seating>,
    pub stock_buckets: i32,
}

/// Inserts a drop; `None` when the id is taken.
pub async fn insert(db: &PgPool, drop: &NewDrop) -> sqlx::Result<Option<DropRow>> {
    // 244 bits from the OS random generator, as 64 hex digits.
    let seed = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
    sqlx::query_as!(
        DropRow,
        r#"INSERT INTO drops (id, name, stock, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active, draw_seed, event_id, seating,
             stock_buckets)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
           ON CONFLICT (id) DO NOTHING
           RETURNING id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets"#,
        drop.id,
        drop.name,
        drop.stock,
        drop.price_cents,
        drop.currency,
        drop.opens_at,
        drop.per_user_cap,
        drop.order_timeout_secs,
        drop.admission_rate_per_sec,
        drop.max_active,
        seed,
        drop.event_id,
        drop.seating.clone().map(Json) as Option<Json<Seating>>,
        drop.stock_buckets,
    )
    .fetch_optional(db)
    .await
}

pub async fn get(db: &PgPool, id: &str) -> sqlx::Result<Option<DropRow>> {
    sqlx::query_as!(
        DropRow,
        r#"SELECT id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets
           FROM drops WHERE id = $1"#,
        id
    )
    .fetch_optional(db)
    .await
}

/// One page of the public list, newest opening first: drops strictly after
/// the cursor `(opens_at, id)` in that order.
pub async fn page_by_opening(
    db: &PgPool,
    after: Option<(DateTime<Utc>, String)>,
    limit: i64,
) -> sqlx::Result<Vec<DropRow>> {
    let (after_at, after_id) = match after {
        Some((at, id)) => (Some(at), Some(id)),
        None => (None, None),
    };
    sqlx::query_as!(
        DropRow,
        r#"SELECT id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets
           FROM drops
           WHERE $1::timestamptz IS NULL OR (opens_at, id) < ($1, $2::text)
           ORDER BY opens_at DESC, id DESC
           LIMIT $3"#,
        after_at,
        after_id,
        limit
    )
    .fetch_all(db)
    .await
}

/// One page of live drops (not closed, or holding units), by id after
/// `after`: what the background loops walk. Uses the `drops_live` index, so
/// the cost grows with live drops, not with history.
pub async fn live_page(db: &PgPool, after: &str, limit: i64) -> sqlx::Result<Vec<DropRow>> {
    sqlx::query_as!(
        DropRow,
        r#"SELECT id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets
           FROM drops
           WHERE (state <> 'closed' OR holds_units) AND id > $1
           ORDER BY id
           LIMIT $2"#,
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// Drops changed since `since` (any state), oldest change first.
pub async fn changed_since(
    db: &PgPool,
    since: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<DropRow>> {
    sqlx::query_as!(
        DropRow,
        r#"SELECT id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets
           FROM drops WHERE updated_at > $1 ORDER BY updated_at LIMIT $2"#,
        since,
        limit
    )
    .fetch_all(db)
    .await
}

/// One page of the ids of live seated sales (by the `drops_live` index).
pub async fn seated_live_page(db: &PgPool, after: &str, limit: i64) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "SELECT id FROM drops \
         WHERE (state <> 'closed' OR holds_units) AND seating IS NOT NULL AND id > $1 \
         ORDER BY id LIMIT $2",
        after,
        limit
    )
    .fetch_all(db)
    .await
}

/// A change to a drop's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DropChange {
    pub admission_rate_per_sec: Option<f64>,
    pub max_active: Option<i32>,
    pub add_stock: Option<i64>,
    pub state: Option<DropState>,
}

/// Applies a change in one statement. A closed drop stays closed: changing its
/// state returns `Ok(None)` just like an unknown id; the caller tells them apart.
pub async fn update(db: &PgPool, id: &str, change: &DropChange) -> sqlx::Result<Option<DropRow>> {
    sqlx::query_as!(
        DropRow,
        r#"UPDATE drops SET
             admission_rate_per_sec = COALESCE($2, admission_rate_per_sec),
             max_active = COALESCE($3, max_active),
             stock = stock + COALESCE($4::bigint, 0),
             state = COALESCE($5, state),
             updated_at = clock_timestamp()
           WHERE id = $1 AND (state <> 'closed' OR $5::text IS NULL OR $5 = 'closed')
           RETURNING id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets"#,
        id,
        change.admission_rate_per_sec,
        change.max_active,
        change.add_stock,
        change.state.map(DropState::as_str),
    )
    .fetch_optional(db)
    .await
}

/// Starts a rebuild of a drop's Redis copy: locks the drop row (waiting at
/// most `lock_wait` for another rebuilder or order batch), so rebuilds of one
/// drop never overlap across processes. `Ok(None)` for an unknown drop.
pub async fn lock_for_rebuild(
    tx: &mut sqlx::PgConnection,
    drop_id: &str,
    lock_wait: std::time::Duration,
) -> sqlx::Result<Option<DropRow>> {
    // `SET LOCAL` takes no parameters; `set_config(..., true)` is its
    // parameterised form.
    sqlx::query!(
        "SELECT set_config('lock_timeout', $1, true)",
        format!("{}ms", lock_wait.as_millis())
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query_as!(
        DropRow,
        r#"SELECT id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets
           FROM drops WHERE id = $1 FOR UPDATE"#,
        drop_id
    )
    .fetch_optional(&mut *tx)
    .await
}

/// Moves the drop to a new Redis epoch (inside the rebuild's transaction):
/// from its commit on, the order writer refuses reservations made on any
/// earlier Redis copy.
pub async fn bump_redis_epoch(tx: &mut sqlx::PgConnection, drop_id: &str) -> sqlx::Result<DropRow> {
    sqlx::query_as!(
        DropRow,
        r#"UPDATE drops SET redis_epoch = redis_epoch + 1 WHERE id = $1
           RETURNING id, name, stock, held, price_cents, currency, opens_at, per_user_cap,
             order_timeout_secs, admission_rate_per_sec, max_active,
             state AS "state: DropState", created_at, updated_at, redis_epoch, draw_seed,
             event_id, seating AS "seating: Json<Seating>", stock_buckets"#,
        drop_id
    )
    .fetch_one(&mut *tx)
    .await
}
