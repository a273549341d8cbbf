//! API errors: each variant is a status and a machine-readable `error` code,
//! answered as `{"error": "<code>", "message": "<text>"}`. Internal errors are
//! logged with their cause chain and answered as a bare 500.

use axum::extract::rejection::JsonRejection;
use axum::extract::FromRequest;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

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
            Self::NotOpen => (StatusCode::CONFLICT, "not_open"),
            Self::Paused => (StatusCode::CONFLICT, "paused"),
            Self::Closed => (StatusCode::CONFLICT, "closed"),
            Self::CapExceeded => (StatusCode::CONFLICT, "cap_exceeded"),
            Self::SoldOut => (StatusCode::CONFLICT, "sold_out"),
            Self::InvalidQuantity(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_quantity"),
            Self::Validation(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            Self::Conflict(code, _) => (StatusCode::CONFLICT, code),
            Self::BadRequest(code, _) => (StatusCode::BAD_REQUEST, code),
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

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.parts();
        let message = match &self {
            Self::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "internal error".to_string()
            }
            other => other.to_string(),
        };
        let mut response = (
            status,
            axum::Json(serde_json::json!({ "error": code, "message": message })),
        )
            .into_response();
        if matches!(self, Self::RateLimited | Self::Unavailable(_)) {
            response
                .headers_mut()
                .insert("retry-after", axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}

/// `axum::Json`, but a bad body answers in the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

fn json_rejection(rejection: JsonRejection) -> ApiError {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => ApiError::BadRequest(
            "invalid_json",
            "send a JSON body with Content-Type: application/json".into(),
        ),
        JsonRejection::JsonDataError(e) => ApiError::Validation(e.body_text()),
        JsonRejection::JsonSyntaxError(e) => ApiError::BadRequest("invalid_json", e.body_text()),
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            ApiError::PayloadTooLarge
        }
        other => ApiError::BadRequest("invalid_json", other.body_text()),
    }
}
