//! Holds and seat claims in PostgreSQL: record a hold with its claims,
//! give one up, turn one into an order, and what a rebuild loads.
//!
//! Every write that claims seats runs behind the epoch fence: the drop row
//! is read `FOR KEY SHARE` with the Redis epoch the seats were decided
//! under, so a rebuild (which takes the row `FOR UPDATE` and bumps the
//! epoch) either sees the write or makes it fail. And the claims table's
//! exclusion constraint refuses any second live claim on a seat, whatever
//! Redis said.

use super::orders::OrderRow;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// SQLSTATE of an exclusion-constraint violation: a seat already claimed.
const EXCLUSION_VIOLATION: &str = "23P01";

/// A hold as PostgreSQL records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HoldRow {
    pub id: Uuid,
    pub drop_id: String,
    pub event_id: String,
    pub user_id: String,
    pub seats: Vec<String>,
    pub total_cents: i64,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub order_id: Option<Uuid>,
    pub released_at: Option<DateTime<Utc>>,
    #[serde(skip)]
    pub idempotency_key: String,
}

/// A hold to record.
#[derive(Debug, Clone)]
pub struct NewHold {
    pub id: Uuid,
    pub drop_id: String,
    pub event_id: String,
    pub user_id: String,
    pub seats: Vec<String>,
    pub total_cents: i64,
    pub idempotency_key: String,
    pub admission_jti: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The drop's Redis epoch the seats were held under.
    pub epoch: i64,
}

/// What recording a hold led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldWrite {
    Recorded(HoldRow),
    /// The user has a hold under this idempotency key already: that one.
    Duplicate(HoldRow),
    /// Held on a Redis copy since rebuilt: not recorded.
    Stale,
    /// PostgreSQL holds a live claim on one of the seats: not recorded.
    SeatClaimed,
    /// The commit was sent and no answer came: it may be recorded.
    Unknown(String),
}

pub(crate) fn is_exclusion(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(EXCLUSION_VIOLATION))
}

/// Takes the drop row's fence: `false` when Redis was rebuilt since.
pub(crate) async fn fence(
    tx: &mut sqlx::PgConnection,
    drop_id: &str,
    epoch: i64,
) -> sqlx::Result<bool> {
    let row = sqlx::query_scalar!(
        "SELECT 1 FROM drops WHERE id = $1 AND redis_epoch = $2 FOR KEY SHARE",
        drop_id,
        epoch
    )
    .fetch_optional(&mut *tx)
    .await?;
    Ok(row.is_some())
}

/// Records a hold and claims its seats until it expires, in one transaction.
pub async fn insert(db: &PgPool, hold: &NewHold) -> sqlx::Result<HoldWrite> {
    let mut tx = db.begin().await?;
    if !fence(&mut tx, &hold.drop_id, hold.epoch).await? {
        return Ok(HoldWrite::Stale);
    }
    let inserted = sqlx::query_as!(
        HoldRow,
        r#"INSERT INTO holds (id, drop_id, event_id, user_id, seats, total_cents, idempotency_key,
             admission_jti, created_at, expires_at)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
           ON CONFLICT (drop_id, user_id, idempotency_key) DO NOTHING
           RETURNING id, drop_id, event_id, user_id, seats, total_cents, created_at, expires_at,
             order_id, released_at, idempotency_key"#,
        hold.id,
        hold.drop_id,
        hold.event_id,
        hold.user_id,
        &hold.seats,
        hold.total_cents,
        hold.idempotency_key,
        hold.admission_jti,
        hold.created_at,
        hold.expires_at
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(row) = inserted else {
        drop(tx);
        let existing = by_key(db, &hold.drop_id, &hold.user_id, &hold.idempotency_key).await?;
        return Ok(match existing {
            Some(row) => HoldWrite::Duplicate(row),
            None => HoldWrite::Stale,
        });
    };
    let claimed = sqlx::query!(
        "INSERT INTO seat_claims (event_id, seat_id, hold_id, live) \
         SELECT $1, seat, $2, tstzrange($3, $4) FROM unnest($5::text[]) AS seat",
        hold.event_id,
        hold.id,
        hold.created_at,
        hold.expires_at,
        &hold.seats
    )
    .execute(&mut *tx)
    .await;
    match claimed {
        Ok(_) => {}
        Err(error) if is_exclusion(&error) => return Ok(HoldWrite::SeatClaimed),
        Err(error) => return Err(error),
    }
    match tx.commit().await {
        Ok(()) => Ok(HoldWrite::Recorded(row)),
        Err(error) => Ok(HoldWrite::Unknown(error.to_string())),
    }
}

pub async fn by_id(db: &PgPool, id: Uuid) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        "SELECT id, drop_id, event_id, user_id, seats, total_cents, created_at, expires_at, \
           order_id, released_at, idempotency_key FROM holds WHERE id = $1",
        id
    )
    .fetch_optional(db)
    .await
}

pub async fn by_key(
    db: &PgPool,
    drop_id: &str,
    user_id: &str,
    key: &str,
) -> sqlx::Result<Option<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        "SELECT id, drop_id, event_id, user_id, seats, total_cents, created_at, expires_at, \
           order_id, released_at, idempotency_key FROM holds \
         WHERE drop_id = $1 AND user_id = $2 AND idempotency_key = $3",
        drop_id,
        user_id,
        key
    )
    .fetch_optional(db)
    .await
}

/// A user's holds in a drop that still hold seats (live, not ordered).
pub async fn live_of_user(
    db: &PgPool,
    drop_id: &str,
    user_id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<HoldRow>> {
    sqlx::query_as!(
        HoldRow,
        "SELECT id, drop_id, event_id, user_id, seats, total_cents, created_at, expires_at, \
           order_id, released_at, idempotency_key FROM holds \
         WHERE drop_id = $1 AND user_id = $2 AND order_id IS NULL AND released_at IS NULL \
           AND expires_at > $3 ORDER BY created_at",
        drop_id,
        user_id,
        now
    )
    .fetch_all(db)
    .await
}

/// Gives up a live hold of `user_id`: released now, its claims end now.
/// `None` when there is no such live hold (unknown, another user's,
/// ordered, released or lapsed).
pub async fn release_by_user(
    db: &PgPool,
    id: Uuid,
    user_id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Option<HoldRow>> {
    let mut tx = db.begin().await?;
    let released = sqlx::query_as!(
        HoldRow,
        "UPDATE holds SET released_at = $3 \
         WHERE id = $1 AND user_id = $2 AND order_id IS NULL AND released_at IS NULL \
           AND expires_at > $3 \
         RETURNING id, drop_id, event_id, user_id, seats, total_cents, created_at, expires_at, \
           order_id, released_at, idempotency_key",
        id,
        user_id,
        now
    )
    .fetch_optional(&mut *tx)
    .await?;
    if released.is_some() {
        super::claims::end_claims(&mut tx, &[id], now).await?;
    }
    tx.commit().await?;
    Ok(released)
}

/// An order to make from a hold.
#[derive(Debug, Clone)]
pub struct NewSeatedOrder {
    pub id: Uuid,
    pub hold_id: Uuid,
    pub drop_id: String,
    pub user_id: String,
    pub currency: String,
    pub idempotency_key: String,
    pub admission_jti: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub epoch: i64,
}

/// What making an order of a hold led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HoldOrder {
    Recorded(OrderRow),
    /// The hold became an order before: that one.
    Existing(OrderRow),
    /// The hold is not live any more (lapsed, released) or not the user's.
    NotLive,
    /// Ordered on a Redis copy since rebuilt, or more than the stock.
    Refused(&'static str),
    /// The commit was sent and no answer came: it may be recorded.
    Unknown(String),
}

/// Records the order of a live hold in one transaction: the order, the
/// hold marked ordered, its claims made open-ended, the drop's `held`
/// raised (guarded by stock and the epoch fence).
pub async fn record_order(db: &PgPool, order: &NewSeatedOrder) -> sqlx::Result<HoldOrder> {
    let mut tx = db.begin().await?;
    let hold = sqlx::query!(
        "SELECT seats, total_cents, order_id, released_at, expires_at FROM holds \
         WHERE id = $1 AND user_id = $2 AND drop_id = $3 FOR UPDATE",
        order.hold_id,
        order.user_id,
        order.drop_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(hold) = hold else {
        return Ok(HoldOrder::NotLive);
    };
    if let Some(existing) = hold.order_id {
        drop(tx);
        return Ok(match super::orders::by_id(db, existing).await? {
            Some(row) => HoldOrder::Existing(row),
            None => HoldOrder::NotLive,
        });
    }
    if hold.released_at.is_some() || hold.expires_at <= order.created_at {
        return Ok(HoldOrder::NotLive);
    }
    let quantity = hold.seats.len() as i32;
    let unit_price = hold.total_cents / i64::from(quantity.max(1));
    let row = sqlx::query_as!(
        OrderRow,
        "INSERT INTO orders (id, drop_id, user_id, quantity, unit_price_cents, total_cents, \
           currency, status, idempotency_key, admission_jti, created_at, expires_at, hold_id) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', $8, $9, $10, $11, $12) \
         RETURNING id, drop_id, user_id, quantity, unit_price_cents, total_cents, currency, \
           status, created_at, expires_at, updated_at, paid_at, idempotency_key, hold_id",
        order.id,
        order.drop_id,
        order.user_id,
        quantity,
        unit_price,
        hold.total_cents,
        order.currency,
        order.idempotency_key,
        order.admission_jti,
        order.created_at,
        order.expires_at,
        order.hold_id
    )
    .fetch_one(&mut *tx)
    .await?;
    sqlx::query!(
        "UPDATE holds SET order_id = $2 WHERE id = $1",
        order.hold_id,
        order.id
    )
    .execute(&mut *tx)
    .await?;
    let opened = sqlx::query!(
        "UPDATE seat_claims SET live = tstzrange(lower(live), NULL) WHERE hold_id = $1",
        order.hold_id
    )
    .execute(&mut *tx)
    .await;
    match opened {
        Ok(_) => {}
        // Someone claimed a seat after this hold's claim ended: it lapsed.
        Err(error) if is_exclusion(&error) => return Ok(HoldOrder::NotLive),
        Err(error) => return Err(error),
    }
    let raised = sqlx::query!(
        "UPDATE drops SET held = held + $2 \
         WHERE id = $1 AND held + $2 <= stock AND redis_epoch = $3",
        order.drop_id,
        i64::from(quantity),
        order.epoch
    )
    .execute(&mut *tx)
    .await?;
    if raised.rows_affected() != 1 {
        return Ok(HoldOrder::Refused(
            "the seats were held on a Redis copy since rebuilt",
        ));
    }
    match tx.commit().await {
        Ok(()) => Ok(HoldOrder::Recorded(row)),
        Err(error) => Ok(HoldOrder::Unknown(error.to_string())),
    }
}

/// A hold a rebuild loads: live, or ordered by an order still holding.
#[derive(Debug, Clone)]
pub struct OpenHold {
    pub id: Uuid,
    pub user_id: String,
    pub seats: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub ordered: bool,
}

/// The holds of a drop that claim seats at `now`: live holds, and holds
/// whose order is pending or paid (inside the rebuild's transaction).
pub async fn open_for_rebuild(
    tx: &mut sqlx::PgConnection,
    drop_id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<OpenHold>> {
    sqlx::query_as!(
        OpenHold,
        r#"SELECT h.id, h.user_id, h.seats, h.expires_at, (h.order_id IS NOT NULL) AS "ordered!"
           FROM holds h LEFT JOIN orders o ON o.id = h.order_id
           WHERE h.drop_id = $1 AND h.released_at IS NULL
             AND ((h.order_id IS NULL AND h.expires_at > $2)
               OR o.status IN ('pending', 'paid'))"#,
        drop_id,
        now
    )
    .fetch_all(&mut *tx)
    .await
}

/// Of `ids`, each hold PostgreSQL has, with its order's status (`None`:
/// not ordered there).
pub async fn order_statuses(
    db: &PgPool,
    ids: &[Uuid],
) -> sqlx::Result<std::collections::HashMap<Uuid, Option<String>>> {
    let rows = sqlx::query!(
        r#"SELECT h.id, o.status AS "status?" FROM holds h LEFT JOIN orders o ON o.id = h.order_id
           WHERE h.id = ANY($1)"#,
        ids
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|row| (row.id, row.status)).collect())
}
