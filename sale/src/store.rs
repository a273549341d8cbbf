//! PostgreSQL: the durable record of drops and orders.
//!
//! Every query of the sale service lives here. The batch insert used by the
//! group-commit writer is in [`crate::writer`], next to its transaction logic.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::HashMap;
use uuid::Uuid;

/// A drop as PostgreSQL records it.
#[derive(Debug, Clone, sqlx::FromRow)]
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
    pub state: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Which load of this drop Redis should hold (see migration 0002).
    pub redis_epoch: i64,
    /// The pre-queue draw's secret seed (see migration 0003); never shown
    /// before the drop opens.
    pub draw_seed: String,
}

impl DropRow {
    /// What the Redis gate needs of this drop.
    pub fn gate_state(&self) -> crate::stock::DropGateState {
        crate::stock::DropGateState {
            stock: self.stock,
            state: self.state.clone(),
            opens_at_ms: self.opens_at.timestamp_millis(),
            cap: self.per_user_cap,
            price_cents: self.price_cents,
            currency: self.currency.clone(),
            timeout_secs: self.order_timeout_secs,
            version: self.updated_at.timestamp_micros(),
            epoch: self.redis_epoch,
        }
    }
}

/// An order as PostgreSQL records it (and the API shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct OrderRow {
    pub id: Uuid,
    pub drop_id: String,
    pub user_id: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub currency: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub idempotency_key: String,
}

pub(crate) const ORDER_COLUMNS: &str =
    "id, drop_id, user_id, quantity, unit_price_cents, currency, status, \
     created_at, expires_at, updated_at, paid_at, idempotency_key";

const DROP_COLUMNS: &str = "id, name, stock, held, price_cents, currency, opens_at, per_user_cap, \
     order_timeout_secs, admission_rate_per_sec, max_active, state, created_at, updated_at, \
     redis_epoch, draw_seed";

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
}

/// Inserts a drop; `None` when the id is taken.
pub async fn insert_drop(db: &PgPool, drop: &NewDrop) -> sqlx::Result<Option<DropRow>> {
    sqlx::query_as::<_, DropRow>(&format!(
        "INSERT INTO drops (id, name, stock, price_cents, currency, opens_at, per_user_cap, \
         order_timeout_secs, admission_rate_per_sec, max_active, draw_seed) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
         ON CONFLICT (id) DO NOTHING RETURNING {DROP_COLUMNS}"
    ))
    .bind(&drop.id)
    .bind(&drop.name)
    .bind(drop.stock)
    .bind(drop.price_cents)
    .bind(&drop.currency)
    .bind(drop.opens_at)
    .bind(drop.per_user_cap)
    .bind(drop.order_timeout_secs)
    .bind(drop.admission_rate_per_sec)
    .bind(drop.max_active)
    // 244 bits from the OS random generator, as 64 hex digits.
    .bind(format!(
        "{}{}",
        Uuid::new_v4().simple(),
        Uuid::new_v4().simple()
    ))
    .fetch_optional(db)
    .await
}

pub async fn get_drop(db: &PgPool, id: &str) -> sqlx::Result<Option<DropRow>> {
    sqlx::query_as::<_, DropRow>(&format!("SELECT {DROP_COLUMNS} FROM drops WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn list_drops(db: &PgPool) -> sqlx::Result<Vec<DropRow>> {
    sqlx::query_as::<_, DropRow>(&format!(
        "SELECT {DROP_COLUMNS} FROM drops ORDER BY opens_at DESC, id LIMIT 500"
    ))
    .fetch_all(db)
    .await
}

/// A change to a drop's settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct DropChange {
    pub admission_rate_per_sec: Option<f64>,
    pub max_active: Option<i32>,
    pub add_stock: Option<i64>,
    pub state: Option<String>,
}

/// Applies a change in one statement. A closed drop stays closed: changing its
/// state returns `Ok(None)` just like an unknown id; the caller tells them apart.
pub async fn update_drop(
    db: &PgPool,
    id: &str,
    change: &DropChange,
) -> sqlx::Result<Option<DropRow>> {
    sqlx::query_as::<_, DropRow>(&format!(
        "UPDATE drops SET \
           admission_rate_per_sec = COALESCE($2, admission_rate_per_sec), \
           max_active = COALESCE($3, max_active), \
           stock = stock + COALESCE($4, 0), \
           state = COALESCE($5, state), \
           updated_at = clock_timestamp() \
         WHERE id = $1 AND (state <> 'closed' OR $5 IS NULL OR $5 = 'closed') \
         RETURNING {DROP_COLUMNS}"
    ))
    .bind(id)
    .bind(change.admission_rate_per_sec)
    .bind(change.max_active)
    .bind(change.add_stock)
    .bind(&change.state)
    .fetch_optional(db)
    .await
}

/// Starts a rebuild of a drop's Redis copy: locks the drop row (waiting at
/// most `lock_wait` for another rebuilder or order batch), so rebuilds of one
/// drop never overlap across processes. `Ok(None)` for an unknown drop.
pub async fn lock_drop_for_rebuild(
    tx: &mut sqlx::PgConnection,
    drop_id: &str,
    lock_wait: std::time::Duration,
) -> sqlx::Result<Option<DropRow>> {
    sqlx::query(&format!(
        "SET LOCAL lock_timeout = '{}ms'",
        lock_wait.as_millis()
    ))
    .execute(&mut *tx)
    .await?;
    sqlx::query_as::<_, DropRow>(&format!(
        "SELECT {DROP_COLUMNS} FROM drops WHERE id = $1 FOR UPDATE"
    ))
    .bind(drop_id)
    .fetch_optional(&mut *tx)
    .await
}

/// Moves the drop to a new Redis epoch (inside the rebuild's transaction):
/// from its commit on, the order writer refuses reservations made on any
/// earlier Redis copy.
pub async fn bump_redis_epoch(tx: &mut sqlx::PgConnection, drop_id: &str) -> sqlx::Result<DropRow> {
    sqlx::query_as::<_, DropRow>(&format!(
        "UPDATE drops SET redis_epoch = redis_epoch + 1 WHERE id = $1 RETURNING {DROP_COLUMNS}"
    ))
    .bind(drop_id)
    .fetch_one(&mut *tx)
    .await
}

/// Orders holding units of a drop (pending or paid), for a Redis rebuild.
pub async fn holdings(
    db: &mut sqlx::PgConnection,
    drop_id: &str,
) -> sqlx::Result<Vec<crate::stock::Holding>> {
    let rows: Vec<(Uuid, String, i32)> = sqlx::query_as(
        "SELECT id, user_id, quantity FROM orders \
         WHERE drop_id = $1 AND status IN ('pending', 'paid')",
    )
    .bind(drop_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(order_id, user_id, quantity)| crate::stock::Holding {
            order_id,
            user_id,
            quantity,
        })
        .collect())
}

pub async fn order_by_id(db: &PgPool, id: Uuid) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as::<_, OrderRow>(&format!("SELECT {ORDER_COLUMNS} FROM orders WHERE id = $1"))
        .bind(id)
        .fetch_optional(db)
        .await
}

pub async fn order_by_idempotency_key(
    db: &PgPool,
    drop_id: &str,
    user_id: &str,
    key: &str,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as::<_, OrderRow>(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders \
         WHERE drop_id = $1 AND user_id = $2 AND idempotency_key = $3"
    ))
    .bind(drop_id)
    .bind(user_id)
    .bind(key)
    .fetch_optional(db)
    .await
}

pub async fn orders_for_user(db: &PgPool, user_id: &str) -> sqlx::Result<Vec<OrderRow>> {
    sqlx::query_as::<_, OrderRow>(&format!(
        "SELECT {ORDER_COLUMNS} FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 200"
    ))
    .bind(user_id)
    .fetch_all(db)
    .await
}

/// Marks a pending order cancelled and gives its units back to the drop's
/// `held`, in one transaction. `None` when it was not pending (any more) or
/// a payment of it is in flight.
pub async fn cancel_pending_order(db: &PgPool, id: Uuid) -> sqlx::Result<Option<OrderRow>> {
    let mut tx = db.begin().await?;
    let order = sqlx::query_as::<_, OrderRow>(&format!(
        "UPDATE orders SET status = 'cancelled', updated_at = now() \
         WHERE id = $1 AND status = 'pending' AND NOT EXISTS ( \
           SELECT 1 FROM payments WHERE order_id = $1 AND status = 'processing') \
         RETURNING {ORDER_COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(order) = &order {
        sqlx::query("UPDATE drops SET held = held - $2 WHERE id = $1")
            .bind(&order.drop_id)
            .bind(i64::from(order.quantity))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(order)
}

/// Order counts and units by status for one drop.
#[derive(Debug, Clone, Default, Serialize)]
pub struct StatusTotals {
    pub orders: i64,
    pub units: i64,
}

pub async fn totals_by_status(
    db: &PgPool,
    drop_id: &str,
) -> sqlx::Result<std::collections::BTreeMap<String, StatusTotals>> {
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, count(*), COALESCE(sum(quantity), 0)::BIGINT FROM orders \
         WHERE drop_id = $1 GROUP BY status",
    )
    .bind(drop_id)
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(status, orders, units)| (status, StatusTotals { orders, units }))
        .collect())
}

/// An order that stopped holding units, with what the Redis gate needs to
/// give them back.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReleasedOrder {
    pub id: Uuid,
    pub drop_id: String,
    pub quantity: i32,
}

/// Expires up to `limit` pending orders due at `now`, found by the
/// `orders_pending_by_expiry` index, and lowers each drop's `held`: one
/// statement, so the status change and the count move together. Rows another
/// sweeper has locked are skipped (`SKIP LOCKED`) and `status = 'pending'` is
/// checked again under the lock, so an order expires exactly once however
/// many sweepers race.
pub async fn expire_due_orders(
    db: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<ReleasedOrder>> {
    sqlx::query_as::<_, ReleasedOrder>(
        "WITH due AS ( \
           SELECT id FROM orders WHERE status = 'pending' AND expires_at <= $1 \
           ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED \
         ), expired AS ( \
           UPDATE orders o SET status = 'expired', updated_at = now() \
           FROM due WHERE o.id = due.id AND o.status = 'pending' \
           RETURNING o.id, o.drop_id, o.quantity \
         ), per_drop AS ( \
           SELECT drop_id, sum(quantity)::BIGINT AS units FROM expired GROUP BY drop_id \
         ), lowered AS ( \
           UPDATE drops d SET held = d.held - per_drop.units \
           FROM per_drop WHERE d.id = per_drop.drop_id RETURNING d.id \
         ) \
         SELECT id, drop_id, quantity FROM expired",
    )
    .bind(now)
    .bind(limit)
    .fetch_all(db)
    .await
}

/// Of `ids`, the orders PostgreSQL has at all, with their status.
pub async fn statuses(db: &PgPool, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, String>> {
    let rows: Vec<(Uuid, String)> =
        sqlx::query_as("SELECT id, status FROM orders WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(db)
            .await?;
    Ok(rows.into_iter().collect())
}
