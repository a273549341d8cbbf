//! Order endpoints: place (admission token), show, list mine, cancel.
//! Paying is in [`super::payments`].
//!
//! Placing an order, step by step, and what a crash between steps leaves:
//! 1. `reserve.lua` decides and reserves in Redis (atomic).
//! 2. The group-commit writer records the order in PostgreSQL.
//! 3. The client gets 201.
//!
//! Dies after 1, before 2: the units stay reserved in Redis with no order;
//! nothing is oversold (an undersell until reconciliation releases them).
//! Dies after 2, before 3: the order is recorded but unacknowledged; the
//! client's retry with the same `Idempotency-Key` gets it (200).
//! Step 2 fails for sure: the reservation is released and the client gets 503.
//! Step 2's outcome is unknown: the reservation stays (safe side), 503.

use super::auth::{bearer, Caller, User};
use super::drops::{ensure_loaded, valid_drop_id};
use super::error::ApiError;
use crate::app::AppState;
use crate::payments::ledger::PaymentRow;
use crate::stock::{idempotency_tag, Refusal, Reservation};
use crate::store::{self, OrderRow};
use crate::writer::{NewOrder, WriteError, WriteOutcome};
use admission::token::TokenError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;
use serde::Serialize;
use std::time::Duration;
use uuid::Uuid;

/// Header carrying the caller's user token next to the admission token; when
/// present, its user must be the token's user.
pub const USER_TOKEN_HEADER: &str = "x-user-token";
/// Largest quantity the API parses at all; the drop's cap decides the rest.
const MAX_PARSED_QUANTITY: i64 = 1000;

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: OrderRow,
    pub total_cents: i64,
    /// The newest payment attempt (shown by `GET /api/orders/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRow>,
}

impl From<OrderRow> for OrderView {
    fn from(order: OrderRow) -> Self {
        let total_cents = order.unit_price_cents * i64::from(order.quantity);
        Self {
            order,
            total_cents,
            payment: None,
        }
    }
}

fn token_error(error: TokenError) -> ApiError {
    match error {
        TokenError::WrongDrop => ApiError::WrongDrop,
        other => ApiError::InvalidToken(other.to_string()),
    }
}

fn refusal(refusal: Refusal) -> ApiError {
    match refusal {
        Refusal::Closed => ApiError::Closed,
        Refusal::Paused => ApiError::Paused,
        Refusal::NotOpen => ApiError::NotOpen,
        Refusal::InvalidQuantity => {
            ApiError::InvalidQuantity("quantity is more than the limit per person".into())
        }
        Refusal::CapExceeded => ApiError::CapExceeded,
        Refusal::SoldOut => ApiError::SoldOut,
    }
}

fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
    let key = headers
        .get("idempotency-key")
        .ok_or_else(|| {
            ApiError::BadRequest(
                "idempotency_key_required",
                "send an Idempotency-Key header (a fresh random value per purchase)".into(),
            )
        })?
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 200 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "invalid_idempotency_key",
                "Idempotency-Key must be 1-200 visible ASCII characters".into(),
            )
        })?;
    Ok(key.to_string())
}

fn quantity(body: Result<Bytes, BytesRejection>) -> Result<i64, ApiError> {
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("invalid_body", rejection.body_text())
        }
    })?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest("invalid_json", format!("the body is not JSON: {e}")))?;
    let invalid = || {
        ApiError::InvalidQuantity(
            "quantity must be a whole number from 1 up to the limit per person".into(),
        )
    };
    let quantity = value
        .get("quantity")
        .and_then(|q| q.as_i64())
        .ok_or_else(invalid)?;
    if !(1..=MAX_PARSED_QUANTITY).contains(&quantity) {
        return Err(invalid());
    }
    Ok(quantity)
}

/// `POST /api/drops/{id}/orders`.
#[tracing::instrument(skip_all, fields(drop = %drop_id, user))]
pub async fn place(
    State(app): State<AppState>,
    Path(drop_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    if !valid_drop_id(&drop_id) {
        return Err(ApiError::NotFound("unknown_drop"));
    }
    let token = bearer(&headers)
        .ok_or_else(|| ApiError::InvalidToken("an admission token is required".into()))?;
    let claims = app.admission.verify(token, &drop_id).map_err(token_error)?;
    tracing::Span::current().record("user", claims.sub.as_str());
    if let Some(user_token) = headers.get(USER_TOKEN_HEADER) {
        let user = user_token
            .to_str()
            .ok()
            .and_then(|t| app.users.verify(t).ok())
            .ok_or_else(|| ApiError::InvalidToken("the user token is invalid".into()))?;
        if user.sub != claims.sub {
            return Err(ApiError::WrongUser);
        }
    }
    if app.order_limiter.check_key(&claims.sub).is_err() {
        return Err(ApiError::RateLimited);
    }
    let key = idempotency_key(&headers)?;
    let quantity = quantity(body)?;

    let order_id = Uuid::now_v7();
    let now = app.clock.now();
    let reserve = || {
        app.gate.reserve(
            &drop_id,
            &claims.sub,
            quantity,
            now.timestamp_millis(),
            order_id,
            &key,
        )
    };
    let mut reservation = reserve().await?;
    if reservation == Reservation::NotLoaded {
        ensure_loaded(&app, &drop_id).await?;
        reservation = reserve().await?;
    }
    match reservation {
        Reservation::Reserved {
            price_cents,
            currency,
            timeout_secs,
            epoch,
            ..
        } => {
            let order = NewOrder {
                id: order_id,
                drop_id: drop_id.clone(),
                user_id: claims.sub.clone(),
                quantity: quantity as i32,
                unit_price_cents: price_cents,
                currency,
                idempotency_key: key.clone(),
                admission_jti: claims.jti.clone(),
                created_at: now,
                expires_at: now + chrono::Duration::seconds(timeout_secs),
                epoch,
            };
            record(&app, order).await
        }
        Reservation::Duplicate {
            order_id,
            quantity: first,
        } => {
            if first != quantity {
                return Err(idempotency_mismatch());
            }
            let order = wait_for_order(&app, order_id).await?;
            Ok((StatusCode::OK, Json(order.into())))
        }
        Reservation::NotLoaded => Err(ApiError::Unavailable(
            "the drop is loading; try again".into(),
        )),
        Reservation::Refused(why) => {
            metrics::counter!("sale_orders_refused_total", "reason" => format!("{why:?}"))
                .increment(1);
            Err(refusal(why))
        }
    }
}

fn idempotency_mismatch() -> ApiError {
    ApiError::InvalidQuantity(
        "this Idempotency-Key was used for a different quantity; use a new key for a new purchase"
            .into(),
    )
}

/// Step 2 of placing an order, and what each outcome means for the reservation.
async fn record(
    app: &AppState,
    order: NewOrder,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    let (drop_id, order_id) = (order.drop_id.clone(), order.id);
    let (user, key, quantity) = (
        order.user_id.clone(),
        order.idempotency_key.clone(),
        order.quantity,
    );
    match app.writer.write(order).await {
        Ok(WriteOutcome::Recorded(order)) => {
            metrics::counter!("sale_orders_placed_total").increment(1);
            Ok((StatusCode::CREATED, Json((*order).into())))
        }
        Ok(WriteOutcome::DuplicateKey) => {
            // PostgreSQL already has an order under this key (Redis forgot
            // it): hand back that one and free what this attempt reserved.
            app.gate
                .release(&drop_id, order_id, Some(&idempotency_tag(&user, &key)))
                .await?;
            let existing = store::order_by_idempotency_key(&app.db, &drop_id, &user, &key)
                .await?
                .ok_or_else(|| anyhow::anyhow!("duplicate key without an order"))?;
            if existing.quantity != quantity {
                return Err(idempotency_mismatch());
            }
            Ok((StatusCode::OK, Json(existing.into())))
        }
        Err(WriteError::NotWritten(cause)) => {
            if let Err(error) = app
                .gate
                .release(&drop_id, order_id, Some(&idempotency_tag(&user, &key)))
                .await
            {
                tracing::error!(%error, %order_id, "could not release an unrecorded reservation; reconciliation will");
            }
            Err(ApiError::unavailable(
                "the order could not be recorded",
                cause,
            ))
        }
        Err(WriteError::Unknown(cause)) => {
            tracing::error!(%order_id, %cause, "order outcome unknown; reservation kept for reconciliation");
            Err(ApiError::unavailable(
                "the order could not be confirmed",
                cause,
            ))
        }
    }
}

/// A retry arrived while the first request is still being recorded: wait (a
/// little longer than one write may take) for it to land in PostgreSQL.
async fn wait_for_order(app: &AppState, order_id: Uuid) -> Result<OrderRow, ApiError> {
    let deadline = tokio::time::Instant::now() + app.write_timeout + Duration::from_millis(500);
    loop {
        if let Some(order) = store::order_by_id(&app.db, order_id).await? {
            return Ok(order);
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(ApiError::Unavailable(
                "the first request with this Idempotency-Key is still in progress; retry".into(),
            ));
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn parse_order_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound("unknown_order"))
}

/// `GET /api/orders/{id}`: its user or an operator.
pub async fn show(
    State(app): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order = store::order_by_id(&app.db, parse_order_id(&id)?)
        .await?
        .filter(|order| caller.may_see(&order.user_id))
        .ok_or(ApiError::NotFound("unknown_order"))?;
    let payment = crate::payments::ledger::latest_for_order(&app.db, order.id).await?;
    Ok(Json(OrderView {
        payment,
        ..order.into()
    }))
}

/// `GET /api/me/orders`.
pub async fn mine(
    State(app): State<AppState>,
    User(user): User,
) -> Result<Json<Vec<OrderView>>, ApiError> {
    let orders = store::orders_for_user(&app.db, &user.sub).await?;
    Ok(Json(orders.into_iter().map(OrderView::from).collect()))
}

/// `DELETE /api/orders/{id}`: cancel a pending order; its units go back.
///
/// PostgreSQL first (pending -> cancelled, `held` lowered), then Redis. If this
/// process dies between the two, Redis keeps the units reserved: an undersell
/// that reconciliation repairs, never an oversell.
pub async fn cancel(
    State(app): State<AppState>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let order_id = parse_order_id(&id)?;
    let order = store::order_by_id(&app.db, order_id)
        .await?
        .filter(|order| order.user_id == user.sub)
        .ok_or(ApiError::NotFound("unknown_order"))?;
    let cancelled = match store::cancel_pending_order(&app.db, order_id).await? {
        Some(cancelled) => cancelled,
        None => {
            let status = store::order_by_id(&app.db, order_id)
                .await?
                .map(|o| o.status)
                .unwrap_or(order.status);
            let paying = crate::payments::ledger::latest_for_order(&app.db, order_id)
                .await?
                .is_some_and(|p| p.status == "processing");
            if status == "pending" && paying {
                return Err(ApiError::Conflict(
                    "payment_in_progress",
                    "a payment of this order is in progress; wait for its outcome".into(),
                ));
            }
            return Err(ApiError::Conflict(
                "not_pending",
                format!("only a pending order can be cancelled; this one is {status}"),
            ));
        }
    };
    if let Err(error) = app.gate.release(&cancelled.drop_id, order_id, None).await {
        tracing::error!(%error, %order_id, "cancelled, but Redis still holds the units; reconciliation will release them");
    }
    Ok(Json(cancelled.into()))
}
