//! API errors: each variant is a status and a machine-readable `error` code,
//! answered as `{"error": "<code>", "message": "<text>"}` (rendered by
//! `runtime::error`). Domain errors map onto these here; internal errors are
//! logged with their cause chain and answered as a bare 500.

use crate::drops::DropError;
use crate::gate::Refusal;
use crate::orders::OrderError;
use crate::paying::{PayError, WebhookError};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidToken(String),
    #[error("operator credentials are required")]
    NotOperator,
    #[error("this admission token is for another drop")]
    WrongDrop,
    #[error("this admission token belongs to another user")]
    WrongUser,
    #[error("not found: {0}")]
    NotFound(&'static str),
    #[error("this access was revoked by the sale's operator")]
    Revoked,
    #[error("the drop is not open yet")]
    NotOpen,
    #[error("the drop is paused")]
    Paused,
    #[error("the drop is closed")]
    Closed,
    #[error("that would exceed the limit per person")]
    CapExceeded,
    #[error("sold out")]
    SoldOut,
    #[error("{0}")]
    InvalidQuantity(String),
    #[error("{0}")]
    Validation(String),
    #[error("{1}")]
    Conflict(&'static str, String),
    #[error("{1}")]
    BadRequest(&'static str, String),
    #[error("{1}")]
    PreconditionFailed(&'static str, String),
    #[error("{1}")]
    Unprocessable(&'static str, String),
    #[error("the request body is too large")]
    PayloadTooLarge,
    #[error("too many requests, slow down")]
    RateLimited,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl ApiError {
    fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::NotOperator => (StatusCode::FORBIDDEN, "not_operator"),
            Self::WrongDrop => (StatusCode::FORBIDDEN, "wrong_drop"),
            Self::WrongUser => (StatusCode::FORBIDDEN, "wrong_user"),
            Self::NotFound(what) => (StatusCode::NOT_FOUND, what),
            Self::Revoked => (StatusCode::FORBIDDEN, "revoked"),
            Self::NotOpen => (StatusCode::CONFLICT, "not_open"),
            Self::Paused => (StatusCode::CONFLICT, "paused"),
            Self::Closed => (StatusCode::CONFLICT, "closed"),
            Self::CapExceeded => (StatusCode::CONFLICT, "cap_exceeded"),
            Self::SoldOut => (StatusCode::CONFLICT, "sold_out"),
            Self::InvalidQuantity(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_quantity"),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            Self::Conflict(code, _) => (StatusCode::CONFLICT, code),
            Self::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
            Self::PreconditionFailed(code, _) => (StatusCode::PRECONDITION_FAILED, code),
            Self::Unprocessable(code, _) => (StatusCode::UNPROCESSABLE_ENTITY, code),
            Self::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }

    /// The machine-readable code, as sent in the body.
    pub fn code(&self) -> &'static str {
        self.parts().1
    }

    pub fn unavailable(context: &str, cause: impl std::fmt::Display) -> Self {
        tracing::warn!(%cause, "{context}");
        Self::Unavailable(format!("{context}; try again shortly"))
    }
}

/// True for errors that mean "PostgreSQL is unreachable or going away", as
/// opposed to a bad query: no connection, a dropped one, or the server
/// shutting down (SQLSTATE classes 08 and 57P, and 53 for exhaustion).
pub fn is_database_unavailable(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::PoolTimedOut
        | sqlx::Error::PoolClosed
        | sqlx::Error::Io(_)
        | sqlx::Error::Tls(_)
        | sqlx::Error::Protocol(_)
        | sqlx::Error::WorkerCrashed => true,
        sqlx::Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P") || c.starts_with("53")),
        _ => false,
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        if is_database_unavailable(&e) {
            Self::unavailable("the order database is unavailable", e)
        } else {
            Self::Internal(anyhow::Error::new(e).context("database query"))
        }
    }
}

impl From<redis::RedisError> for ApiError {
    fn from(e: redis::RedisError) -> Self {
        Self::unavailable("the stock service is unavailable", e)
    }
}

impl From<OrderError> for ApiError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::Refused(refusal) => match refusal {
                Refusal::Closed => Self::Closed,
                Refusal::Paused => Self::Paused,
                Refusal::NotOpen => Self::NotOpen,
                Refusal::InvalidQuantity => {
                    Self::InvalidQuantity("quantity is more than the limit per person".into())
                }
                Refusal::CapExceeded => Self::CapExceeded,
                Refusal::SoldOut => Self::SoldOut,
                Refusal::Revoked => Self::Revoked,
                Refusal::Seated => Self::Conflict(
                    "seated_sale",
                    "this sale is seated: hold seats, then order the hold".into(),
                ),
            },
            OrderError::Hold(refusal) => hold_refusal(refusal),
            OrderError::IdempotencyMismatch => Self::InvalidQuantity(error.to_string()),
            OrderError::UnknownDrop => Self::NotFound("unknown_drop"),
            OrderError::UnknownOrder => Self::NotFound("unknown_order"),
            OrderError::NotPending(_) => Self::Conflict("not_pending", error.to_string()),
            OrderError::PaymentInProgress => {
                Self::Conflict("payment_in_progress", error.to_string())
            }
            OrderError::Unavailable(message) => Self::Unavailable(message),
            OrderError::Database(e) => e.into(),
            OrderError::Redis(e) => e.into(),
            OrderError::Internal(e) => Self::Internal(e),
        }
    }
}

/// What a seated sale's gate refused, as the API says it.
pub fn hold_refusal(refusal: crate::seats::gate::HoldRefusal) -> ApiError {
    use crate::seats::gate::HoldRefusal;
    match refusal {
        HoldRefusal::Closed => ApiError::Closed,
        HoldRefusal::Paused => ApiError::Paused,
        HoldRefusal::NotOpen => ApiError::NotOpen,
        HoldRefusal::CapExceeded => ApiError::CapExceeded,
        HoldRefusal::NotSeated => ApiError::Conflict(
            "not_seated",
            "this sale is not seated: order a quantity instead".into(),
        ),
        HoldRefusal::UnknownHold => ApiError::NotFound("unknown_hold"),
        HoldRefusal::Revoked => ApiError::Revoked,
        HoldRefusal::Lapsed => ApiError::Conflict(
            "hold_lapsed",
            "this hold is not live any more; hold seats again".into(),
        ),
    }
}

impl From<crate::seats::holds::HoldError> for ApiError {
    fn from(error: crate::seats::holds::HoldError) -> Self {
        use crate::seats::holds::HoldError;
        match error {
            HoldError::UnknownDrop => Self::NotFound("unknown_drop"),
            HoldError::NotSeated => hold_refusal(crate::seats::gate::HoldRefusal::NotSeated),
            HoldError::InvalidSeats(message) => Self::Unprocessable("invalid_seats", message),
            HoldError::SeatsTaken(_) => Self::Conflict("seats_taken", error.to_string()),
            HoldError::NoAdjacentSeats(message) => Self::Conflict("no_adjacent_seats", message),
            HoldError::Refused(refusal) => hold_refusal(refusal),
            HoldError::UnknownHold => Self::NotFound("unknown_hold"),
            HoldError::NotLive => Self::Conflict("hold_not_live", error.to_string()),
            HoldError::Unavailable(message) => Self::Unavailable(message),
            HoldError::Database(e) => e.into(),
            HoldError::Redis(e) => e.into(),
            HoldError::Internal(e) => Self::Internal(e),
        }
    }
}

impl From<crate::venues::VenueError> for ApiError {
    fn from(error: crate::venues::VenueError) -> Self {
        use crate::venues::VenueError;
        match error {
            VenueError::Invalid(message) => Self::Validation(message),
            VenueError::Unknown => Self::NotFound("unknown_venue"),
            VenueError::Exists(_) => Self::Conflict("venue_exists", error.to_string()),
            VenueError::NoMap => Self::NotFound("no_map"),
            VenueError::Stale(_) => Self::PreconditionFailed("version_mismatch", error.to_string()),
            VenueError::TimezoneLocked => Self::Conflict("timezone_locked", error.to_string()),
            VenueError::Database(e) => e.into(),
        }
    }
}

impl From<crate::events::EventError> for ApiError {
    fn from(error: crate::events::EventError) -> Self {
        use crate::events::EventError;
        match error {
            EventError::Invalid(message) => Self::Validation(message),
            EventError::Unknown => Self::NotFound("unknown_event"),
            EventError::Exists(_) => Self::Conflict("event_exists", error.to_string()),
            EventError::Stale(_) => Self::PreconditionFailed("version_mismatch", error.to_string()),
            EventError::VenueLocked => Self::Conflict("venue_locked", error.to_string()),
            EventError::Database(e) => e.into(),
            EventError::Drop(e) => e.into(),
        }
    }
}

impl From<DropError> for ApiError {
    fn from(error: DropError) -> Self {
        match error {
            DropError::Invalid(message) => Self::Validation(message),
            DropError::Unknown => Self::NotFound("unknown_drop"),
            DropError::Exists(_) => Self::Conflict("drop_exists", error.to_string()),
            DropError::Closed => Self::Conflict("drop_closed", error.to_string()),
            DropError::Unavailable(message) => Self::Unavailable(message),
            DropError::Database(e) => e.into(),
            DropError::Redis(e) => e.into(),
        }
    }
}

impl From<crate::revocation::RevokeError> for ApiError {
    fn from(error: crate::revocation::RevokeError) -> Self {
        use crate::revocation::RevokeError;
        match error {
            RevokeError::Invalid(message) => Self::Validation(message),
            RevokeError::UnknownDrop => Self::NotFound("unknown_drop"),
            RevokeError::Database(e) => e.into(),
            RevokeError::Redis(e) => e.into(),
            RevokeError::Order(e) => e.into(),
        }
    }
}

impl From<PayError> for ApiError {
    fn from(error: PayError) -> Self {
        match error {
            PayError::InvalidMethod(message) => Self::BadRequest("invalid_payment_method", message),
            PayError::UnknownOrder => Self::NotFound("unknown_order"),
            PayError::Expired => Self::Conflict("order_expired", error.to_string()),
            PayError::NotPending(_) => Self::Conflict("not_pending", error.to_string()),
            PayError::ProviderUnavailable(cause) => {
                Self::unavailable("the payment provider did not answer", cause)
            }
            PayError::Database(e) => e.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::InvalidSignature(_) => {
                Self::BadRequest("invalid_signature", error.to_string())
            }
            WebhookError::StaleSignature(_) => {
                Self::BadRequest("stale_signature", error.to_string())
            }
            WebhookError::InvalidJson(_) => Self::BadRequest("invalid_json", error.to_string()),
            WebhookError::InvalidEvent(message) => Self::Unprocessable("invalid_event", message),
            WebhookError::UnknownPayment => Self::NotFound("unknown_payment"),
            WebhookError::Mismatch => Self::Unprocessable("event_mismatch", error.to_string()),
            WebhookError::Database(e) => e.into(),
        }
    }
}

impl runtime::error::ApiFailure for ApiError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        self.parts()
    }
    fn retry_after_secs(&self) -> Option<u64> {
        matches!(self, Self::RateLimited | Self::Unavailable(_)).then_some(1)
    }
    fn internal_cause(&self) -> Option<&anyhow::Error> {
        match self {
            Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        runtime::error::render(&self)
    }
}

/// A raw body as a handler reads it, with the API's answer to a refusal.
pub fn body_bytes(
    body: Result<axum::body::Bytes, axum::extract::rejection::BytesRejection>,
) -> Result<axum::body::Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge
        } else {
            ApiError::BadRequest("invalid_body", rejection.body_text())
        }
    })
}
