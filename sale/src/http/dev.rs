//! `POST /api/dev/login` (dev mode only): a user token for any name, with
//! the operator role when asked. Dev mode is refused on non-loopback
//! addresses unless explicitly allowed (`runtime::ServiceSettings`).

use super::error::ApiError;
use super::HttpState;
use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use runtime::error::ApiJson;
use serde::Deserialize;

pub fn router() -> Router<HttpState> {
    Router::new().route("/api/dev/login", post(login))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevLogin {
    user: String,
    #[serde(default)]
    operator: bool,
}

async fn login(
    State(http): State<HttpState>,
    ApiJson(body): ApiJson<DevLogin>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let issuer = http
        .dev_issuer
        .as_ref()
        .ok_or(ApiError::NotFound("not_found"))?;
    let user = body.user.trim();
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::Validation(
            "user must be 1-64 visible ASCII characters".into(),
        ));
    }
    let token = issuer.issue(user, body.operator, 24 * 3600)?;
    Ok(Json(
        serde_json::json!({"user": user, "token": token, "operator": body.operator}),
    ))
}
