//! Queue API errors: a status and a machine-readable `error` code, answered
//! as `{"error": "<code>", "message": "<text>"}` (rendered by
//! `runtime::error`); the waiting room's errors map onto these here.

use crate::room::RoomError;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    #[error("{0}")]
    InvalidToken(String),
    #[error("unknown drop")]
    UnknownDrop,
    #[error("no such page or endpoint")]
    NotFound,
    #[error("you are not in this drop's line; join first")]
    NotInLine,
    #[error("your access to this sale was revoked by its operator")]
    Revoked,
    #[error("this line is invite-only: an access code (or an invitation) is required")]
    AccessRequired,
    #[error("this access code is not valid for this drop")]
    InvalidAccessCode,
    #[error("this access code has been used as often as it may be")]
    AccessCodeUsedUp,
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
            Self::UnknownDrop => (StatusCode::NOT_FOUND, "unknown_drop"),
            Self::NotFound => (StatusCode::NOT_FOUND, "not_found"),
            Self::NotInLine => (StatusCode::NOT_FOUND, "not_in_line"),
            Self::Revoked => (StatusCode::FORBIDDEN, "revoked"),
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
            Self::AccessRequired => (StatusCode::FORBIDDEN, "access_required"),
            Self::InvalidAccessCode => (StatusCode::FORBIDDEN, "invalid_access_code"),
            Self::AccessCodeUsedUp => (StatusCode::CONFLICT, "access_code_used_up"),
            Self::BadOrigin => (StatusCode::FORBIDDEN, "bad_origin"),
            Self::RateLimited => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            Self::TryAgain => (StatusCode::SERVICE_UNAVAILABLE, "try_again"),
            Self::Invalid(_) => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
            Self::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
            Self::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
        }
    }
}

impl From<RoomError> for QueueError {
    fn from(error: RoomError) -> Self {
        match error {
            RoomError::UnknownDrop => Self::UnknownDrop,
            RoomError::NotInLine => Self::NotInLine,
            RoomError::Revoked => Self::Revoked,
            RoomError::AccessRequired => Self::AccessRequired,
            RoomError::Access(crate::access::AccessError::UsedUp) => Self::AccessCodeUsedUp,
            RoomError::Access(crate::access::AccessError::UnknownCode) => Self::InvalidAccessCode,
            RoomError::Access(crate::access::AccessError::Unavailable(cause))
            | RoomError::Unavailable(cause) => {
                tracing::warn!(%cause, "queue unavailable");
                Self::Unavailable
            }
            RoomError::Internal(cause) => Self::Internal(cause),
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
    use crate::access::AccessError;

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
