//! A fan's way into the line over a WebSocket: the user (from the
//! upgrade's header, or a first message `{"token": "..."}` within 10 s),
//! the rate and socket limits, the drop, the proofs it asks for and the
//! join itself, each refusal told with its close code.
//!
//! It runs in a future of its own on the heap (see [`super`]), so a fan
//! who has a place keeps none of it while it waits.

use super::{close, frame};
use crate::http::error::QueueError;
use crate::http::{check_user_rate, verify_user, HttpState, Proofs, UserSlot};
use crate::session::MAX_MESSAGE_BYTES;
use axum::extract::ws::{Message, WebSocket};
use std::time::Duration;

const AUTH_WAIT: Duration = Duration::from_secs(10);

/// What a socket's first message (or headers) carried besides the user.
#[derive(Default)]
pub(super) struct Extras {
    /// An access code (invite-only drops).
    pub(super) code: Option<String>,
    /// A proof-of-work solution and a CAPTCHA token.
    pub(super) proofs: Proofs,
}

/// Waits for `{"token": "...", "code": "...", "pow": "...", "captcha":
/// "..."}` as the first message (the access code, the proof of work and
/// the CAPTCHA token when the drop asks).
async fn first_message_user(
    http: &HttpState,
    socket: &mut WebSocket,
) -> Result<(String, Extras), Message> {
    let first = tokio::time::timeout(AUTH_WAIT, socket.recv()).await;
    let text = match first {
        Ok(Some(Ok(Message::Text(text)))) => text,
        Ok(Some(Err(_))) => return Err(close(1009, "message too big")),
        _ => return Err(close(4408, "send {\"token\": ...} first")),
    };
    if text.len() > MAX_MESSAGE_BYTES {
        return Err(close(1009, "message too big"));
    }
    let message = serde_json::from_str::<serde_json::Value>(&text).ok();
    let field = |name: &str| {
        message
            .as_ref()
            .and_then(|v| v.get(name).and_then(|t| t.as_str()).map(str::to_string))
    };
    let token = field("token").ok_or_else(|| close(4401, "invalid_token"))?;
    let user = verify_user(http, &token).map_err(|_| close(4401, "invalid_token"))?;
    Ok((
        user,
        Extras {
            code: field("code"),
            proofs: Proofs {
                pow: field("pow"),
                captcha: field("captcha"),
            },
        },
    ))
}

/// A fan with a place in the line, ready for its session.
pub(super) struct Entered {
    pub(super) user: String,
    pub(super) place: crate::line::Place,
    pub(super) drop_rx: tokio::sync::watch::Receiver<std::sync::Arc<crate::catalog::DropState>>,
    /// The user's count of sockets on this node, held while the socket lives.
    pub(super) user_slot: UserSlot,
}

/// Authenticates (headers or the first message), checks the fan's rate,
/// sockets, the drop and its proofs, and joins. `None` when the fan was
/// turned away (the socket is told why and closed).
pub(super) async fn enter(
    http: &HttpState,
    drop_id: &str,
    user: Option<String>,
    extras: Extras,
    socket: &mut WebSocket,
    client: std::net::IpAddr,
) -> Option<Entered> {
    match try_enter(http, drop_id, user, extras, socket, client).await {
        Ok(entered) => Some(entered),
        Err(goodbye) => {
            for message in goodbye {
                if socket.send(message).await.is_err() {
                    break;
                }
            }
            None
        }
    }
}

/// [`enter`]'s checks, in order; on a refusal, the messages to send
/// before closing (a closed drop's status, then the close frame).
async fn try_enter(
    http: &HttpState,
    drop_id: &str,
    user: Option<String>,
    extras: Extras,
    socket: &mut WebSocket,
    client: std::net::IpAddr,
) -> Result<Entered, Vec<Message>> {
    // The upgrade checked the rate: the user's and the address's for a
    // token in its header, the address's alone otherwise. Each is counted
    // once a socket, so only the user of a first message is checked here.
    let (user, extras) = match user {
        Some(user) => (user, extras),
        None => {
            let (user, sent) = first_message_user(http, socket)
                .await
                .map_err(|goodbye| vec![goodbye])?;
            let extras = Extras {
                code: sent.code.or(extras.code),
                proofs: Proofs {
                    pow: sent.proofs.pow.or(extras.proofs.pow),
                    captcha: sent.proofs.captcha.or(extras.proofs.captcha),
                },
            };
            if check_user_rate(http, &user).is_err() {
                return Err(vec![close(4429, "rate_limited")]);
            }
            (user, extras)
        }
    };
    let user_slot = http
        .sockets
        .take_user_slot(&user, http.limits.max_sockets_per_user)
        .ok_or_else(|| vec![close(4409, "too many sockets for this user")])?;
    let mut drop_rx = match http.room.catalog.watch(drop_id).await {
        Ok(Some(rx)) => rx,
        Ok(None) => return Err(vec![close(4404, "unknown_drop")]),
        Err(_) => return Err(vec![close(1011, "unavailable")]),
    };
    let state = drop_rx.borrow_and_update().clone();
    if let Some(closed) = http.room.statuses.closed_status(&state) {
        return Err(vec![frame(&closed), close(1000, "closed")]);
    }
    if let Err(refused) =
        crate::http::check_entry(http, &state, &user, &extras.proofs, client).await
    {
        let reason = match refused {
            QueueError::Pow(why) => why.code(),
            QueueError::Captcha(why) => why.code(),
            _ => "unavailable",
        };
        let code = if reason == "unavailable" { 1011 } else { 4403 };
        return Err(vec![close(code, reason)]);
    }
    let place = match http.room.join(&state, &user, extras.code.as_deref()).await {
        Ok(place) => place,
        Err(refused) => {
            // The same codes as the HTTP join; the store's trouble is 1011.
            let (status, code) = QueueError::from(refused).parts();
            let closing = if status.is_server_error() {
                close(1011, "unavailable")
            } else {
                close(4403, code)
            };
            return Err(vec![closing]);
        }
    };
    Ok(Entered {
        user,
        place,
        drop_rx,
        user_slot,
    })
}
