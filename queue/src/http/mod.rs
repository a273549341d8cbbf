//! The queue's HTTP surface.
//!
//! - [`rest`]: join, poll and leave over HTTP; the draw; JWKS; dev login.
//! - [`ws`]: the WebSocket session that pushes status until admitted.
//! - [`pages`]: the fan page (embedded from `web/`).
//! - [`error`]: the error shape.

pub mod error;
pub mod pages;
pub mod rest;
pub mod ws;

use crate::app::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use error::QueueError;

pub fn router(state: AppState) -> Router {
    let mut router = Router::new()
        .route(
            "/api/drops/{id}/queue",
            post(rest::join).get(rest::poll).delete(rest::leave),
        )
        .route("/api/drops/{id}/queue/ws", get(ws::upgrade))
        .route("/api/drops/{id}/draw", get(rest::draw))
        .route("/.well-known/jwks.json", get(rest::jwks))
        .route("/drops/{id}", get(pages::fan_page))
        .route("/web/{file}", get(pages::asset));
    if state.dev_issuer.is_some() {
        router = router.route("/api/dev/login", post(rest::dev_login));
    }
    router
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(app): State<AppState>| async move { app.metrics.render() }),
        )
        .fallback(|| async { QueueError::NotFound })
        .layer(axum::extract::DefaultBodyLimit::max(4 * 1024))
        .with_state(state)
}

async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let redis = app.lines.snapshot("readyz-probe", 0).await.is_ok();
    let status = if redis {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"redis": redis, "drops": app.catalog.all().len()})),
    )
}

/// The user of a request's bearer token.
pub fn user_of(app: &AppState, headers: &HeaderMap) -> Result<String, QueueError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| QueueError::InvalidToken("a user token is required".into()))?;
    verify_user(app, token)
}

pub fn verify_user(app: &AppState, token: &str) -> Result<String, QueueError> {
    app.users
        .verify(token.trim())
        .map(|claims| claims.sub)
        .map_err(|e| QueueError::InvalidToken(e.to_string()))
}

/// Joins and polls are limited per user and per client address.
pub fn check_rate(app: &AppState, user: &str, ip: std::net::IpAddr) -> Result<(), QueueError> {
    if app.ip_limiter.check_key(&ip).is_err()
        || app.user_limiter.check_key(&user.to_string()).is_err()
    {
        metrics::counter!("queue_rate_limited_total").increment(1);
        return Err(QueueError::RateLimited);
    }
    Ok(())
}
