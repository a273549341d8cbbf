//! The operator console (`/ops`), the event search (`/events`) and an
//! event's page (`/events/{id}`), and their assets, embedded from `web/`,
//! served with security headers: a Content-Security-Policy that allows only
//! this origin's scripts, styles and API, no framing (`frame-ancestors
//! 'none'`), no MIME sniffing, no referrer.

use super::error::ApiError;
use super::HttpState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// The console's policy: everything from this origin only.
const OPS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; \
    form-action 'self'; object-src 'none'";

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/ops", get(ops_page))
        .route("/events", get(events_page))
        .route("/events/{id}", get(event_page))
        .route("/web/{file}", get(web_asset))
}

/// The headers every page and asset carries.
pub fn security_headers(csp: &str) -> [(header::HeaderName, String); 4] {
    [
        (header::CONTENT_SECURITY_POLICY, csp.to_string()),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (header::REFERRER_POLICY, "no-referrer".into()),
        (header::X_FRAME_OPTIONS, "DENY".into()),
    ]
}

/// `GET /ops`: the operator console.
async fn ops_page() -> Response {
    (
        security_headers(OPS_CSP),
        axum::response::Html(include_str!("../../../web/ops.html")),
    )
        .into_response()
}

/// `GET /events`: the event search, the fan side's home.
async fn events_page() -> Response {
    (
        security_headers(OPS_CSP),
        [(header::CACHE_CONTROL, "no-cache")],
        axum::response::Html(include_str!("../../../web/events.html")),
    )
        .into_response()
}

/// `GET /events/{id}`: an event, its sales and the way into their lines
/// (`FAN_PAGE_URL`, given to the page as JSON).
async fn event_page(State(http): State<HttpState>) -> Response {
    let settings = serde_json::json!({ "fan_page_url": http.fan_page_url.as_ref() })
        .to_string()
        .replace('<', "\\u003c");
    let page = include_str!("../../../web/event.html").replace("{{SETTINGS}}", &settings);
    (
        security_headers(OPS_CSP),
        [(header::CACHE_CONTROL, "no-cache")],
        axum::response::Html(page),
    )
        .into_response()
}

/// `GET /web/{file}`: the console's script, the seat map component and the
/// shared stylesheet.
async fn web_asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "ops.js" => (
            include_str!("../../../web/ops.js"),
            "text/javascript; charset=utf-8",
        ),
        "seatmap.js" => (
            include_str!("../../../web/seatmap.js"),
            "text/javascript; charset=utf-8",
        ),
        "events.js" => (
            include_str!("../../../web/events.js"),
            "text/javascript; charset=utf-8",
        ),
        "event.js" => (
            include_str!("../../../web/event.js"),
            "text/javascript; charset=utf-8",
        ),
        "when.js" => (
            include_str!("../../../web/when.js"),
            "text/javascript; charset=utf-8",
        ),
        "style.css" => (
            include_str!("../../../web/style.css"),
            "text/css; charset=utf-8",
        ),
        _ => return ApiError::NotFound("not_found").into_response(),
    };
    (
        security_headers(OPS_CSP),
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
