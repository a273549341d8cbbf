//! Payment routes: a fan starts paying an order; the provider reports the
//! outcome to the webhook. The rules are in [`crate::payments::paying`].

use super::auth::User;
use super::error::ApiError;
use super::HttpState;
use crate::payments::ledger::PaymentRow;
use crate::payments::signature;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Json, Router};
use runtime::error::ApiJson;
use serde::Deserialize;
use uuid::Uuid;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/orders/{id}/pay", post(pay))
        .route("/api/payments/webhook", post(webhook))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayRequest {
    /// The provider's payment method (sandbox: `card_ok`, `card_declined`,
    /// `card_insufficient_funds`, `card_delayed`).
    method: String,
}

/// `POST /api/orders/{id}/pay`: 202 with the attempt (`processing`).
#[tracing::instrument(skip_all, fields(order = %id))]
async fn pay(
    State(http): State<HttpState>,
    User(user): User,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PayRequest>,
) -> Result<(StatusCode, Json<PaymentRow>), ApiError> {
    let order_id: Uuid = id
        .parse()
        .map_err(|_| ApiError::NotFound("unknown_order"))?;
    let payment = http
        .sale
        .pay_order(order_id, &user.sub, &body.method)
        .await?;
    Ok((StatusCode::ACCEPTED, Json(payment)))
}

/// `POST /api/payments/webhook`: a signed provider event.
async fn webhook(
    State(http): State<HttpState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let body = super::error::body_bytes(body)?;
    let header = headers
        .get(signature::HEADER)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let outcome = http.sale.apply_payment_event(&body, header).await?;
    Ok(Json(serde_json::json!({
        "result": outcome.result,
        "event_id": outcome.event_id,
        "order_status": outcome.order_status,
    })))
}
