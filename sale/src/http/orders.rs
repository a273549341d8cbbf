//! Order routes: place (admission token), show, list mine, cancel. The
//! order's path is in [`crate::orders`]; this layer checks the credentials,
//! the rate, the key and the body, then calls [`crate::Sale::place_order`].

use super::auth::{bearer, Caller, User};
use super::error::ApiError;
use super::HttpState;
use crate::drops::valid_drop_id;
use crate::orders::{PlaceOrder, Placed};
use crate::payments::ledger::PaymentRow;
use crate::store::OrderRow;
use admission::token::TokenError;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use uuid::Uuid;

/// Header carrying the caller's user token next to the admission token; when
/// present, its user must be the token's user.
pub const USER_TOKEN_HEADER: &str = "x-user-token";
/// Largest quantity the API parses at all; the drop's cap decides the rest.
const MAX_PARSED_QUANTITY: i64 = 1000;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/drops/{id}/orders", post(place))
        .route("/api/orders/{id}", get(show).delete(cancel))
        .route("/api/me/orders", get(mine))
}

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    #[serde(flatten)]
    pub order: OrderRow,
    /// A seated order's seats.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seats: Option<Vec<String>>,
    /// The newest payment attempt (shown by `GET /api/orders/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<PaymentRow>,
}

impl From<OrderRow> for OrderView {
    fn from(order: OrderRow) -> Self {
        Self {
            order,
            seats: None,
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

pub(super) fn idempotency_key(headers: &HeaderMap) -> Result<String, ApiError> {
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

/// What an order asks for: units, or a seated sale's hold.
enum Wanted {
    Quantity(i64),
    Hold(Uuid),
}

fn wanted(body: Result<Bytes, BytesRejection>) -> Result<Wanted, ApiError> {
    let body = super::error::body_bytes(body)?;
    let value: serde_json::Value = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest("invalid_json", format!("the body is not JSON: {e}")))?;
    if let Some(hold) = value.get("hold_id") {
        return hold
            .as_str()
            .and_then(|h| h.parse().ok())
            .map(Wanted::Hold)
            .ok_or(ApiError::NotFound("unknown_hold"));
    }
    quantity(&value).map(Wanted::Quantity)
}

fn quantity(value: &serde_json::Value) -> Result<i64, ApiError> {
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

/// The verified admission of a request to buy in `drop_id`: the token,
/// the optional user token naming the same user, the rate per user.
pub(super) fn admitted(
    http: &HttpState,
    headers: &HeaderMap,
    drop_id: &str,
) -> Result<admission::token::AdmissionClaims, ApiError> {
    admitted_with_grace(http, headers, drop_id, 0)
}

/// How long after its admission token expired a fan may still order the
/// seats of a live hold: the longest a hold can last. The hold itself was
/// made with a valid token, and the hold script refuses one that lapsed, so
/// the grace only lets a checkout begun in time finish.
const HOLD_CHECKOUT_GRACE_SECS: u64 = *crate::seats::HOLD_SECS.end() as u64;

fn admitted_with_grace(
    http: &HttpState,
    headers: &HeaderMap,
    drop_id: &str,
    grace_secs: u64,
) -> Result<admission::token::AdmissionClaims, ApiError> {
    let token = bearer(headers)
        .ok_or_else(|| ApiError::InvalidToken("an admission token is required".into()))?;
    let claims = http
        .admission
        .verify_with_grace(token, drop_id, grace_secs)
        .map_err(token_error)?;
    tracing::Span::current().record("user", claims.sub.as_str());
    if let Some(user_token) = headers.get(USER_TOKEN_HEADER) {
        let user = user_token
            .to_str()
            .ok()
            .and_then(|t| http.users.verify(t).ok())
            .ok_or_else(|| ApiError::InvalidToken("the user token is invalid".into()))?;
        if user.sub != claims.sub {
            return Err(ApiError::WrongUser);
        }
    }
    if !http.order_limiter.allows(&claims.sub) {
        return Err(ApiError::RateLimited);
    }
    Ok(claims)
}

/// `POST /api/drops/{id}/orders`: `{"quantity": n}`, or on a seated sale
/// `{"hold_id": id}` (the order takes exactly the held seats).
#[tracing::instrument(skip_all, fields(drop = %drop_id, user))]
async fn place(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<OrderView>), ApiError> {
    if !valid_drop_id(&drop_id) {
        return Err(ApiError::NotFound("unknown_drop"));
    }
    let wanted = wanted(body);
    let grace = match wanted {
        Ok(Wanted::Hold(_)) => HOLD_CHECKOUT_GRACE_SECS,
        _ => 0,
    };
    let claims = admitted_with_grace(&http, &headers, &drop_id, grace)?;
    let idempotency_key = idempotency_key(&headers)?;
    let placed = match wanted? {
        Wanted::Quantity(quantity) => {
            http.sale
                .place_order(PlaceOrder {
                    idempotency_key,
                    quantity,
                    drop_id,
                    user: claims.sub,
                    admission_jti: claims.jti,
                })
                .await?
        }
        Wanted::Hold(hold_id) => {
            http.sale
                .order_hold(crate::seats::checkout::OrderHold {
                    drop_id,
                    hold_id,
                    user: claims.sub,
                    admission_jti: claims.jti,
                    idempotency_key,
                })
                .await?
        }
    };
    Ok(match placed {
        Placed::Created(order) => (StatusCode::CREATED, Json(order.into())),
        Placed::Existing(order) => (StatusCode::OK, Json(order.into())),
    })
}

fn parse_order_id(id: &str) -> Result<Uuid, ApiError> {
    id.parse().map_err(|_| ApiError::NotFound("unknown_order"))
}

/// `GET /api/orders/{id}`: its user or an operator.
async fn show(
    State(http): State<HttpState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let (order, payment) = http
        .sale
        .order(parse_order_id(&id)?, |user| caller.may_see(user))
        .await?;
    Ok(Json(OrderView {
        payment,
        ..order.into()
    }))
}

/// `GET /api/me/orders`.
async fn mine(
    State(http): State<HttpState>,
    User(user): User,
) -> Result<Json<Vec<OrderView>>, ApiError> {
    let orders = http.sale.orders_of(&user.sub).await?;
    Ok(Json(orders.into_iter().map(OrderView::from).collect()))
}

/// `DELETE /api/orders/{id}`: cancel a pending order; its units go back.
async fn cancel(
    State(http): State<HttpState>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<OrderView>, ApiError> {
    let cancelled = http
        .sale
        .cancel_order(parse_order_id(&id)?, &user.sub)
        .await?;
    Ok(Json(cancelled.into()))
}
