//! The fan page, embedded in the binary from `web/` (nothing to deploy
//! beside it), served with security headers: a Content-Security-Policy that
//! allows scripts and styles from this origin only and API calls to this
//! origin (and its WebSocket) and the sale service, no framing, no MIME
//! sniffing, no referrer. The page gets its settings (the sale service's
//! URL, dev mode, the CAPTCHA widget's and whether this drop asks for it)
//! as a JSON data block in the HTML.
//! `'wasm-unsafe-eval'` lets the proof-of-work worker compile the
//! WebAssembly it writes (no JavaScript `eval`: that stays refused).
//! With a CAPTCHA widget script (`CAPTCHA_SCRIPT_URL`), the policy also
//! allows its origin for scripts, frames, styles and connections (what
//! Turnstile's widget needs).

use super::HttpState;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const FAN_HTML: &str = include_str!("../../../web/fan.html");
const FAN_JS: &str = include_str!("../../../web/fan.js");
const POW_WORKER_JS: &str = include_str!("../../../web/pow-worker.js");
/// hash-wasm's Argon2id (MIT, vendored unchanged), for the worker.
const ARGON2_JS: &str = include_str!("../../../web/vendor/hash-wasm/argon2.umd.min.js");
const SEATMAP_JS: &str = include_str!("../../../web/seatmap.js");
const STYLE_CSS: &str = include_str!("../../../web/style.css");

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/drops/{id}", get(fan_page))
        .route("/web/{file}", get(asset))
}

/// The page's policy; `connect` names the sale service's origin, `widget`
/// the CAPTCHA widget's (or is empty).
fn csp(sale_origin: &str, widget: &str) -> String {
    let frames = match widget {
        "" => "'none'".to_string(),
        widget => widget.to_string(),
    };
    format!(
        "default-src 'self'; script-src 'self' 'wasm-unsafe-eval' {widget}; style-src 'self' {widget}; img-src 'self' data:; \
         connect-src 'self' ws: wss: {sale_origin} {widget}; worker-src 'self' blob:; \
         frame-src {frames}; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
}

/// The scheme, host and port of a URL (what CSP names), or nothing.
fn origin_of(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return String::new();
    };
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || !host
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b';' && b != b'\'')
    {
        return String::new();
    }
    format!("{scheme}://{host}")
}

fn headers(http: &HttpState) -> [(header::HeaderName, String); 4] {
    [
        (
            header::CONTENT_SECURITY_POLICY,
            csp(
                &origin_of(&http.limits.sale_url),
                &http.captcha.script_url().map(origin_of).unwrap_or_default(),
            ),
        ),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff".into()),
        (header::REFERRER_POLICY, "no-referrer".into()),
        (header::X_FRAME_OPTIONS, "DENY".into()),
    ]
}

/// `GET /drops/{id}`: the fan's page for a drop (the drop id is read from
/// the URL by the script).
async fn fan_page(State(http): State<HttpState>, Path(drop): Path<String>) -> Response {
    // Whether this drop asks for the CAPTCHA as the page loads (a drop not
    // found, or not loadable now: asked, and the join says otherwise). The
    // widget's settings come along whenever the deployment has one, so a
    // switch turned on after the page loaded is met when the join is
    // refused with `captcha_required`.
    let captcha_on = http.captcha.required()
        && http
            .room
            .drop_state(&drop)
            .await
            .map_or(true, |state| state.settings.captcha);
    let settings = serde_json::json!({
        "saleUrl": http.limits.sale_url.trim_end_matches('/'),
        "dev": http.dev_issuer.is_some(),
        "captcha": http.captcha.page_settings(),
        "captchaOn": captcha_on,
    });
    // `<` escaped so the JSON cannot close the script element.
    let settings = settings.to_string().replace('<', "\\u003c");
    (
        headers(&http),
        Html(FAN_HTML.replace("{{SETTINGS}}", &settings)),
    )
        .into_response()
}

/// `GET /web/{file}`: the page's script, the seat map component, the
/// proof-of-work worker (and the Argon2id it loads) and the stylesheet.
async fn asset(State(http): State<HttpState>, Path(file): Path<String>) -> Response {
    let (body, kind) = match file.as_str() {
        "fan.js" => (FAN_JS, "text/javascript; charset=utf-8"),
        "seatmap.js" => (SEATMAP_JS, "text/javascript; charset=utf-8"),
        "pow-worker.js" => (POW_WORKER_JS, "text/javascript; charset=utf-8"),
        "hash-wasm-argon2.js" => (ARGON2_JS, "text/javascript; charset=utf-8"),
        "style.css" => (STYLE_CSS, "text/css; charset=utf-8"),
        _ => return super::error::QueueError::NotFound.into_response(),
    };
    (
        headers(&http),
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sale_origin_is_named_safely() {
        assert_eq!(origin_of("http://127.0.0.1:8081"), "http://127.0.0.1:8081");
        assert_eq!(
            origin_of("https://shop.example/api"),
            "https://shop.example"
        );
        assert_eq!(origin_of("http://evil'; script-src *"), "");
        assert_eq!(origin_of("nonsense"), "");
    }
}
