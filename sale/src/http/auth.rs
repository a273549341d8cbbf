//! Who is calling: user tokens, operators, admission tokens.

use super::error::ApiError;
use super::HttpState;
use admission::identity::UserClaims;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use subtle::ConstantTimeEq;

/// The bearer token of a request, if any.
pub fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// A caller with a valid user token.
pub struct User(pub UserClaims);

impl FromRequestParts<HttpState> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &HttpState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::InvalidToken("a user token is required".into()))?;
        app.users
            .verify(token)
            .map(User)
            .map_err(|e| ApiError::InvalidToken(e.to_string()))
    }
}

/// Who is asking, for endpoints open to a user and to operators.
pub enum Caller {
    Operator,
    User(UserClaims),
}

impl Caller {
    pub fn may_see(&self, user_id: &str) -> bool {
        match self {
            Self::Operator => true,
            Self::User(claims) => claims.is_operator() || claims.sub == user_id,
        }
    }
}

impl FromRequestParts<HttpState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &HttpState) -> Result<Self, ApiError> {
        let token = bearer(&parts.headers)
            .ok_or_else(|| ApiError::InvalidToken("a user token is required".into()))?;
        if app.is_operator_key(token) {
            return Ok(Self::Operator);
        }
        app.users
            .verify(token)
            .map(Self::User)
            .map_err(|e| ApiError::InvalidToken(e.to_string()))
    }
}

/// An operator: the operator API key, or a user token with the operator role.
pub struct Operator;

impl FromRequestParts<HttpState> for Operator {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &HttpState) -> Result<Self, ApiError> {
        match Caller::from_request_parts(parts, app).await? {
            Caller::Operator => Ok(Operator),
            Caller::User(claims) if claims.is_operator() => Ok(Operator),
            Caller::User(_) => Err(ApiError::NotOperator),
        }
    }
}

/// Constant-time comparison of a presented key with the configured one.
pub fn key_matches(presented: &str, configured: &str) -> bool {
    presented.as_bytes().ct_eq(configured.as_bytes()).into()
}
