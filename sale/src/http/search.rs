//! Search routes: `GET /api/events` (search) and `GET /api/events/suggest`
//! (as-you-type). Answers carry an ETag (SHA-256 of the body) and a short
//! public `max-age`, so a CDN absorbs a rush of identical searches; an
//! `If-None-Match` that matches gets 304 without the body. An answer from
//! the service's own cache says how old it is (`Age`, so a CDN keeps it no
//! longer than `max-age` in all) and `X-Search-Cache: hit`.

use super::error::ApiError;
use super::HttpState;
use crate::search::cache::{Served, MAX_AGE_SECS};
use crate::search::SearchError;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde::Serialize;
use sha2::{Digest, Sha256};

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
fn cacheable(body: &impl Serialize, served: Served, max_age: u32, headers: &HeaderMap) -> Response {
    let json = match serde_json::to_vec(body) {
        Ok(json) => json,
        Err(e) => return ApiError::Internal(e.into()).into_response(),
    };
    let digest = Sha256::digest(&json);
    let etag = format!("\"{}\"", hex::encode(&digest[..16]));
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
            json,
        )
            .into_response()
    };
    let h = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(&etag) {
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
