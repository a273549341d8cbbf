//! Venue routes: create (operator, with a seat map or a pretix plan), change
//! its place and names (operator, `If-Match` its version), show,
//! upload a new map version (operator), and the map itself: immutable per
//! version, so cacheable for good with its version in the URL, revalidated
//! by ETag otherwise.

use super::auth::Operator;
use super::error::ApiError;
use super::{versions, HttpState};
use crate::store::venues::VenueFields;
use crate::store::venues::VenueRow;
use crate::venues::{CreateVenue, MapUpload};
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use runtime::error::ApiJson;
use serde::Deserialize;

/// Seat maps upload as JSON of at most this size (100,000 seats with long
/// ids fit).
pub const MAX_MAP_BYTES: usize = 16 * 1024 * 1024;

pub fn router() -> Router<HttpState> {
    let uploads = Router::new()
        .route("/api/venues", post(create))
        .route("/api/venues/{id}/map", get(map).put(upload))
        .layer(DefaultBodyLimit::max(MAX_MAP_BYTES));
    Router::new()
        .route("/api/venues/{id}", get(show).patch(change))
        .merge(uploads)
        .layer(tower_http::compression::CompressionLayer::new())
}

async fn create(
    State(http): State<HttpState>,
    _: Operator,
    ApiJson(body): ApiJson<CreateVenue>,
) -> Result<(StatusCode, Json<VenueRow>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(http.sale.create_venue(body).await?),
    ))
}

async fn change(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<VenueFields>,
) -> Result<Response, ApiError> {
    let expected = versions::if_match(&headers)?;
    let row = http.sale.change_venue(&id, body, expected).await?;
    Ok((versions::etag(row.version), Json(row)).into_response())
}

async fn show(
    State(http): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<VenueRow>, ApiError> {
    Ok(Json(http.sale.venue(&id).await?))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct MapQuery {
    version: Option<i32>,
}

/// `GET /api/venues/{id}/map?version=n`.
async fn map(
    State(http): State<HttpState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<MapQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
    let stored = http.sale.venue_map(&id, query.version).await?;
    let etag = format!("\"{}\"", stored.sha256);
    let cache = if query.version.is_some() {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=60"
    };
    let mut response_headers = HeaderMap::new();
    response_headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        response_headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&stored.version.to_string()) {
        response_headers.insert("x-map-version", value);
    }
    let unchanged = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if unchanged {
        return Ok((StatusCode::NOT_MODIFIED, response_headers).into_response());
    }
    response_headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok((response_headers, stored.json).into_response())
}

/// `PUT /api/venues/{id}/map`: `{"map": ...}` or `{"pretix_map": ...}`; a new
/// version (sales already made keep theirs).
async fn upload(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<MapUpload>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let version = http.sale.upload_map(&id, body).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"venue_id": id, "map_version": version})),
    ))
}
