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

/// Joins a hold's seat ids into one text for the batch insert (and is split
/// on in SQL): a unit separator, a control character no seat id may hold.
const SEAT_SEPARATOR: &str = "\u{1f}";

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

fn is_exclusion(error: &sqlx::Error) -> bool {
    matches!(error, sqlx::Error::Database(e) if e.code().as_deref() == Some(EXCLUSION_VIOLATION))
}

/// Takes the drop row's fence: `false` when Redis was rebuilt since.
async fn fence(tx: &mut sqlx::PgConnection, drop_id: &str, epoch: i64) -> sqlx::Result<bool> {
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

/// Why a batch of holds was not recorded as a batch.
#[derive(Debug)]
pub enum BatchFailure {
    /// PostgreSQL refused a seat of one of the holds (a live claim exists):
    /// nothing was committed; record them one by one to tell which.
    SeatClaimed,
    /// Failed before `COMMIT` was sent: surely nothing recorded.
    NotWritten(String),
    /// `COMMIT` was sent and no answer came: every hold may be recorded.
    Unknown(String),
}

/// Records many holds with their claims in one transaction (group commit):
/// one fence per drop, one insert of the holds, one of their claims. The
/// answer has one [`HoldWrite`] per hold, in order. When PostgreSQL refuses
/// a claim (which the Redis decision makes rare) nothing is committed and
/// [`BatchFailure::SeatClaimed`] says to fall back to [`insert`] per hold.
pub async fn insert_batch(
    db: &PgPool,
    holds: &[&NewHold],
    timeout: std::time::Duration,
) -> Result<Vec<HoldWrite>, BatchFailure> {
    let commit_sent = std::sync::atomic::AtomicBool::new(false);
    let attempt = async {
        let not_written = |e: sqlx::Error| BatchFailure::NotWritten(e.to_string());
        let mut tx = db.begin().await.map_err(not_written)?;
        let mut stale = std::collections::BTreeSet::new();
        let fences: std::collections::BTreeSet<(&str, i64)> = holds
            .iter()
            .map(|h| (h.drop_id.as_str(), h.epoch))
            .collect();
        for (drop_id, epoch) in fences {
            if !fence(&mut tx, drop_id, epoch).await.map_err(not_written)? {
                stale.insert((drop_id, epoch));
            }
        }
        let fresh: Vec<&NewHold> = holds
            .iter()
            .copied()
            .filter(|h| !stale.contains(&(h.drop_id.as_str(), h.epoch)))
            .collect();
        let text =
            |f: fn(&NewHold) -> &str| fresh.iter().map(|h| f(h).to_string()).collect::<Vec<_>>();
        let inserted = sqlx::query_as!(
            HoldRow,
            r#"INSERT INTO holds (id, drop_id, event_id, user_id, seats, total_cents,
                 idempotency_key, admission_jti, created_at, expires_at)
               SELECT t.id, t.drop_id, t.event_id, t.user_id,
                 string_to_array(t.seats, E'\x1f'), t.total_cents, t.idempotency_key,
                 t.admission_jti, t.created_at, t.expires_at
               FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::bigint[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
                 AS t(id, drop_id, event_id, user_id, seats, total_cents, idempotency_key,
                      admission_jti, created_at, expires_at)
               ON CONFLICT (drop_id, user_id, idempotency_key) DO NOTHING
               RETURNING id, drop_id, event_id, user_id, seats, total_cents, created_at,
                 expires_at, order_id, released_at, idempotency_key"#,
            &fresh.iter().map(|h| h.id).collect::<Vec<_>>(),
            &text(|h| &h.drop_id),
            &text(|h| &h.event_id),
            &text(|h| &h.user_id),
            &fresh
                .iter()
                .map(|h| h.seats.join(SEAT_SEPARATOR))
                .collect::<Vec<_>>(),
            &fresh.iter().map(|h| h.total_cents).collect::<Vec<_>>(),
            &text(|h| &h.idempotency_key),
            &text(|h| &h.admission_jti),
            &fresh.iter().map(|h| h.created_at).collect::<Vec<_>>(),
            &fresh.iter().map(|h| h.expires_at).collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(not_written)?;
        let mut recorded: std::collections::HashMap<Uuid, HoldRow> =
            inserted.into_iter().map(|row| (row.id, row)).collect();
        // One row per claimed seat of every hold inserted above.
        let (mut events, mut seats, mut ids, mut froms, mut untils) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for hold in fresh.iter().filter(|h| recorded.contains_key(&h.id)) {
            for seat in &hold.seats {
                events.push(hold.event_id.clone());
                seats.push(seat.clone());
                ids.push(hold.id);
                froms.push(hold.created_at);
                untils.push(hold.expires_at);
            }
        }
        let claimed = sqlx::query!(
            "INSERT INTO seat_claims (event_id, seat_id, hold_id, live) \
             SELECT e, s, h, tstzrange(f, u) \
             FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::timestamptz[]) \
               AS t(e, s, h, f, u)",
            &events,
            &seats,
            &ids,
            &froms,
            &untils
        )
        .execute(&mut *tx)
        .await;
        match claimed {
            Ok(_) => {}
            Err(error) if is_exclusion(&error) => return Err(BatchFailure::SeatClaimed),
            Err(error) => return Err(not_written(error)),
        }
        commit_sent.store(true, std::sync::atomic::Ordering::SeqCst);
        tx.commit()
            .await
            .map_err(|e| BatchFailure::Unknown(e.to_string()))?;
        let mut written = Vec::with_capacity(holds.len());
        for hold in holds {
            written.push(if stale.contains(&(hold.drop_id.as_str(), hold.epoch)) {
                HoldWrite::Stale
            } else if let Some(row) = recorded.remove(&hold.id) {
                HoldWrite::Recorded(row)
            } else {
                // Another hold under this idempotency key was there first.
                match by_key(db, &hold.drop_id, &hold.user_id, &hold.idempotency_key).await {
                    Ok(Some(row)) => HoldWrite::Duplicate(row),
                    Ok(None) => HoldWrite::Stale,
                    Err(error) => HoldWrite::Unknown(error.to_string()),
                }
            });
        }
        Ok(written)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        // Dropping an uncommitted transaction rolls it back.
        Err(_) if !commit_sent.load(std::sync::atomic::Ordering::SeqCst) => {
            Err(BatchFailure::NotWritten("timed out before commit".into()))
        }
        Err(_) => Err(BatchFailure::Unknown("timed out waiting for commit".into())),
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
        end_claims(&mut tx, &[id], now).await?;
    }
    tx.commit().await?;
    Ok(released)
}

/// Ends the claims of `holds` at `at` (never before they began).
pub async fn end_claims(
    tx: &mut sqlx::PgConnection,
    holds: &[Uuid],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE seat_claims SET live = tstzrange(lower(live), \
           greatest(lower(live) + interval '1 microsecond', least(upper(live), $2))) \
         WHERE hold_id = ANY($1)",
        holds,
        at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
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
