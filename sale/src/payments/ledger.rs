//! PostgreSQL side of payments: attempts, applied provider events, and the
//! order transitions they cause, each in one transaction.
//!
//! Late payment (the charge succeeds after the order stopped holding units):
//! the payment is refunded and an expired order becomes `refunded`. We chose
//! refund-always over re-reserving: by then the units were given back and,
//! in a flash sale, usually sold to the next fan within seconds; re-reserving
//! would make the outcome depend on a race the fan cannot see, and jump the
//! fan past everyone still waiting in line. A refund is predictable,
//! explainable, and can never oversell or break the cap.

use super::{EventKind, WebhookEvent};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

/// A payment attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PaymentRow {
    pub id: Uuid,
    pub order_id: Uuid,
    pub provider: String,
    pub method: String,
    pub amount_cents: i64,
    pub currency: String,
    pub status: String,
    pub decline_code: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// What asking to pay an order led to.
#[derive(Debug, Clone)]
pub enum Start {
    /// A new attempt, to hand to the provider.
    Started(PaymentRow),
    /// An attempt is in flight already (a double click): that one.
    InFlight(PaymentRow),
    /// The order is not pending (any more): its status.
    NotPending(String),
    /// The order is pending but past its `expires_at` (the sweeper is due).
    Expired,
    /// No such order for this user.
    UnknownOrder,
}

/// Starts a payment attempt for a pending order of `user_id`.
pub async fn start(
    db: &PgPool,
    order_id: Uuid,
    user_id: &str,
    provider: &str,
    method: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Start> {
    let mut tx = db.begin().await?;
    let order = sqlx::query!(
        r#"SELECT status, expires_at, total_cents AS amount_cents, currency
           FROM orders WHERE id = $1 AND user_id = $2 FOR UPDATE"#,
        order_id,
        user_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(order) = order else {
        return Ok(Start::UnknownOrder);
    };
    let (status, expires_at, amount_cents, currency) = (
        order.status,
        order.expires_at,
        order.amount_cents,
        order.currency,
    );
    if status != "pending" {
        return Ok(Start::NotPending(status));
    }
    if expires_at <= now {
        return Ok(Start::Expired);
    }
    let in_flight = sqlx::query_as!(
        PaymentRow,
        "SELECT id, order_id, provider, method, amount_cents, currency, status, decline_code, \
           created_at, updated_at FROM payments WHERE order_id = $1 AND status = 'processing'",
        order_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    if let Some(payment) = in_flight {
        return Ok(Start::InFlight(payment));
    }
    let payment = sqlx::query_as!(
        PaymentRow,
        "INSERT INTO payments (id, order_id, provider, method, amount_cents, currency, status, \
           created_at) VALUES ($1, $2, $3, $4, $5, $6, 'processing', $7) \
         RETURNING id, order_id, provider, method, amount_cents, currency, status, decline_code, \
           created_at, updated_at",
        Uuid::now_v7(),
        order_id,
        provider,
        method,
        amount_cents,
        currency,
        now
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Start::Started(payment))
}

/// Marks an attempt the provider refused to start as declined.
pub async fn decline(db: &PgPool, payment_id: Uuid, code: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE payments SET status = 'declined', decline_code = $2, updated_at = now() \
         WHERE id = $1 AND status = 'processing'",
        payment_id,
        code
    )
    .execute(db)
    .await?;
    Ok(())
}

/// The newest attempt of an order, if any.
pub async fn latest_for_order(db: &PgPool, order_id: Uuid) -> sqlx::Result<Option<PaymentRow>> {
    sqlx::query_as!(
        PaymentRow,
        "SELECT id, order_id, provider, method, amount_cents, currency, status, decline_code, \
           created_at, updated_at FROM payments WHERE order_id = $1 \
         ORDER BY created_at DESC, id DESC LIMIT 1",
        order_id
    )
    .fetch_optional(db)
    .await
}

/// What applying a provider event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Applied {
    /// Applied now. `refund`: a payment to refund with the provider (a late
    /// or surplus payment); `order_status`: the order's status afterwards.
    Applied {
        refund: Option<Box<PaymentRow>>,
        order_status: String,
    },
    /// This event id was applied before: nothing changed.
    Duplicate,
    /// No such payment: nothing changed.
    UnknownPayment,
    /// The event names another order, amount or currency than the payment.
    Mismatch,
}

/// Applies one verified provider event in one transaction: the event id is
/// recorded in the same transaction as its effect, so a replay (concurrent
/// or later) changes nothing.
pub async fn apply(db: &PgPool, event: &WebhookEvent, now: DateTime<Utc>) -> sqlx::Result<Applied> {
    let mut tx = db.begin().await?;
    let payment = sqlx::query_as!(
        PaymentRow,
        "SELECT id, order_id, provider, method, amount_cents, currency, status, decline_code, \
           created_at, updated_at FROM payments WHERE id = $1 FOR UPDATE",
        event.payment_id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(payment) = payment else {
        return Ok(Applied::UnknownPayment);
    };
    if payment.order_id != event.order_id
        || payment.amount_cents != event.amount_cents
        || payment.currency != event.currency
    {
        return Ok(Applied::Mismatch);
    }
    let fresh = sqlx::query!(
        "INSERT INTO payment_events (event_id, payment_id, kind) VALUES ($1, $2, $3) \
         ON CONFLICT (event_id) DO NOTHING",
        event.id,
        payment.id,
        event.kind.as_str()
    )
    .execute(&mut *tx)
    .await?
    .rows_affected()
        == 1;
    if !fresh {
        return Ok(Applied::Duplicate);
    }
    let order_status = sqlx::query_scalar!(
        "SELECT status FROM orders WHERE id = $1 FOR UPDATE",
        payment.order_id
    )
    .fetch_one(&mut *tx)
    .await?;
    let set_payment = |status: &'static str| {
        sqlx::query!(
            "UPDATE payments SET status = $2, decline_code = COALESCE($3, decline_code), \
             updated_at = now() WHERE id = $1",
            payment.id,
            status,
            event.decline_code.clone()
        )
    };
    let mut refund = None;
    let mut order_status = order_status;
    match event.kind {
        EventKind::PaymentSucceeded if payment.status == "processing" => {
            if order_status == "pending" {
                // Still holding its units (even if due: the sweeper has not
                // taken them back yet), so paying cannot oversell.
                sqlx::query!(
                    "UPDATE orders SET status = 'paid', paid_at = $2, updated_at = now() \
                     WHERE id = $1",
                    payment.order_id,
                    now
                )
                .execute(&mut *tx)
                .await?;
                set_payment("succeeded").execute(&mut *tx).await?;
                order_status = "paid".into();
            } else {
                // Late: the units went back to the drop. Refund, never revive.
                set_payment("refund_requested").execute(&mut *tx).await?;
                if order_status == "expired" {
                    sqlx::query!(
                        "UPDATE orders SET status = 'refunded', updated_at = now() WHERE id = $1",
                        payment.order_id
                    )
                    .execute(&mut *tx)
                    .await?;
                    order_status = "refunded".into();
                }
                refund = Some(Box::new(payment.clone()));
            }
        }
        EventKind::PaymentDeclined if payment.status == "processing" => {
            set_payment("declined").execute(&mut *tx).await?;
        }
        EventKind::RefundSucceeded
            if matches!(payment.status.as_str(), "refund_requested" | "succeeded") =>
        {
            set_payment("refunded").execute(&mut *tx).await?;
        }
        // An event that does not fit the attempt's state (a decline after a
        // success, say) is recorded and otherwise ignored.
        _ => {
            tracing::warn!(event = event.id, kind = event.kind.as_str(), payment = %payment.id, status = payment.status, "payment event out of order; ignored")
        }
    }
    tx.commit().await?;
    Ok(Applied::Applied {
        refund,
        order_status,
    })
}

/// Refunds requested at least `older_than` ago and still not confirmed; each
/// is touched so the next pass waits again. Asking the provider again is
/// safe: refunds are idempotent on the payment id.
pub async fn refunds_to_retry(
    db: &PgPool,
    older_than: DateTime<Utc>,
) -> sqlx::Result<Vec<PaymentRow>> {
    sqlx::query_as!(
        PaymentRow,
        "UPDATE payments SET updated_at = now() WHERE id IN ( \
           SELECT id FROM payments WHERE status = 'refund_requested' AND updated_at < $1 \
           ORDER BY updated_at LIMIT 100 FOR UPDATE SKIP LOCKED) \
         RETURNING id, order_id, provider, method, amount_cents, currency, status, decline_code, \
           created_at, updated_at",
        older_than
    )
    .fetch_all(db)
    .await
}
