//! Queue API errors: a status and a machine-readable `error` code, answered
//! as `{"error": "<code>", "message": "<text>"}` (rendered by
//! `runtime::error`); the waiting room's errors map onto these here.

use crate::access::AccessError;
use crate::room::RoomError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    InvalidToken(String),
    #[error("no such page or endpoint")]
    NotFound,
    /// The waiting room refused (unknown drop, not in line, revoked, an
    /// access code missing, unknown or used up), in the room's own words;
    /// its trouble maps to [`Self::Unavailable`] and [`Self::Internal`].
    #[error(transparent)]
    Room(RoomError),
    #[error("{0}")]
    Pow(crate::pow::PowError),
    #[error("{0}")]
    Captcha(crate::captcha::CaptchaError),
    #[error("this origin may not open the queue")]
    BadOrigin,
    #[error("too many requests, slow down")]
    RateLimited,
    #[error("this node is full; try again in a moment")]
    TryAgain,
    #[error("{0}")]
    Invalid(String),
    #[error("the queue is unavailable; try again shortly")]
    Unavailable,
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl QueueError {
    pub fn parts(&self) -> (StatusCode, &'static str) {
        match self {
            Self::InvalidToken(_) => (StatusCode::UNAUTHORIZED, "invalid_token"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::Room(refused) => room_parts(refused),
            Self::Pow(why) => (
                match why {
                    crate::pow::PowError::Malformed => StatusCode::BAD_REQUEST,
                    crate::pow::PowError::Reused => StatusCode::CONFLICT,
                    _ => StatusCode::FORBIDDEN,
                },
                why.code(),
            ),
            Self::Captcha(why) => (
                match why {
                    crate::captcha::CaptchaError::Malformed => StatusCode::BAD_REQUEST,
                    crate::captcha::CaptchaError::Reused => StatusCode::CONFLICT,
                    crate::captcha::CaptchaError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                    _ => StatusCode::FORBIDDEN,
                },
                why.code(),
            ),
            Self::BadOrigin => (StatusCode::FORBIDDEN, "bad_origin"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::TryAgain => (StatusCode::SERVICE_UNAVAILABLE, "try_again"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

/// The status and code of a room's refusal.
fn room_parts(refused: &RoomError) -> (StatusCode, &'static str) {
    match refused {
        RoomError::UnknownDrop => (StatusCode::NOT_FOUND, "unknown_drop"),
        RoomError::NotInLine => (StatusCode::NOT_FOUND, "not_in_line"),
        RoomError::Revoked => (StatusCode::FORBIDDEN, "revoked"),
        RoomError::AccessRequired => (StatusCode::FORBIDDEN, "access_required"),
        RoomError::Access(AccessError::UnknownCode) => {
            (StatusCode::FORBIDDEN, "invalid_access_code")
        }
        RoomError::Access(AccessError::UsedUp) => (StatusCode::CONFLICT, "access_code_used_up"),
        // Never kept as a refusal (see `From<RoomError>`); total all the same.
        RoomError::Access(AccessError::Unavailable(_)) | RoomError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        RoomError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    }
}

impl From<RoomError> for QueueError {
    fn from(error: RoomError) -> Self {
        match error {
            RoomError::Access(AccessError::Unavailable(cause)) | RoomError::Unavailable(cause) => {
                tracing::warn!(%cause, "queue unavailable");
                Self::Unavailable
            }
            RoomError::Internal(cause) => Self::Internal(cause),
            refused => Self::Room(refused),
        }
    }
}

impl From<redis::RedisError> for QueueError {
    fn from(error: redis::RedisError) -> Self {
        tracing::warn!(%error, "Redis unavailable");
        Self::Unavailable
    }
}

impl runtime::error::ApiFailure for QueueError {
    fn status_and_code(&self) -> (StatusCode, &'static str) {
        self.parts()
    }
    fn retry_after_secs(&self) -> Option<u64> {
        matches!(
            self,
            Self::RateLimited
                | Self::TryAgain
                | Self::Unavailable
                | Self::Captcha(crate::captcha::CaptchaError::Unavailable)
        )
        .then_some(2)
    }
    fn internal_cause(&self) -> Option<&anyhow::Error> {
        match self {
            Self::Internal(cause) => Some(cause),
            _ => None,
        }
    }
}

impl IntoResponse for QueueError {
    fn into_response(self) -> Response {
        runtime::error::render(&self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_in_trouble_is_unavailable_never_a_bad_code() {
        let status = |error: RoomError| QueueError::from(error).parts();
        assert_eq!(
            status(RoomError::Access(AccessError::Unavailable(
                "redis down".into()
            ))),
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        );
        assert_eq!(
            status(RoomError::Access(AccessError::UnknownCode)),
            (StatusCode::FORBIDDEN, "invalid_access_code")
        );
        assert_eq!(
            status(RoomError::Access(AccessError::UsedUp)),
            (StatusCode::CONFLICT, "access_code_used_up")
        );
    }
}
