//! The fan page, embedded in the binary from `web/` (nothing to deploy
//! beside it). The page gets its settings (the sale service's URL, dev mode)
//! as a JSON object in the HTML.

use crate::app::AppState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};

const FAN_HTML: &str = include_str!("../../../web/fan.html");
const FAN_JS: &str = include_str!("../../../web/fan.js");
const STYLE_CSS: &str = include_str!("../../../web/style.css");

/// `GET /drops/{id}`: the fan's page for a drop (the drop id is read from
/// the URL by the script).
pub async fn fan_page(State(app): State<AppState>, Path(_drop): Path<String>) -> Html<String> {
    let settings = serde_json::json!({
        "saleUrl": app.config.sale_url.trim_end_matches('/'),
        "dev": app.dev_issuer.is_some(),
    });
    // `<` escaped so the JSON cannot close the script element.
    let settings = settings.to_string().replace('<', "\\u003c");
    Html(FAN_HTML.replace("{{SETTINGS}}", &settings))
}

/// `GET /web/{file}`: the page's script and stylesheet.
pub async fn asset(Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "fan.js" => (FAN_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return super::error::QueueError::NotFound.into_response(),
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}
