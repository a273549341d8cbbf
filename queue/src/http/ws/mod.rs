//! The WebSocket adapter: authenticates (Authorization header, or a first
//! message `{"token": "..."}` within 10 s, as browsers cannot set headers),
//! joins, then runs the fan's [`Session`]: it feeds the session the drop's
//! state changes, admissions, the fan's messages and its timers, and carries
//! out the effects (send, ping, Redis reads and writes, close).
//!
//! Bounded everywhere: messages over 4 KiB close with 1009, frames are read
//! at most 16 KiB, a 64 KiB write buffer, a cap on WebSockets per node (503
//! `try_again` before the upgrade) and per user (close 4409), the socket
//! keeps its connection's slot under the process-wide connection cap. Close
//! codes: 1000 left/closed, 1001 idle or the node shutting down, 1009
//! message too big, 4401 bad or missing token, 4403 refused a place (reason
//! `revoked` by an operator: at once, announced by the sale, or on a rejoin; `access_required`,
//! `invalid_access_code` or `access_code_used_up` on an invite-only drop;
//! `pow_*` when the proof of work is missing or wrong, `captcha_*` when the
//! CAPTCHA token is missing, wrong, reused or could not be checked), 4404 unknown drop, 4408 no
//! token in time, 4409 too many sockets for this user, 4429 rate limited,
//! 1011 the queue is unavailable.
//!
//! - [`entry`]: the way in (the first message, the checks, the join), in
//!   a future freed once the fan has a place;
//! - here: the upgrade, and the driver of one session's effects, in a task
//!   of its own for as long as the fan waits; the session's own logic is
//!   transport-free in `crate::session`.

mod entry;

use super::error::QueueError;
use super::{check_address_rate, check_rate, client_ip, user_of, HttpState, UserSlot};
use crate::room::RoomError;
use crate::session::{Effect, Session};
use crate::status::Status;
use crate::waiters::Woken;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use entry::{enter, Entered, Extras};
use futures::stream::{SplitSink, SplitStream};
use futures::{SinkExt, StreamExt};
use runtime::serve::ConnectionSlot;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;

const PING_EVERY: Duration = Duration::from_secs(20);
const EXACT_REFRESH_EVERY: Duration = Duration::from_secs(30);
/// A session looks at its timers this often (its one timer).
const TICK_EVERY: Duration = Duration::from_secs(1);
/// Frames and messages the socket reads at all (our own limit, 4 KiB, is
/// checked on each message so the fan gets a proper 1009 close).
const READ_LIMIT: usize = 16 * 1024;
/// The socket's read buffer: what one read takes at most (a frame larger
/// than this grows the buffer for as long as it takes).
const READ_BUFFER: usize = 512;

pub fn router() -> Router<HttpState> {
    Router::new().route("/api/drops/{id}/queue/ws", get(upgrade))
}

/// Counts a WebSocket for as long as it lives.
struct NodeSlot(HttpState);

impl Drop for NodeSlot {
    fn drop(&mut self) {
        self.0.sockets.open.fetch_sub(1, Ordering::SeqCst);
        metrics::gauge!("queue_connections").decrement(1.0);
    }
}

fn origin_allowed(http: &HttpState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get("origin").and_then(|o| o.to_str().ok()) else {
        return true; // not a browser
    };
    let allowed = http.limits.allowed_origins.trim();
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
async fn upgrade(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    connection: Option<Extension<ConnectionSlot>>,
    headers: HeaderMap,
    ws: Result<WebSocketUpgrade, axum::extract::ws::rejection::WebSocketUpgradeRejection>,
) -> Result<Response, QueueError> {
    let ws = ws.map_err(|rejection| {
        QueueError::Invalid(format!(
            "this endpoint is a WebSocket: {}",
            rejection.body_text()
        ))
    })?;
    if !origin_allowed(&http, &headers) {
        return Err(QueueError::BadOrigin);
    }
    http.room.drop_state(&drop_id).await?;
    let user = match headers.contains_key(axum::http::header::AUTHORIZATION) {
        true => Some(user_of(&http, &headers)?),
        false => None,
    };
    let client = client_ip(&http, peer.ip(), &headers);
    let extras = Extras {
        code: super::access_code(&headers),
        proofs: super::Proofs::from_headers(&headers),
    };
    if let Some(user) = &user {
        check_rate(&http, user, client)?;
    } else {
        check_address_rate(&http, client)?;
    }
    let open = http.sockets.open.fetch_add(1, Ordering::SeqCst) + 1;
    let slot = NodeSlot(http.clone());
    metrics::gauge!("queue_connections").increment(1.0);
    if open > http.limits.max_connections {
        return Err(QueueError::TryAgain);
    }
    Ok(ws
        // A fan sends little (pings, a status request, maybe its token):
        // a small read buffer, grown for a larger frame when one comes.
        // Every socket's buffer is zeroed on its first read, so its size
        // is paid by every waiting fan (4 KiB each before).
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024)
        .max_message_size(READ_LIMIT)
        .max_frame_size(READ_LIMIT)
        .on_upgrade(move |socket| {
            // The connection's slot under the process-wide cap and this
            // node's count stay taken for the socket's life.
            let slots = SocketSlots {
                _node: slot,
                _connection: connection,
            };
            run(http, drop_id, user, extras, socket, client, slots)
        }))
}

pub(super) fn close(code: u16, reason: &'static str) -> Message {
    Message::Close(Some(CloseFrame {
        code,
        reason: reason.into(),
    }))
}

/// A status as the socket sends it: its fields and `"type": "status"`.
#[derive(serde::Serialize)]
struct StatusFrame<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(flatten)]
    status: &'a Status,
}

/// A status frame, written straight to its text (once through a
/// `serde_json::Value` and back, it cost a map of owned keys per message).
pub(super) fn frame(status: &Status) -> Message {
    let text = serde_json::to_string(&StatusFrame {
        kind: "status",
        status,
    })
    .unwrap_or_default();
    Message::Text(text.into())
}

/// What a socket holds for as long as it lives: its place in this node's
/// count of WebSockets and its connection's slot under the process-wide cap.
struct SocketSlots {
    _node: NodeSlot,
    _connection: Option<Extension<ConnectionSlot>>,
}

/// Authenticates and joins, then hands the fan's session to a task of its
/// own, which runs it until it ends.
///
/// What a waiting fan keeps for as long as it waits is only that task: its
/// session's loop. The entry (first message, checks, the join itself) runs
/// in a future on the heap, freed once the fan has a place, and the
/// upgrade's task (with axum's state around this one) ends once the
/// session is handed over. (In one task, every waiting fan kept room for
/// the entry's largest step and the upgrade's state: 8.5 KiB of future,
/// against ~13.8 KiB per connection in all; see `loadtest/RESULTS.md`,
/// "what a waiting fan keeps".)
async fn run(
    http: HttpState,
    drop_id: String,
    user: Option<String>,
    extras: Extras,
    mut socket: WebSocket,
    client: std::net::IpAddr,
    slots: SocketSlots,
) {
    let entered = Box::pin(enter(&http, &drop_id, user, extras, &mut socket, client)).await;
    let Some(Entered {
        user,
        place,
        drop_rx,
        user_slot,
    }) = entered
    else {
        return;
    };
    let mut session = Session::new(&user, place, Instant::now().into_std());
    let (sender, mut receiver) = socket.split();
    let mut adapter = Adapter {
        http,
        drop_id,
        sender,
        _slots: (slots, user_slot),
    };
    // The task owns the session's state once, and the loop borrows it (an
    // async fn's arguments would be kept twice in its future).
    tokio::spawn(async move {
        adapter.drive(&mut session, &mut receiver, &drop_rx).await;
    });
}

/// Carries a session's effects out on its socket.
struct Adapter {
    http: HttpState,
    drop_id: String,
    sender: SplitSink<WebSocket, Message>,
    /// Held while the session runs: the socket's slots and the user's.
    _slots: (SocketSlots, UserSlot),
}

/// Whether the session goes on after some effects.
enum Flow {
    Continue,
    End,
}

impl Adapter {
    /// Runs the session until it ends.
    ///
    /// What wakes a waiting fan (the node shutting down, the drop's state
    /// changing, the fan's admission) is waited for by futures made once
    /// and kept pinned across the loop, each made again only after it
    /// fired: a wake-up (the tick, a new snapshot of the line) polls them
    /// where they stand instead of registering three waiters anew and
    /// dropping them again on every turn.
    async fn drive(
        &mut self,
        session: &mut Session,
        receiver: &mut SplitStream<WebSocket>,
        drop_rx: &DropWatch,
    ) {
        let admission = self.http.admitted.wait(&self.drop_id, session.user());
        let admitted = admission.into_woken();
        tokio::pin!(admitted);
        let changed = next_change(drop_rx.clone());
        tokio::pin!(changed);
        let shutdown = self.http.shutdown.clone().cancelled_owned();
        tokio::pin!(shutdown);
        // One timer a socket, every second (a fan's position and the
        // admission's clock are looked at then); the ping and the exact
        // refresh are due on the tick at or after their time.
        let mut tick = tokio::time::interval(TICK_EVERY);
        let mut ping_at = Instant::now() + PING_EVERY;
        let mut refresh_at = Instant::now() + EXACT_REFRESH_EVERY;
        // A tick's own time, for the render it wakes: progress is read on
        // the ticks (see `crate::catalog`), so the pushes it paces ("at
        // least every 5 s", "at most once a second") are timed on them;
        // timed by when each tick happened to run, a push due after 5 s
        // waited for the next tick about half the time.
        let mut ticked_at = None;
        loop {
            let effects = {
                let now = ticked_at.take().unwrap_or_else(Instant::now).into_std();
                let state = drop_rx.borrow().clone();
                let statuses = &self.http.room.statuses;
                let mut effects = session.render(statuses, &state, now);
                effects.extend(session.on_admission_check(statuses, &state));
                effects
            };
            if let Flow::End = self.carry_out(session, effects).await {
                return;
            }
            let effects = tokio::select! {
                () = &mut shutdown => session.on_shutdown(),
                watching = &mut changed => {
                    // The drop's watch ended (the catalog let it go).
                    let Some(watching) = watching else { return };
                    changed.set(next_change(watching));
                    Vec::new()
                }
                (wait, woken) = &mut admitted => {
                    admitted.set(wait.into_woken());
                    match woken {
                        Woken::Admitted(at_ms) => { session.on_admitted(at_ms); Vec::new() }
                        Woken::Revoked => vec![Effect::Close(4403, "revoked")],
                    }
                }
                message = receiver.next() => {
                    let now = Instant::now().into_std();
                    match message {
                        None | Some(Ok(Message::Close(_))) => return,
                        // Past the socket's own read limit, or a protocol error.
                        Some(Err(_)) => session.on_oversized(),
                        Some(Ok(Message::Text(text))) => session.on_message(&text, now),
                        Some(Ok(_)) => { session.on_heard(now); Vec::new() }
                    }
                }
                at = tick.tick() => {
                    ticked_at = Some(at);
                    let now = Instant::now();
                    let mut effects = Vec::new();
                    if now >= ping_at {
                        ping_at = now + PING_EVERY;
                        effects.extend(session.on_ping_timer(now.into_std()));
                    }
                    if now >= refresh_at {
                        refresh_at = now + EXACT_REFRESH_EVERY;
                        effects.extend(session.on_refresh_timer(&drop_rx.borrow()));
                    }
                    effects
                }
            };
            if let Flow::End = self.carry_out(session, effects).await {
                return;
            }
        }
    }

    /// Carries out effects in order; Redis answers go back into the session.
    ///
    /// On the heap, for the moment it takes, when there is anything to do:
    /// the session's loop, which waits most of its life, keeps no room for
    /// the sends' and the Redis calls' futures.
    async fn carry_out(&mut self, session: &mut Session, effects: Vec<Effect>) -> Flow {
        if effects.is_empty() {
            return Flow::Continue;
        }
        Box::pin(self.carry_out_now(session, effects)).await
    }

    async fn carry_out_now(&mut self, session: &mut Session, effects: Vec<Effect>) -> Flow {
        let mut queue = std::collections::VecDeque::from(effects);
        while let Some(effect) = queue.pop_front() {
            let sent = match effect {
                Effect::Send(status) => self.sender.send(frame(&status)).await,
                Effect::SendError { error, message } => {
                    let body =
                        serde_json::json!({"type": "error", "error": error, "message": message});
                    self.sender
                        .send(Message::Text(body.to_string().into()))
                        .await
                }
                Effect::Ping => self.sender.send(Message::Ping(Vec::new().into())).await,
                Effect::Close(code, reason) => {
                    let _ = self.sender.send(close(code, reason)).await;
                    return Flow::End;
                }
                store => match self.ask_store(session, store).await {
                    Stored::Then(more) => {
                        queue.extend(more);
                        Ok(())
                    }
                    Stored::End => return Flow::End,
                },
            };
            if sent.is_err() {
                return Flow::End;
            }
        }
        Flow::Continue
    }

    /// Carries out one of the effects that read or write the line.
    async fn ask_store(&mut self, session: &mut Session, effect: Effect) -> Stored {
        let room = &self.http.room;
        let user = session.user().to_string();
        match effect {
            Effect::Touch => {
                let _ = room
                    .lines
                    .touch(&self.drop_id, &user, room.statuses.clock.now_ms())
                    .await;
            }
            Effect::ReadPlace => {
                if let Ok(place) = room.lines.place(&self.drop_id, &user).await {
                    return Stored::Then(session.on_place(place));
                }
            }
            Effect::Rejoin => {
                if let Ok(state) = room.drop_state(&self.drop_id).await {
                    match room.join(&state, &user, None).await {
                        Ok(place) => session.on_joined(place),
                        Err(RoomError::Revoked) => {
                            let _ = self.sender.send(close(4403, "revoked")).await;
                            return Stored::End;
                        }
                        Err(_) => {}
                    }
                }
            }
            Effect::Leave => {
                let _ = room.lines.leave(&self.drop_id, &user).await;
            }
            Effect::Send(_) | Effect::SendError { .. } | Effect::Ping | Effect::Close(..) => {}
        }
        Stored::Then(Vec::new())
    }
}

/// A drop's published state, as a session watches it.
type DropWatch = tokio::sync::watch::Receiver<std::sync::Arc<crate::catalog::DropState>>;

/// Resolves when the drop's state changes after what `watching` has seen,
/// handing the receiver back; `None` once the drop's watch ended.
async fn next_change(mut watching: DropWatch) -> Option<DropWatch> {
    watching.changed().await.ok()?;
    Some(watching)
}

/// What a store effect leads to.
enum Stored {
    /// More effects (the session's answer to a reading).
    Then(Vec<Effect>),
    /// The session ends (the socket was closed).
    End,
}
