//! Payment endpoints: a fan starts paying an order; the provider reports the
//! outcome to the webhook.

use super::auth::User;
use super::error::{ApiError, ApiJson};
use crate::app::AppState;
use crate::payments::ledger::{self, Applied, PaymentRow, Start};
use crate::payments::signature::{self, SignatureError};
use crate::payments::{Charge, ProviderError, WebhookEvent};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Deserialize;
use uuid::Uuid;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PayRequest {
    /// The provider's payment method (sandbox: `card_ok`, `card_declined`,
    /// `card_insufficient_funds`, `card_delayed`).
    pub method: String,
}

/// `POST /api/orders/{id}/pay`: starts a payment attempt; 202 with the
/// attempt (`processing`). The order becomes `paid` when the provider's
/// success reaches the webhook; after a decline it stays `pending` and may be
/// paid again until it expires.
#[tracing::instrument(skip_all, fields(order = %id))]
pub async fn pay(
    State(app): State<AppState>,
    User(user): User,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PayRequest>,
) -> Result<(StatusCode, Json<PaymentRow>), ApiError> {
    let order_id: Uuid = id
        .parse()
        .map_err(|_| ApiError::NotFound("unknown_order"))?;
    app.payments
        .check_method(&body.method)
        .map_err(|e| ApiError::BadRequest("invalid_payment_method", e.to_string()))?;
    let now = app.clock.now();
    let started = ledger::start(
        &app.db,
        order_id,
        &user.sub,
        app.payments.name(),
        &body.method,
        now,
    )
    .await?;
    let payment = match started {
        Start::Started(payment) => payment,
        Start::InFlight(payment) => return Ok((StatusCode::ACCEPTED, Json(payment))),
        Start::UnknownOrder => return Err(ApiError::NotFound("unknown_order")),
        Start::Expired => {
            return Err(ApiError::Conflict(
                "order_expired",
                "the order's time to pay is over".into(),
            ))
        }
        Start::NotPending(status) => {
            return Err(ApiError::Conflict(
                "not_pending",
                format!("only a pending order can be paid; this one is {status}"),
            ))
        }
    };
    let charge = Charge {
        payment_id: payment.id,
        order_id,
        amount_cents: payment.amount_cents,
        currency: payment.currency.clone(),
        method: payment.method.clone(),
    };
    if let Err(error) = app.payments.charge(charge).await {
        ledger::decline(&app.db, payment.id, "provider_unavailable").await?;
        return Err(match error {
            ProviderError::UnknownMethod(_) => {
                ApiError::BadRequest("invalid_payment_method", error.to_string())
            }
            ProviderError::Unavailable(_) => {
                ApiError::unavailable("the payment provider did not answer", error.to_string())
            }
        });
    }
    metrics::counter!("sale_payments_started_total").increment(1);
    Ok((StatusCode::ACCEPTED, Json(payment)))
}

/// `POST /api/payments/webhook`: a signed provider event. Checked in this
/// order, each failure changing nothing: signature present and well formed
/// (400 `invalid_signature`), HMAC matches (400 `invalid_signature`),
/// timestamp within 5 minutes (400 `stale_signature`), body is an event (400
/// `invalid_json` / 422 `invalid_event`), payment known (404
/// `unknown_payment`), matching order and amount (422 `event_mismatch`). A
/// replayed event id is answered 200 `duplicate` and changes nothing.
pub async fn webhook(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("invalid_body", rejection.body_text())
        }
    })?;
    let header = headers
        .get(signature::HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    signature::verify(
        &app.webhook_secret,
        header,
        &body,
        app.clock.now().timestamp(),
    )
    .map_err(|error| match error {
        SignatureError::Stale => ApiError::BadRequest("stale_signature", error.to_string()),
        _ => ApiError::BadRequest("invalid_signature", error.to_string()),
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest("invalid_json", format!("the body is not JSON: {e}")))?;
    let event: WebhookEvent = serde_json::from_value(value).map_err(|e| {
        ApiError::Unprocessable("invalid_event", format!("not a payment event: {e}"))
    })?;
    if event.id.is_empty() || event.id.len() > 200 {
        return Err(ApiError::Unprocessable(
            "invalid_event",
            "the event id must be 1-200 characters".into(),
        ));
    }
    let applied = ledger::apply(&app.db, &event, app.clock.now()).await?;
    let (result, order_status) = match applied {
        Applied::UnknownPayment => return Err(ApiError::NotFound("unknown_payment")),
        Applied::Mismatch => {
            return Err(ApiError::Unprocessable(
                "event_mismatch",
                "the event's order, amount or currency differ from the payment's".into(),
            ))
        }
        Applied::Duplicate => ("duplicate", None),
        Applied::Applied {
            refund,
            order_status,
        } => {
            if let Some(payment) = refund {
                tracing::warn!(payment = %payment.id, order = %payment.order_id, "late payment: refunding");
                metrics::counter!("sale_late_payments_refunded_total").increment(1);
                if let Err(error) = app
                    .payments
                    .refund(
                        payment.id,
                        payment.order_id,
                        payment.amount_cents,
                        payment.currency.clone(),
                    )
                    .await
                {
                    // Recorded as refund_requested: the retry loop asks again.
                    tracing::warn!(%error, payment = %payment.id, "refund not requested yet; will retry");
                }
            }
            ("applied", Some(order_status))
        }
    };
    tracing::info!(
        event = event.id,
        kind = event.kind.as_str(),
        result,
        "payment event"
    );
    Ok(Json(serde_json::json!({
        "result": result,
        "event_id": event.id,
        "order_status": order_status,
    })))
}
