//! Revocation routes (operator): revoke a user or one admission token, lift
//! a user's revocation. The domain is in [`crate::revocation`].

use super::auth::Operator;
use super::error::ApiError;
use super::HttpState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{delete, post};
use axum::{Json, Router};
use runtime::error::ApiJson;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/revocations", post(revoke))
        .route("/api/revocations/users/{user}", delete(lift))
}

/// `{"user": id, "reason": text}` revokes a user everywhere;
/// `{"drop": id, "jti": token id}` revokes one admission token.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Revoke {
    user: Option<String>,
    reason: Option<String>,
    drop: Option<String>,
    jti: Option<String>,
}

async fn revoke(
    State(http): State<HttpState>,
    _: Operator,
    ApiJson(body): ApiJson<Revoke>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let done = match (body.user, body.drop, body.jti) {
        (Some(user), None, None) => serde_json::to_value(
            http.sale
                .revoke_user(&user, body.reason.as_deref().unwrap_or(""))
                .await?,
        ),
        (None, Some(drop), Some(jti)) => {
            serde_json::to_value(http.sale.revoke_token(&drop, &jti).await?)
        }
        _ => {
            return Err(ApiError::Validation(
                "send either {\"user\"} or {\"drop\", \"jti\"}".into(),
            ))
        }
    }
    .map_err(|e| ApiError::Internal(e.into()))?;
    Ok((StatusCode::CREATED, Json(done)))
}

async fn lift(
    State(http): State<HttpState>,
    _: Operator,
    Path(user): Path<String>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let lifted = http.sale.lift_user(&user).await?;
    Ok(Json(serde_json::json!({"user": user, "lifted": lifted})))
}
