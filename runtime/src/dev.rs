//! `POST /api/dev/login` (dev mode only): a user token for any name, so the
//! pages and `curl` can sign in without an identity provider. Each service
//! says how tokens are issued and whether an operator may be asked for.
//! Dev mode is refused on non-loopback addresses unless insisted on
//! ([`crate::ServiceSettings::check_dev_mode`]).

use crate::error::{json_error, ApiJson};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

/// Signs a token for (user, operator).
pub type Issue = Arc<dyn Fn(&str, bool) -> anyhow::Result<String> + Send + Sync>;

#[derive(Clone)]
struct Dev {
    issue: Issue,
    operators: bool,
}

/// The dev-login route, with its own state (merge after `with_state`).
pub fn router(issue: Issue, operators: bool) -> Router {
    Router::new()
        .route("/api/dev/login", post(login))
        .with_state(Dev { issue, operators })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevLogin {
    user: String,
    #[serde(default)]
    operator: bool,
}

async fn login(State(dev): State<Dev>, ApiJson(body): ApiJson<DevLogin>) -> Response {
    let user = body.user.trim();
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_graphic()) {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "user must be 1-64 visible ASCII characters",
        );
    }
    if body.operator && !dev.operators {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "operators sign in at the sale service",
        );
    }
    match (dev.issue)(user, body.operator) {
        Ok(token) => {
            Json(serde_json::json!({"user": user, "token": token, "operator": body.operator}))
                .into_response()
        }
        Err(error) => {
            tracing::error!(?error, "dev login: signing failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}
