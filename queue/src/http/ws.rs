//! The WebSocket session: authenticate (Authorization header, or a first
//! message `{"token": "..."}` within 10 s, as browsers cannot set headers),
//! join, then push the fan's status whenever it changes and at least every
//! 5 s, until the fan leaves or closes.
//!
//! Bounded everywhere: 4 KiB messages and frames, a 64 KiB write buffer,
//! a cap on connections per node (503 `try_again` before the upgrade), a
//! ping every 20 s and a close after 60 s without any message from the fan.
//! Close codes: 4401 bad or missing token, 4404 unknown drop, 4408 no token
//! in time, 1011 the queue is unavailable.

use super::error::QueueError;
use super::rest::{closed_status, drop_state, join_place, status_of};
use super::{check_rate, user_of, verify_user};
use crate::app::AppState;
use crate::line::Place;
use crate::status::{status, Status, Tracker};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

const AUTH_WAIT: Duration = Duration::from_secs(10);
const PUSH_AT_LEAST_EVERY: Duration = Duration::from_secs(5);
const PING_EVERY: Duration = Duration::from_secs(20);
const IDLE_CLOSE: Duration = Duration::from_secs(60);
const EXACT_REFRESH_EVERY: Duration = Duration::from_secs(30);

/// Counts a connection for as long as it lives.
struct ConnectionSlot(AppState);

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.0.connections.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("queue_connections").decrement(1.0);
    }
}

fn origin_allowed(app: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return true; // not a browser
    };
    let allowed = app.config.allowed_origins.trim();
    if allowed == "*" {
        return true;
    }
    if allowed.is_empty() {
        let host = headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("");
        return origin
            .split_once("://")
            .is_some_and(|(_, rest)| rest == host);
    }
    allowed.split(',').any(|a| a.trim() == origin)
}

/// `GET /api/drops/{id}/queue/ws`.
pub async fn upgrade(
    State(app): State<AppState>,
    Path(drop_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, QueueError> {
    if !origin_allowed(&app, &headers) {
        return Err(QueueError::BadOrigin);
    }
    drop_state(&app, &drop_id)?;
    let user = match headers.contains_key(axum::http::header::AUTHORIZATION) {
        true => Some(user_of(&app, &headers)?),
        false => None,
    };
    if let Some(user) = &user {
        check_rate(&app, user, peer.ip())?;
    } else if app.ip_limiter.check_key(&peer.ip()).is_err() {
        return Err(QueueError::RateLimited);
    }
    let open = app.connections.fetch_add(1, Ordering::SeqCst) + 1;
    let slot = ConnectionSlot(app.clone());
    metrics::gauge!("queue_connections").increment(1.0);
    if open > app.config.max_connections {
        return Err(QueueError::TryAgain);
    }
    Ok(ws
        .read_buffer_size(4 * 1024)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
        .max_message_size(4 * 1024)
        .max_frame_size(4 * 1024)
        .on_upgrade(move |socket| async move {
            session(app, drop_id, user, socket, peer).await;
            drop(slot);
        }))
}

fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

fn frame(status: &Status) -> Message {
    let mut value = serde_json::to_value(status).unwrap_or_default();
    if let Some(object) = value.as_object_mut() {
        object.insert("type".into(), "status".into());
    }
    Message::Text(value.to_string().into())
}

/// Waits for `{"token": "..."}` as the first message.
async fn first_message_user(app: &AppState, socket: &mut WebSocket) -> Result<String, Message> {
    let first = tokio::time::timeout(AUTH_WAIT, socket.recv()).await;
    let Ok(Some(Ok(Message::Text(text)))) = first else {
        return Err(close(4408, "send {\"token\": ...} first"));
    };
    let token = serde_json::from_str::<serde_json::Value>(&text)
        .ok()
        .and_then(|v| v.get("token").and_then(|t| t.as_str()).map(str::to_string))
        .ok_or_else(|| close(4401, "invalid_token"))?;
    verify_user(app, &token).map_err(|_| close(4401, "invalid_token"))
}

async fn session(
    app: AppState,
    drop_id: String,
    user: Option<String>,
    mut socket: WebSocket,
    peer: SocketAddr,
) {
    let user = match user {
        Some(user) => user,
        None => match first_message_user(&app, &mut socket).await {
            Ok(user) => user,
            Err(goodbye) => {
                let _ = socket.send(goodbye).await;
                return;
            }
        },
    };
    if check_rate(&app, &user, peer.ip()).is_err() {
        let _ = socket.send(close(4429, "rate_limited")).await;
        return;
    }
    let Some(mut drop_rx) = app.catalog.watch(&drop_id) else {
        let _ = socket.send(close(4404, "unknown_drop")).await;
        return;
    };
    let state = drop_rx.borrow_and_update().clone();
    if let Some(closed) = closed_status(&app, &state) {
        let _ = socket.send(frame(&closed)).await;
        let _ = socket.send(close(1000, "closed")).await;
        return;
    }
    let mut place = match join_place(&app, &state, &user).await {
        Ok(place) => place,
        Err(_) => {
            let _ = socket.send(close(1011, "unavailable")).await;
            return;
        }
    };
    let mut tracker = match place {
        Place::Waiting { rank, removed } => Some(Tracker::new(rank, removed)),
        Place::Admitted { .. } => None,
    };
    let mut admitted_rx = app.admitted.subscribe();
    let (mut sender, mut receiver) = socket.split();
    let mut last_sent: Option<Status> = None;
    let mut last_push = Instant::now();
    let mut last_heard = Instant::now();
    let mut ping = tokio::time::interval(PING_EVERY);
    let mut refresh = tokio::time::interval(EXACT_REFRESH_EVERY);
    let mut keepalive = tokio::time::interval(PUSH_AT_LEAST_EVERY);
    ping.reset();
    refresh.reset();
    loop {
        let state = drop_rx.borrow().clone();
        let current = match (place, tracker.as_mut()) {
            (Place::Admitted { .. }, _) | (_, None) => status_of(&app, &state, &user, place).ok(),
            (Place::Waiting { .. }, Some(tracker)) => Some(status(
                &state,
                app.clock.now(),
                Some(tracker.position(state.line.progress.removed)),
                None,
            )),
        };
        if let Some(current) = current {
            let due = last_push.elapsed() >= PUSH_AT_LEAST_EVERY;
            if last_sent.as_ref() != Some(&current) || due {
                if sender.send(frame(&current)).await.is_err() {
                    break;
                }
                last_push = Instant::now();
                last_sent = Some(current);
            }
        }
        tokio::select! {
            changed = drop_rx.changed() => {
                if changed.is_err() { break; }
            }
            event = admitted_rx.recv() => match event {
                Ok(event) => {
                    if event.drop == drop_id && tracker.is_some() && event.users.contains(&user) {
                        place = Place::Admitted { at_ms: event.at_ms };
                        tracker = None;
                    }
                }
                // Missed announcements: read the place exactly now.
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => refresh.reset_immediately(),
                Err(tokio::sync::broadcast::error::RecvError::Closed) => break,
            },
            message = receiver.next() => {
                last_heard = Instant::now();
                match message {
                    None | Some(Err(_)) | Some(Ok(Message::Close(_))) => break,
                    Some(Ok(Message::Text(text))) => {
                        let kind = serde_json::from_str::<serde_json::Value>(&text)
                            .ok()
                            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
                        match kind.as_deref() {
                            Some("leave") => {
                                let _ = app.lines.leave(&drop_id, &user).await;
                                let _ = sender.send(close(1000, "left")).await;
                                break;
                            }
                            Some("ping") | Some("status") => last_sent = None,
                            _ => {
                                let error = serde_json::json!({"type": "error", "error": "invalid_message",
                                    "message": "send {\"type\": \"ping\" | \"status\" | \"leave\"}"});
                                if sender.send(Message::Text(error.to_string().into())).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                    Some(Ok(_)) => {}
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() >= IDLE_CLOSE {
                    let _ = sender.send(close(1001, "idle")).await;
                    break;
                }
                if tracker.is_some() {
                    let _ = app.lines.touch(&drop_id, &user, app.clock.now_ms()).await;
                }
                if sender.send(Message::Ping(Vec::new().into())).await.is_err() {
                    break;
                }
            }
            _ = refresh.tick() => {
                // A closed drop's line is freed: nothing to refresh or rejoin.
                if closed_status(&app, &drop_rx.borrow()).is_some() {
                    continue;
                }
                if tracker.is_some() {
                    let _ = app.lines.touch(&drop_id, &user, app.clock.now_ms()).await;
                }
                match app.lines.place(&drop_id, &user).await {
                    Ok(Some(Place::Waiting { rank, removed })) => {
                        if let Some(tracker) = tracker.as_mut() { tracker.refresh(rank, removed); }
                    }
                    Ok(Some(admitted @ Place::Admitted { .. })) => { place = admitted; tracker = None; }
                    // Dropped from the line (it was thought gone): join again.
                    Ok(None) if tracker.is_some() => {
                        let state = drop_rx.borrow().clone();
                        if let Ok(again) = join_place(&app, &state, &user).await {
                            place = again;
                            if let Place::Waiting { rank, removed } = again {
                                tracker = Some(Tracker::new(rank, removed));
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ = keepalive.tick() => {}
        }
    }
}
