//! Seated-sale routes: hold seats (admission token), a fan's holds, give a
//! hold up, every seat's state (a compact snapshot) and its changes as
//! Server-Sent Events. The rules are in [`crate::seats`].

use super::auth::User;
use super::error::ApiError;
use super::HttpState;
use crate::drops::valid_drop_id;
use crate::seats::board::{Board, BoardEvent, Replay};
use crate::seats::holds::{HoldError, HoldSeats, SeatChoice};
use crate::store::holds::HoldRow;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};
use axum::{Json, Router};
use futures::Stream;
use runtime::error::ApiJson;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

pub fn router() -> Router<HttpState> {
    let snapshots = Router::new()
        .route("/api/drops/{id}/seats", get(snapshot))
        .layer(tower_http::compression::CompressionLayer::new());
    Router::new()
        .route("/api/drops/{id}/holds", post(hold))
        .route("/api/drops/{id}/holds/mine", get(mine))
        .route("/api/holds/{id}", delete(release))
        .route("/api/drops/{id}/seats/stream", get(stream))
        .merge(snapshots)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BestAvailable {
    quantity: usize,
    category: String,
    #[serde(default)]
    accessible: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HoldBody {
    seats: Option<Vec<String>>,
    best_available: Option<BestAvailable>,
}

/// A hold as the API shows it.
#[derive(Debug, Serialize)]
pub struct HoldView {
    #[serde(flatten)]
    pub hold: HoldRow,
    pub currency: String,
}

fn hold_error(error: HoldError) -> Response {
    match error {
        HoldError::SeatsTaken(taken) => {
            let mut extra = serde_json::Map::new();
            extra.insert("taken".into(), serde_json::json!(taken));
            runtime::error::json_error_with(
                StatusCode::CONFLICT,
                "seats_taken",
                "some of these seats were taken; choose again",
                extra,
            )
        }
        other => ApiError::from(other).into_response(),
    }
}

/// `POST /api/drops/{id}/holds`: `{"seats": [...]}` or
/// `{"best_available": {"quantity", "category", "accessible"?}}`, with an
/// `Idempotency-Key`. 201 the hold (200: the same key's hold again).
#[tracing::instrument(skip_all, fields(drop = %drop_id))]
async fn hold(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    headers: HeaderMap,
    body: Result<ApiJson<HoldBody>, Response>,
) -> Response {
    if !valid_drop_id(&drop_id) {
        return ApiError::NotFound("unknown_drop").into_response();
    }
    let claims = match super::orders::admitted(&http, &headers, &drop_id) {
        Ok(claims) => claims,
        Err(error) => return error.into_response(),
    };
    let key = match super::orders::idempotency_key(&headers) {
        Ok(key) => key,
        Err(error) => return error.into_response(),
    };
    let ApiJson(body) = match body {
        Ok(body) => body,
        Err(rejection) => return rejection,
    };
    let choice = match (body.seats, body.best_available) {
        (Some(seats), None) => SeatChoice::Seats(seats),
        (None, Some(best)) => SeatChoice::Best {
            quantity: best.quantity,
            category: best.category,
            accessible: best.accessible,
        },
        _ => {
            return ApiError::Unprocessable(
                "invalid_seats",
                "give seats or best_available (one of them)".into(),
            )
            .into_response()
        }
    };
    let held = http
        .sale
        .hold_seats(HoldSeats {
            drop_id,
            user: claims.sub,
            admission_jti: claims.jti,
            idempotency_key: key,
            choice,
        })
        .await;
    match held {
        Ok(held) => {
            let status = if held.created {
                StatusCode::CREATED
            } else {
                StatusCode::OK
            };
            let view = HoldView {
                hold: held.hold,
                currency: held.currency,
            };
            (status, Json(view)).into_response()
        }
        Err(error) => hold_error(error),
    }
}

/// `GET /api/drops/{id}/holds/mine`: the fan's live holds (a reloaded page
/// finds its hold).
async fn mine(
    State(http): State<HttpState>,
    User(user): User,
    Path(drop_id): Path<String>,
) -> Result<Json<Vec<HoldRow>>, ApiError> {
    if !valid_drop_id(&drop_id) {
        return Err(ApiError::NotFound("unknown_drop"));
    }
    Ok(Json(http.sale.holds_of(&drop_id, &user.sub).await?))
}

/// `DELETE /api/holds/{id}`: its fan gives the hold up; the seats go back.
async fn release(
    State(http): State<HttpState>,
    User(user): User,
    Path(id): Path<String>,
) -> Result<Json<HoldRow>, ApiError> {
    let id: Uuid = id.parse().map_err(|_| ApiError::NotFound("unknown_hold"))?;
    Ok(Json(http.sale.release_hold(id, &user.sub).await?))
}

/// Every seat's state, compact.
#[derive(Debug, Serialize)]
struct Snapshot {
    drop: String,
    venue_id: String,
    map_version: i32,
    version: i64,
    /// One character per seat in the map's order: `f` free, `h` held,
    /// `s` sold, `b` not on sale here.
    states: String,
    prices: std::collections::BTreeMap<String, i64>,
    currency: String,
    hold_secs: i32,
    per_user_cap: i32,
    counts: std::collections::BTreeMap<String, crate::seats::board::Counts>,
}

async fn board(http: &HttpState, drop_id: &str) -> Result<Arc<Board>, ApiError> {
    if !valid_drop_id(drop_id) {
        return Err(ApiError::NotFound("unknown_drop"));
    }
    let sale = http.sale.seated_sale(drop_id).await?;
    Ok(http.sale.boards.board(sale).await?)
}

/// `GET /api/drops/{id}/seats`.
async fn snapshot(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
) -> Result<Response, ApiError> {
    let board = board(&http, &drop_id).await?;
    let (version, states) = board.states();
    let sale = &board.sale;
    let snapshot = Snapshot {
        drop: drop_id,
        venue_id: sale.venue_id.clone(),
        map_version: sale.seating.map_version,
        version,
        states,
        prices: sale.seating.prices.clone(),
        currency: sale.currency.clone(),
        hold_secs: sale.seating.hold_secs,
        per_user_cap: sale.per_user_cap,
        counts: board.counts(),
    };
    Ok((
        [(header::CACHE_CONTROL, "public, max-age=1")],
        Json(snapshot),
    )
        .into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamQuery {
    after: Option<i64>,
}

fn sse(event: &BoardEvent) -> Event {
    match event {
        BoardEvent::Seats { version, changes } => {
            let changes: Vec<(u32, String)> = changes
                .iter()
                .map(|(seat, state)| (*seat, char::from(*state).to_string()))
                .collect();
            Event::default()
                .event("seats")
                .id(version.to_string())
                .json_data(serde_json::json!({"version": version, "changes": changes}))
                .unwrap_or_default()
        }
        BoardEvent::Reset { version } => Event::default()
            .event("reset")
            .id(version.to_string())
            .data(serde_json::json!({"version": version}).to_string()),
    }
}

/// `GET /api/drops/{id}/seats/stream?after=<version>` (`Last-Event-ID`, when
/// sent, goes first):
/// the changes after that version as Server-Sent Events (`seats`), then
/// every change as it happens; `reset` when the client must reload the
/// snapshot. One Redis read per sale and process, however many watch.
async fn stream(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<StreamQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::BadRequest("invalid_query", e.body_text()))?;
    let last_event_id = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let board = board(&http, &drop_id).await?;
    let events = board.subscribe();
    // A reconnecting EventSource keeps the URL it started with (its old
    // `after`) and sends the last version it saw as `Last-Event-ID`: that
    // one is newer, so it wins.
    let after = last_event_id
        .or(query.after)
        .unwrap_or_else(|| board.version());
    let first: Vec<Event> = match board.replay_after(after) {
        Replay::Events(missed) => missed.iter().map(|e| sse(e)).collect(),
        Replay::Reset => vec![sse(&BoardEvent::Reset {
            version: board.version(),
        })],
    };
    let last = board.version().max(after);
    let stop = http.sale.boards.stop_token();
    let live = futures::stream::unfold(
        (events, last, stop),
        |(mut events, last, stop)| async move {
            loop {
                let next = tokio::select! {
                    _ = stop.cancelled() => return None,
                    next = events.recv() => next,
                };
                match next {
                    Ok(event) if event.version() <= last => continue,
                    Ok(event) => {
                        let version = event.version();
                        return Some((Ok(sse(&event)), (events, version, stop)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {
                        let reset = sse(&BoardEvent::Reset { version: last });
                        return Some((Ok(reset), (events, last, stop)));
                    }
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        },
    );
    let stream = futures::StreamExt::chain(futures::stream::iter(first.into_iter().map(Ok)), live);
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
