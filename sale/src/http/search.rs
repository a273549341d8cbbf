//! Search routes: `GET /api/events` (search) and `GET /api/events/suggest`
//! (as-you-type). Answers carry an ETag (SHA-256 of the body) and a short
//! public `max-age`, so a CDN absorbs a rush of identical searches; an
//! `If-None-Match` that matches gets 304 without the body. The body and
//! its ETag are made once per answer ([`crate::search::rendered`]): an
//! answer from the service's own cache is sent as the bytes it was kept as,
//! says how old it is (`Age`, so a CDN keeps it no longer than `max-age` in
//! all) and `X-Search-Cache: hit`.

use super::error::ApiError;
use super::HttpState;
use crate::search::cache::{Served, MAX_AGE_SECS};
use crate::search::rendered::Rendered;
use crate::search::SearchError;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// How long a search answer may be reused, in seconds.
pub const SEARCH_MAX_AGE: u32 = MAX_AGE_SECS;
/// Suggestions change more slowly and are asked more often.
pub const SUGGEST_MAX_AGE: u32 = 60;

pub fn router() -> Router<HttpState> {
    Router::new().route("/api/events/suggest", get(suggest))
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> Self {
        match error {
            SearchError::Invalid(code, message) => Self::BadRequest(code, message),
            SearchError::Timeout => Self::Unavailable("the search took too long, try again".into()),
            SearchError::Database(e) => e.into(),
            SearchError::Encode(e) => Self::Internal(anyhow::anyhow!(e)),
        }
    }
}

/// `GET /api/events`.
pub async fn search(
    State(http): State<HttpState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (answer, served) = http.search.search_served(raw.as_deref()).await?;
    Ok(cacheable(answer.as_ref(), served, SEARCH_MAX_AGE, &headers))
}

/// `GET /api/events/suggest`.
async fn suggest(
    State(http): State<HttpState>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (answer, served) = http.search.suggest_served(raw.as_deref()).await?;
    Ok(cacheable(
        answer.as_ref(),
        served,
        SUGGEST_MAX_AGE,
        &headers,
    ))
}

/// The JSON body with its ETag and Cache-Control (and its Age when it was
/// cached here), or 304 when the client has it already.
fn cacheable<T>(body: &Rendered<T>, served: Served, max_age: u32, headers: &HeaderMap) -> Response {
    let etag = body.etag.as_str();
    let cache = format!("public, max-age={max_age}");
    let matches = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let mut response = if matches {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body.json.clone(),
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    if let Ok(v) = HeaderValue::from_str(&cache) {
        h.insert(header::CACHE_CONTROL, v);
    }
    h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    let state = match served {
        Served::Hit(age) => {
            h.insert(header::AGE, HeaderValue::from(age.as_secs()));
            "hit"
        }
        Served::Coalesced => "coalesced",
        Served::Miss => "miss",
        Served::Uncached => "bypass",
    };
    h.insert("x-search-cache", HeaderValue::from_static(state));
    response
}
