//! Drop routes: create, list (paged, briefly cacheable), show, change, stats.

use super::auth::Operator;
use super::error::ApiError;
use super::HttpState;
use crate::drops::{ChangeDrop, CreateDrop, DropCursor, DropStats, DropView};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use runtime::error::ApiJson;
use serde::Deserialize;

/// How long a client or CDN may reuse the public drop list.
const LIST_MAX_AGE_SECS: u32 = 1;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/drops", get(list).post(create))
        .route("/api/drops/{id}", get(show).patch(change))
        .route("/api/drops/{id}/stats", get(stats))
}

async fn create(
    State(http): State<HttpState>,
    _: Operator,
    ApiJson(body): ApiJson<CreateDrop>,
) -> Result<(StatusCode, Json<DropView>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(http.sale.create_drop(body).await?),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ListQuery {
    cursor: Option<String>,
    limit: Option<i64>,
}

/// `GET /api/drops?limit=&cursor=`: a page of drops (newest opening first,
/// 50 by default, at most 200), as a JSON array; the next page's URL is in
/// the `Link` header (`rel="next"`). Public and briefly cacheable.
async fn list(
    State(http): State<HttpState>,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
    let limit = query.limit.unwrap_or(50);
    if !(1..=crate::drops::MAX_PAGE).contains(&limit) {
        return Err(ApiError::Validation(format!(
            "limit must be from 1 to {}",
            crate::drops::MAX_PAGE
        )));
    }
    let after = match query.cursor.as_deref() {
        None => None,
        Some(text) => Some(DropCursor::decode(text).ok_or_else(|| {
            ApiError::BadRequest(
                "invalid_cursor",
                "the cursor is not one this API gave out".into(),
            )
        })?),
    };
    let (views, next) = http.sale.list_drops(after, limit).await?;
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(&format!("public, max-age={LIST_MAX_AGE_SECS}")) {
        headers.insert(header::CACHE_CONTROL, value);
    }
    if let Some(next) = next {
        let link = format!(
            "</api/drops?limit={limit}&cursor={}>; rel=\"next\"",
            next.encode()
        );
        if let Ok(value) = HeaderValue::from_str(&link) {
            headers.insert(header::LINK, value);
        }
    }
    Ok((headers, Json(views)).into_response())
}

async fn show(
    State(http): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<DropView>, ApiError> {
    Ok(Json(http.sale.drop_view(&id).await?))
}

async fn change(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeDrop>,
) -> Result<Json<DropView>, ApiError> {
    Ok(Json(http.sale.change_drop(&id, body).await?))
}

async fn stats(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<DropStats>, ApiError> {
    Ok(Json(http.sale.drop_stats(&id).await?))
}
