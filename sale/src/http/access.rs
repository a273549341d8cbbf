//! Invite-only lines (operator): the access mode, access codes, the list of
//! users. The domain is in [`crate::access`].

use super::auth::Operator;
use super::error::ApiError;
use super::HttpState;
use crate::access::{CodesMade, MakeCodes};
use crate::store::access::{AccessChange, AccessSettings};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use runtime::error::ApiJson;
use serde::Deserialize;
use serde_json::{json, Value};

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/drops/{id}/access", get(show).put(set_mode))
        .route("/api/drops/{id}/access/codes", post(make_codes))
        .route("/api/drops/{id}/access/users", post(grant))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Mode {
    mode: Option<String>,
    proof_of_work: Option<bool>,
    captcha: Option<bool>,
    pow_algorithm: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Users {
    users: Vec<String>,
}

async fn show(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let set = http.sale.access_mode(&id).await?;
    Ok(Json(access_json(&id, &set)))
}

/// `PUT /api/drops/{id}/access {"mode": "open" | "code" | "list",
/// "proof_of_work": bool, "captcha": bool, "pow_algorithm": "SHA-256" |
/// "ARGON2ID"}` (any may be left out).
async fn set_mode(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Mode>,
) -> Result<Json<Value>, ApiError> {
    let change = AccessChange {
        mode: body.mode.as_deref(),
        proof_of_work: body.proof_of_work,
        captcha: body.captcha,
        pow_algorithm: body.pow_algorithm.as_deref(),
    };
    let set = http.sale.set_access_mode(&id, change).await?;
    Ok(Json(access_json(&id, &set)))
}

fn access_json(id: &str, set: &AccessSettings) -> Value {
    json!({"drop": id, "mode": set.mode, "proof_of_work": set.proof_of_work,
           "captcha": set.captcha, "pow_algorithm": set.pow_algorithm})
}

/// `POST /api/drops/{id}/access/codes {"count" | "codes", "max_uses"}`.
async fn make_codes(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MakeCodes>,
) -> Result<(StatusCode, Json<CodesMade>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(http.sale.make_codes(&id, body).await?),
    ))
}

/// `POST /api/drops/{id}/access/users {"users": [ids]}`.
async fn grant(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<Users>,
) -> Result<Json<Value>, ApiError> {
    let added = http.sale.grant_access(&id, &body.users).await?;
    Ok(Json(json!({"drop": id, "added": added})))
}
