//! Event routes: create and change (operator; a change names the version it
//! was made from in `If-Match`), show with its venue and sales (anyone).

use super::auth::Operator;
use super::error::ApiError;
use super::{versions, HttpState};
use crate::events::{EventBody, EventView};
use crate::store::events::EventRow;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use runtime::error::ApiJson;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/events", post(create).get(super::search::search))
        .route("/api/events/{id}", get(show).patch(change))
}

async fn create(
    State(http): State<HttpState>,
    _: Operator,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<(StatusCode, Json<EventRow>), ApiError> {
    Ok((
        StatusCode::CREATED,
        Json(http.sale.create_event(body).await?),
    ))
}

async fn change(
    State(http): State<HttpState>,
    _: Operator,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EventBody>,
) -> Result<impl IntoResponse, ApiError> {
    let expected = versions::if_match(&headers)?;
    let row = http.sale.change_event(&id, body, expected).await?;
    Ok((versions::etag(row.version), Json(row)))
}

async fn show(
    State(http): State<HttpState>,
    Path(id): Path<String>,
) -> Result<Json<EventView>, ApiError> {
    Ok(Json(http.sale.event(&id).await?))
}
