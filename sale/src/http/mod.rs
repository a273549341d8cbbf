//! The HTTP surface of the sale service.
//!
//! - [`drops`]: create, list, show, change, stats.
//! - [`orders`]: place, show, mine, cancel.
//! - [`payments`]: pay an order, the provider's webhook.
//! - [`auth`]: user, operator and admission credentials.
//! - [`error`]: the error shape every endpoint answers with.

pub mod auth;
pub mod drops;
pub mod error;
pub mod orders;
pub mod payments;

use crate::app::AppState;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use error::{ApiError, ApiJson};
use serde::Deserialize;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

pub fn router(state: AppState) -> Router {
    let mut api = Router::new()
        .route("/api/drops", post(drops::create).get(drops::list))
        .route("/api/drops/{id}", get(drops::show).patch(drops::change))
        .route("/api/drops/{id}/stats", get(drops::stats))
        .route("/api/drops/{id}/orders", post(orders::place))
        .route("/api/orders/{id}", get(orders::show).delete(orders::cancel))
        .route("/api/orders/{id}/pay", post(payments::pay))
        .route("/api/payments/webhook", post(payments::webhook))
        .route("/api/me/orders", get(orders::mine));
    if state.dev_issuer.is_some() {
        api = api.route("/api/dev/login", post(dev_login));
    }
    let cors = cors(&state.cors_origins);
    api.route("/ops", get(ops_page))
        .route("/web/{file}", get(web_asset))
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route(
            "/metrics",
            get(|State(app): State<AppState>| async move { app.metrics.render() }),
        )
        .fallback(|| async { ApiError::NotFound("not_found") })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .with_state(state)
}

/// CORS for the configured origins: the fan page (served by the queue
/// service) buys and pays here from the browser.
fn cors(origins: &str) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = origins.trim();
    let allow = if origins == "*" {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .split(',')
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(orders::USER_TOKEN_HEADER),
        ])
}

/// `GET /ops`: the operator console (embedded; see `web/`).
async fn ops_page() -> axum::response::Html<&'static str> {
    axum::response::Html(include_str!("../../../web/ops.html"))
}

/// `GET /web/{file}`: the console's script and the shared stylesheet.
async fn web_asset(
    axum::extract::Path(file): axum::extract::Path<String>,
) -> axum::response::Response {
    let (body, kind) = match file.as_str() {
        "ops.js" => (
            include_str!("../../../web/ops.js"),
            "text/javascript; charset=utf-8",
        ),
        "style.css" => (
            include_str!("../../../web/style.css"),
            "text/css; charset=utf-8",
        ),
        _ => return ApiError::NotFound("not_found").into_response(),
    };
    ([(axum::http::header::CONTENT_TYPE, kind)], body).into_response()
}

/// Ready when both PostgreSQL and Redis answer.
async fn readyz(State(app): State<AppState>) -> impl IntoResponse {
    let db = sqlx::query("SELECT 1").execute(&app.db).await.is_ok();
    let redis = app.gate.counters("readyz-probe").await.is_ok();
    let status = if db && redis {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(serde_json::json!({"postgres": db, "redis": redis})),
    )
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevLogin {
    user: String,
    #[serde(default)]
    operator: bool,
}

/// `POST /api/dev/login` (dev mode only): a user token for any name.
async fn dev_login(
    State(app): State<AppState>,
    ApiJson(body): ApiJson<DevLogin>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let issuer = app
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
