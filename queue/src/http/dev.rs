//! `POST /api/dev/login` (dev mode only): a user token for any name. Dev
//! mode is refused on non-loopback addresses unless explicitly allowed.

use super::error::QueueError;
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
}

async fn login(
    State(http): State<HttpState>,
    ApiJson(body): ApiJson<DevLogin>,
) -> Result<Json<serde_json::Value>, QueueError> {
    let issuer = http.dev_issuer.as_ref().ok_or(QueueError::NotFound)?;
    let user = body.user.trim();
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(QueueError::Invalid(
            "user must be 1-64 visible ASCII characters".into(),
        ));
    }
    let token = issuer.issue(user, false, 24 * 3600)?;
    Ok(Json(serde_json::json!({"user": user, "token": token})))
}
