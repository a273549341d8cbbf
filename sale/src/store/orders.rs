//! Orders in PostgreSQL: read, cancel, expire, and what a rebuild or a
//! reconciliation needs to know.

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// An order as PostgreSQL records it (and the API shows it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrderRow {
    pub id: Uuid,
    pub drop_id: String,
    pub user_id: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    /// The order's price (a seated order's seats may differ in price).
    pub total_cents: i64,
    pub currency: String,
    /// `pending`, `paid`, `cancelled`, `expired` or `refunded`.
    pub status: String,
    #[serde(serialize_with = "crate::clock::rfc3339::utc")]
    pub created_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::clock::rfc3339::utc")]
    pub expires_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::clock::rfc3339::utc")]
    pub updated_at: DateTime<Utc>,
    #[serde(serialize_with = "crate::clock::rfc3339::utc_option")]
    pub paid_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub idempotency_key: String,
    /// A seated order: the hold it took its seats from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hold_id: Option<Uuid>,
}

/// Orders holding units of a drop (pending or paid), for a Redis rebuild.
pub async fn holdings(
    tx: &mut sqlx::PgConnection,
    drop_id: &str,
) -> sqlx::Result<Vec<crate::gate::Holding>> {
    let rows = sqlx::query!(
        "SELECT id, user_id, quantity FROM orders \
         WHERE drop_id = $1 AND status IN ('pending', 'paid')",
        drop_id
    )
    .fetch_all(&mut *tx)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| crate::gate::Holding {
            order_id: row.id,
            user_id: row.user_id,
            quantity: row.quantity,
        })
        .collect())
}

pub async fn by_id(db: &PgPool, id: Uuid) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as!(
        OrderRow,
        "SELECT id, drop_id, user_id, quantity, unit_price_cents, total_cents, currency, status, \
           created_at, expires_at, updated_at, paid_at, idempotency_key, hold_id \
         FROM orders WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn by_idempotency_key(
    db: &PgPool,
    drop_id: &str,
    user_id: &str,
    key: &str,
) -> sqlx::Result<Option<OrderRow>> {
    sqlx::query_as!(
        OrderRow,
        "SELECT id, drop_id, user_id, quantity, unit_price_cents, total_cents, currency, status, \
           created_at, expires_at, updated_at, paid_at, idempotency_key, hold_id \
         FROM orders WHERE drop_id = $1 AND user_id = $2 AND idempotency_key = $3",
        drop_id,
        user_id,
        key
    )
    .fetch_optional(db)
    .await
}

/// A user's newest orders (at most 200).
pub async fn for_user(db: &PgPool, user_id: &str) -> sqlx::Result<Vec<OrderRow>> {
    sqlx::query_as!(
        OrderRow,
        "SELECT id, drop_id, user_id, quantity, unit_price_cents, total_cents, currency, status, \
           created_at, expires_at, updated_at, paid_at, idempotency_key, hold_id \
         FROM orders WHERE user_id = $1 ORDER BY created_at DESC LIMIT 200",
        user_id
    )
    .fetch_all(db)
    .await
}

/// What asking to cancel an order led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cancel {
    /// Cancelled now; the drop's `held` was lowered in the same transaction.
    Cancelled(OrderRow),
    /// A payment of the order is in flight: not cancelled.
    PaymentInProgress,
    /// Not pending (any more): its status.
    NotPending(String),
    /// No such order of this user.
    Unknown,
}

/// Cancels a pending order of `user_id` and gives its units back to the
/// drop's `held`, in one transaction.
///
/// The order row is locked first, and only then are its payments looked at
/// (in a new statement, so with a snapshot taken after the lock): a payment
/// started concurrently either committed before the lock was granted (and
/// is seen: `PaymentInProgress`) or waits for this cancel (and then finds
/// the order cancelled). A cancel and a payment can never both succeed.
pub async fn cancel_pending(db: &PgPool, id: Uuid, user_id: &str) -> sqlx::Result<Cancel> {
    let mut tx = db.begin().await?;
    let locked = sqlx::query!(
        "SELECT status FROM orders WHERE id = $1 AND user_id = $2 FOR UPDATE",
        id,
        user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(locked) = locked else {
        return Ok(Cancel::Unknown);
    };
    if locked.status != "pending" {
        return Ok(Cancel::NotPending(locked.status));
    }
    let paying = sqlx::query_scalar!(
        r#"SELECT EXISTS (SELECT 1 FROM payments WHERE order_id = $1 AND status = 'processing') AS "paying!""#,
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    if paying {
        return Ok(Cancel::PaymentInProgress);
    }
    let order = sqlx::query_as!(
        OrderRow,
        "UPDATE orders SET status = 'cancelled', updated_at = now() WHERE id = $1 \
         RETURNING id, drop_id, user_id, quantity, unit_price_cents, total_cents, currency, \
           status, created_at, expires_at, updated_at, paid_at, idempotency_key, hold_id",
        id
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE drops SET held = held - $2 WHERE id = $1",
        order.drop_id,
        i64::from(order.quantity)
    )
    .execute(&mut *tx)
    .await?;
    if let Some(hold) = order.hold_id {
        super::claims::release_seats(&mut tx, &[hold], order.updated_at).await?;
    }
    tx.commit().await?;
    Ok(Cancel::Cancelled(order))
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
) -> sqlx::Result<BTreeMap<String, StatusTotals>> {
    let rows = sqlx::query!(
        r#"SELECT status, count(*) AS "orders!", COALESCE(sum(quantity), 0)::BIGINT AS "units!"
           FROM orders WHERE drop_id = $1 GROUP BY status"#,
        drop_id
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            (
                row.status,
                StatusTotals {
                    orders: row.orders,
                    units: row.units,
                },
            )
        })
        .collect())
}

/// Units of pending orders per drop, for the given drops.
pub async fn pending_units(db: &PgPool, drop_ids: &[String]) -> sqlx::Result<HashMap<String, i64>> {
    let rows = sqlx::query!(
        r#"SELECT drop_id, COALESCE(sum(quantity), 0)::BIGINT AS "units!"
           FROM orders WHERE drop_id = ANY($1) AND status = 'pending' GROUP BY drop_id"#,
        drop_ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| (row.drop_id, row.units))
        .collect())
}

/// An order that stopped holding units, with what the Redis gate needs to
/// give them back.
#[derive(Debug, Clone)]
pub struct ReleasedOrder {
    pub id: Uuid,
    pub drop_id: String,
    /// Whose order (a drop with stock buckets releases in the user's).
    pub user_id: String,
    pub quantity: i32,
    /// A seated order's hold (its seats go back).
    pub hold_id: Option<Uuid>,
}

/// Expires up to `limit` pending orders due at `now`, found by the
/// `orders_pending_by_expiry` index, and lowers each drop's `held`: one
/// statement, so the status change and the count move together. Rows another
/// sweeper has locked are skipped (`SKIP LOCKED`) and `status = 'pending'` is
/// checked again under the lock, so an order expires exactly once however
/// many sweepers race.
pub async fn expire_due(
    db: &PgPool,
    now: DateTime<Utc>,
    limit: i64,
) -> sqlx::Result<Vec<ReleasedOrder>> {
    let mut tx = db.begin().await?;
    let expired = sqlx::query_as!(
        ReleasedOrder,
        r#"WITH due AS (
             SELECT id FROM orders WHERE status = 'pending' AND expires_at <= $1
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
           ), expired AS (
             UPDATE orders o SET status = 'expired', updated_at = now()
             FROM due WHERE o.id = due.id AND o.status = 'pending'
             RETURNING o.id, o.drop_id, o.user_id, o.quantity, o.hold_id
           ), per_drop AS (
             SELECT drop_id, sum(quantity)::BIGINT AS units FROM expired GROUP BY drop_id
           ), lowered AS (
             UPDATE drops d SET held = d.held - per_drop.units
             FROM per_drop WHERE d.id = per_drop.drop_id RETURNING d.id
           )
           SELECT id AS "id!", drop_id AS "drop_id!", user_id AS "user_id!",
             quantity AS "quantity!", hold_id
           FROM expired"#,
        now,
        limit
    )
    .fetch_all(&mut *tx)
    .await?;
    let holds: Vec<Uuid> = expired.iter().filter_map(|o| o.hold_id).collect();
    if !holds.is_empty() {
        super::claims::release_seats(&mut tx, &holds, now).await?;
    }
    tx.commit().await?;
    Ok(expired)
}

/// Of `ids`, the orders PostgreSQL has at all, with their status.
pub async fn statuses(db: &PgPool, ids: &[Uuid]) -> sqlx::Result<HashMap<Uuid, String>> {
    let rows = sqlx::query!("SELECT id, status FROM orders WHERE id = ANY($1)", ids)
        .fetch_all(db)
        .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.status)).collect())
}

/// Orders that stopped holding (expired, cancelled, refunded) after
/// `since`, by the `orders_ended_by_time` index, read in pages of
/// [`ENDED_PAGE`] however many there are; and PostgreSQL's time before they
/// were read. `since` `None`: the time only.
pub async fn ended_since(db: &PgPool, since: Option<DateTime<Utc>>) -> sqlx::Result<EndedOrders> {
    let read_at = sqlx::query_scalar!(r#"SELECT now() AS "now!""#)
        .fetch_one(db)
        .await?;
    let mut orders: Vec<EndedOrder> = Vec::new();
    let Some(since) = since else {
        return Ok(EndedOrders { read_at, orders });
    };
    let (mut after_at, mut after_id) = (since, Uuid::nil());
    loop {
        let page = sqlx::query!(
            "SELECT id, drop_id, user_id, hold_id, updated_at FROM orders \
             WHERE status IN ('expired', 'cancelled', 'refunded') AND (updated_at, id) > ($1, $2) \
             ORDER BY updated_at, id LIMIT $3",
            after_at,
            after_id,
            ENDED_PAGE
        )
        .fetch_all(db)
        .await?;
        let full_page = page.len() as i64 == ENDED_PAGE;
        if let Some(last) = page.last() {
            (after_at, after_id) = (last.updated_at, last.id);
        }
        orders.extend(page.into_iter().map(|row| EndedOrder {
            id: row.id,
            drop_id: row.drop_id,
            user_id: row.user_id,
            hold_id: row.hold_id,
        }));
        if !full_page {
            return Ok(EndedOrders { read_at, orders });
        }
    }
}

/// Orders read per page by [`ended_since`].
const ENDED_PAGE: i64 = 1000;

/// What [`ended_since`] read.
#[derive(Debug)]
pub struct EndedOrders {
    pub read_at: DateTime<Utc>,
    pub orders: Vec<EndedOrder>,
}

/// An order that stopped holding, and its seat hold if it had one.
#[derive(Debug)]
pub struct EndedOrder {
    pub id: Uuid,
    pub drop_id: String,
    pub user_id: String,
    pub hold_id: Option<Uuid>,
}
