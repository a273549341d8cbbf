//! Join, poll and leave over HTTP (for clients without WebSockets), the
//! draw, the admission keys, and dev login.

use super::error::QueueError;
use super::{check_rate, user_of};
use crate::app::AppState;
use crate::catalog::DropState;
use crate::line::Place;
use crate::status::{status, Status};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::Json;
use serde::Deserialize;
use std::net::SocketAddr;
use std::sync::Arc;

pub fn drop_state(app: &AppState, drop_id: &str) -> Result<Arc<DropState>, QueueError> {
    app.catalog.get(drop_id).ok_or(QueueError::UnknownDrop)
}

/// The status of `user` for a place in the line.
pub fn status_of(
    app: &AppState,
    state: &DropState,
    user: &str,
    place: Place,
) -> Result<Status, QueueError> {
    let now = app.clock.now();
    Ok(match place {
        Place::Admitted { at_ms } => {
            let admission = app.admission(&state.settings.id, user, at_ms)?;
            status(state, now, None, Some(admission))
        }
        Place::Waiting { rank, .. } => status(state, now, Some(rank + 1), None),
    })
}

/// A closed drop's answer for everyone, without a place: nothing is sold
/// any more and its line is freed (see `Pump`), so Redis is not asked.
pub fn closed_status(app: &AppState, state: &DropState) -> Option<Status> {
    (state.settings.state == "closed").then(|| status(state, app.clock.now(), None, None))
}

/// Joins the line (or finds the user's place): one place per user per drop.
pub async fn join_place(
    app: &AppState,
    state: &DropState,
    user: &str,
) -> Result<Place, QueueError> {
    let now = app.clock.now();
    let seed = (now < state.settings.opens_at).then_some(state.settings.draw_seed.as_str());
    let place = app
        .lines
        .join(
            &state.settings.id,
            user,
            app.clock.now_ms(),
            seed,
            app.admission_cutoff_ms(),
        )
        .await?;
    metrics::counter!("queue_joins_total").increment(1);
    Ok(place)
}

/// `POST /api/drops/{id}/queue`.
pub async fn join(
    State(app): State<AppState>,
    Path(drop_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Status>, QueueError> {
    let user = user_of(&app, &headers)?;
    let state = drop_state(&app, &drop_id)?;
    check_rate(&app, &user, peer.ip())?;
    if let Some(closed) = closed_status(&app, &state) {
        return Ok(Json(closed));
    }
    let place = join_place(&app, &state, &user).await?;
    Ok(Json(status_of(&app, &state, &user, place)?))
}

/// `GET /api/drops/{id}/queue`: the status; also counts as a sign of life.
pub async fn poll(
    State(app): State<AppState>,
    Path(drop_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<Status>, QueueError> {
    let user = user_of(&app, &headers)?;
    let state = drop_state(&app, &drop_id)?;
    check_rate(&app, &user, peer.ip())?;
    if let Some(closed) = closed_status(&app, &state) {
        return Ok(Json(closed));
    }
    let place = app
        .lines
        .place(&drop_id, &user)
        .await?
        .ok_or(QueueError::NotInLine)?;
    if matches!(place, Place::Waiting { .. }) {
        app.lines.touch(&drop_id, &user, app.clock.now_ms()).await?;
    }
    Ok(Json(status_of(&app, &state, &user, place)?))
}

/// `DELETE /api/drops/{id}/queue`.
pub async fn leave(
    State(app): State<AppState>,
    Path(drop_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, QueueError> {
    let user = user_of(&app, &headers)?;
    drop_state(&app, &drop_id)?;
    let left = app.lines.leave(&drop_id, &user).await?;
    Ok(Json(serde_json::json!({"left": left})))
}

/// `GET /api/drops/{id}/draw`: the commitment, and after opening the seed,
/// so anyone can recompute the pre-queue order.
pub async fn draw(
    State(app): State<AppState>,
    Path(drop_id): Path<String>,
) -> Result<Json<serde_json::Value>, QueueError> {
    let state = drop_state(&app, &drop_id)?;
    let open = state.is_open(app.clock.now());
    let seed = &state.settings.draw_seed;
    Ok(Json(serde_json::json!({
        "drop": drop_id,
        "seed_sha256": crate::draw::seed_hash(seed),
        "seed": open.then_some(seed),
        "opens_at": state.settings.opens_at,
        "order": "users who joined before opens_at, sorted by the first 52 bits of \
                  HMAC-SHA256(key = seed, message = user id) as a big-endian integer, then by user id",
    })))
}

/// `GET /.well-known/jwks.json`.
pub async fn jwks(State(app): State<AppState>) -> Json<admission::keys::Jwks> {
    Json((*app.jwks).clone())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevLogin {
    user: String,
}

/// `POST /api/dev/login` (dev mode only).
pub async fn dev_login(
    State(app): State<AppState>,
    body: Result<Json<DevLogin>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<serde_json::Value>, QueueError> {
    let Json(body) = body.map_err(|e| QueueError::Invalid(e.body_text()))?;
    let issuer = app.dev_issuer.as_ref().ok_or(QueueError::NotFound)?;
    let user = body.user.trim();
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(QueueError::Invalid(
            "user must be 1-64 visible ASCII characters".into(),
        ));
    }
    let token = issuer.issue(user, false, 24 * 3600)?;
    Ok(Json(serde_json::json!({"user": user, "token": token})))
}
