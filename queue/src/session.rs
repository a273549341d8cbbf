//! One fan's WebSocket session as a state machine without a socket: events
//! go in (the drop's state changed, someone was admitted, the fan sent a
//! message, a timer fired, a Redis read came back), [`Effect`]s come out
//! (send this status, ping, touch the place, read the place, join again,
//! leave, close with this code). The adapter in `http::ws` owns the socket
//! and the timers and carries the effects out; this module decides, and is
//! unit-tested without a socket.
//!
//! What it decides:
//! - a status is pushed at once when it says something new (admitted,
//!   paused, sold out, held up, ...); progress alone (position, wait, line
//!   length) at most once a second near the front of the line (100 ahead
//!   or fewer) and every 5 s further back, so a line moving twice a second
//!   does not cost a message per fan each time; and at least every 5 s;
//! - a fan's position is estimated locally between exact readings
//!   ([`Tracker`]) and never shown going up;
//! - `{"type": "status"}` and `{"type": "ping"}` are answered at most once a
//!   second however many arrive; more than 20 messages in 10 s closes the
//!   socket (4429), a message over 4 KiB closes it (1009);
//! - a fan silent for 60 s is closed (1001 `idle`);
//! - an admission that runs out puts the fan back in line (join again);
//! - a fan dropped from the line (thought gone) joins again at the end.

use crate::catalog::DropState;
use crate::line::Place;
use crate::room::StatusMaker;
use crate::status::{Admission, Status, Tracker};
use std::time::{Duration, Instant};

/// Largest message a fan may send.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// A status is pushed at least this often, and progress alone at most
/// this often far from the front.
pub const PUSH_AT_LEAST_EVERY: Duration = Duration::from_secs(5);
/// Progress alone is pushed at most this often near the front...
pub const PROGRESS_NEAR_FRONT_EVERY: Duration = Duration::from_secs(1);
/// ... which is this many people ahead or fewer.
pub const NEAR_FRONT: u64 = 100;
/// A fan who sent nothing (not even a pong) for this long is closed.
pub const IDLE_CLOSE: Duration = Duration::from_secs(60);
/// Client messages allowed per window before the socket is closed.
const MESSAGES_PER_WINDOW: u32 = 20;
const MESSAGE_WINDOW: Duration = Duration::from_secs(10);
/// A requested status is sent at most this often.
const STATUS_ON_REQUEST_EVERY: Duration = Duration::from_secs(1);

/// What the adapter must do.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Send this status.
    Send(Status),
    /// Send an error message (the fan's message made no sense).
    SendError {
        error: &'static str,
        message: &'static str,
    },
    /// Send a WebSocket ping.
    Ping,
    /// Renew the fan's place (a sign of life).
    Touch,
    /// Read the fan's exact place; answer with [`Session::on_place`].
    ReadPlace,
    /// Join the line again; answer with [`Session::on_joined`].
    Rejoin,
    /// Leave the line.
    Leave,
    /// Close the socket with this code and reason, and end the session.
    Close(u16, &'static str),
}

/// What a fan sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientMessage {
    Ping,
    Status,
    Leave,
    Invalid,
}

impl ClientMessage {
    pub fn parse(text: &str) -> Self {
        let kind = serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .and_then(|v| v.get("type").and_then(|t| t.as_str()).map(str::to_string));
        match kind.as_deref() {
            Some("ping") => Self::Ping,
            Some("status") => Self::Status,
            Some("leave") => Self::Leave,
            _ => Self::Invalid,
        }
    }
}

/// One fan's session.
pub struct Session {
    user: String,
    place: Place,
    tracker: Option<Tracker>,
    last_sent: Option<Status>,
    /// The admission made for the current `Place::Admitted` (its time and
    /// token): signed once, not on every render.
    admission: Option<(i64, Admission)>,
    last_push: Instant,
    last_heard: Instant,
    /// A status was asked for (sent on the next render, rate permitting).
    requested: bool,
    last_requested_answer: Option<Instant>,
    window_start: Instant,
    window_messages: u32,
}

impl Session {
    /// A session for `user`, just joined at `place`.
    pub fn new(user: &str, place: Place, now: Instant) -> Self {
        let mut session = Self {
            user: user.to_string(),
            place,
            tracker: None,
            last_sent: None,
            admission: None,
            last_push: now,
            last_heard: now,
            requested: false,
            last_requested_answer: None,
            window_start: now,
            window_messages: 0,
        };
        session.on_joined(place);
        session
    }

    pub fn user(&self) -> &str {
        &self.user
    }

    pub fn is_waiting(&self) -> bool {
        self.tracker.is_some()
    }

    /// The status to push now, if any: when it changed, when it was asked
    /// for, or when none was pushed for a while.
    pub fn render(
        &mut self,
        statuses: &StatusMaker,
        state: &DropState,
        now: Instant,
    ) -> Vec<Effect> {
        let current = match (self.place, self.tracker.as_mut()) {
            (Place::Waiting { .. }, Some(tracker)) => {
                Some(statuses.waiting_at(state, tracker.position(state.line.progress.removed)))
            }
            (Place::Admitted { at_ms }, _) => self
                .admission_at(statuses, state, at_ms)
                .map(|admission| statuses.admitted_with(state, admission)),
            (Place::Waiting { .. }, None) => statuses.status_of(state, &self.user, self.place).ok(),
        };
        let Some(current) = current else {
            return Vec::new();
        };
        let since = now.duration_since(self.last_push);
        let push = self.requested
            || match &self.last_sent {
                None => true,
                Some(last) if *last == current => since >= PUSH_AT_LEAST_EVERY,
                Some(last) if !last.same_but_progress(&current) => true,
                Some(_) => since >= progress_every(&current),
            };
        if !push {
            return Vec::new();
        }
        self.requested = false;
        self.last_push = now;
        self.last_sent = Some(current.clone());
        vec![Effect::Send(current)]
    }

    /// The admission made at `at_ms`, signed on first use.
    fn admission_at(
        &mut self,
        statuses: &StatusMaker,
        state: &DropState,
        at_ms: i64,
    ) -> Option<Admission> {
        if let Some((made_at, admission)) = &self.admission {
            if *made_at == at_ms {
                return Some(admission.clone());
            }
        }
        let admission = statuses
            .admission(&state.settings.id, &self.user, at_ms)
            .ok()?;
        self.admission = Some((at_ms, admission.clone()));
        Some(admission)
    }

    /// This fan was admitted (announced at `at_ms`).
    pub fn on_admitted(&mut self, at_ms: i64) {
        if self.tracker.is_some() {
            self.place = Place::Admitted { at_ms };
            self.tracker = None;
        }
    }

    /// Any frame from the fan (text, pong, ...): a sign of life.
    pub fn on_heard(&mut self, now: Instant) {
        self.last_heard = now;
    }

    /// A text message from the fan.
    pub fn on_message(&mut self, text: &str, now: Instant) -> Vec<Effect> {
        self.on_heard(now);
        if text.len() > MAX_MESSAGE_BYTES {
            return vec![Effect::Close(1009, "message too big")];
        }
        if now.duration_since(self.window_start) >= MESSAGE_WINDOW {
            self.window_start = now;
            self.window_messages = 0;
        }
        self.window_messages += 1;
        if self.window_messages > MESSAGES_PER_WINDOW {
            return vec![Effect::Close(4429, "rate_limited")];
        }
        match ClientMessage::parse(text) {
            ClientMessage::Leave => vec![Effect::Leave, Effect::Close(1000, "left")],
            ClientMessage::Ping | ClientMessage::Status => {
                let answered_lately = self
                    .last_requested_answer
                    .is_some_and(|at| now.duration_since(at) < STATUS_ON_REQUEST_EVERY);
                if !answered_lately {
                    self.requested = true;
                    self.last_requested_answer = Some(now);
                }
                Vec::new()
            }
            ClientMessage::Invalid => vec![Effect::SendError {
                error: "invalid_message",
                message: "send {\"type\": \"ping\" | \"status\" | \"leave\"}",
            }],
        }
    }

    /// A message too big for the socket's own limit (refused before we
    /// could read it).
    pub fn on_oversized(&mut self) -> Vec<Effect> {
        vec![Effect::Close(1009, "message too big")]
    }

    /// The ping timer: close an idle fan; otherwise ping, and renew a
    /// waiting fan's place.
    pub fn on_ping_timer(&mut self, now: Instant) -> Vec<Effect> {
        if now.duration_since(self.last_heard) >= IDLE_CLOSE {
            return vec![Effect::Close(1001, "idle")];
        }
        let mut effects = Vec::new();
        if self.is_waiting() {
            effects.push(Effect::Touch);
        }
        effects.push(Effect::Ping);
        effects
    }

    /// The exact-refresh timer: renew and read the place (not for a closed
    /// drop, whose line is freed).
    pub fn on_refresh_timer(&mut self, state: &DropState) -> Vec<Effect> {
        if state.is_closed() {
            return Vec::new();
        }
        let mut effects = Vec::new();
        if self.is_waiting() {
            effects.push(Effect::Touch);
        }
        effects.push(Effect::ReadPlace);
        effects
    }

    /// The admission clock: an admission that ran out puts the fan back in
    /// line.
    pub fn on_admission_check(&mut self, statuses: &StatusMaker, state: &DropState) -> Vec<Effect> {
        match self.place {
            Place::Admitted { at_ms }
                if statuses.admission_expired(at_ms) && !state.is_closed() =>
            {
                vec![Effect::Rejoin]
            }
            _ => Vec::new(),
        }
    }

    /// When the current admission runs out, in ms (to set a timer).
    pub fn admission_ends_ms(&self, statuses: &StatusMaker) -> Option<i64> {
        match self.place {
            Place::Admitted { at_ms } => Some(statuses.admission_ends_ms(at_ms)),
            Place::Waiting { .. } => None,
        }
    }

    /// The exact place, as read.
    pub fn on_place(&mut self, place: Option<Place>) -> Vec<Effect> {
        match place {
            Some(Place::Waiting { rank, removed }) => {
                if let Some(tracker) = self.tracker.as_mut() {
                    tracker.refresh(rank, removed);
                }
                Vec::new()
            }
            Some(admitted @ Place::Admitted { .. }) => {
                self.place = admitted;
                self.tracker = None;
                Vec::new()
            }
            // Dropped from the line (it was thought gone): join again.
            None if self.is_waiting() => vec![Effect::Rejoin],
            None => Vec::new(),
        }
    }

    /// The place a (re)join gave.
    pub fn on_joined(&mut self, place: Place) {
        self.place = place;
        self.tracker = match place {
            Place::Waiting { rank, removed } => Some(Tracker::new(rank, removed)),
            Place::Admitted { .. } => None,
        };
    }

    /// The node is shutting down.
    pub fn on_shutdown(&mut self) -> Vec<Effect> {
        vec![Effect::Close(1001, "going away")]
    }
}

/// How often progress alone is worth a message to this fan.
fn progress_every(status: &Status) -> Duration {
    if status.ahead.is_some_and(|ahead| ahead > NEAR_FRONT) {
        PUSH_AT_LEAST_EVERY
    } else {
        PROGRESS_NEAR_FRONT_EVERY
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DropSettings;
    use crate::clock::QueueClock;
    use crate::line::{LineSnapshot, Progress};
    use admission::contract::DropState as OperatorState;
    use admission::keys::AdmissionKeyPair;
    use admission::token::AdmissionSigner;
    use std::sync::Arc;

    fn maker(clock: &QueueClock) -> StatusMaker {
        let key = AdmissionKeyPair::generate();
        let signer = Arc::new(AdmissionSigner::new(&key).expect("signer"));
        StatusMaker::new(
            clock.clone(),
            signer,
            Duration::from_secs(600),
            "https://x/{drop}",
        )
    }

    fn drop_state(removed: u64) -> DropState {
        DropState {
            settings: DropSettings {
                id: "d".into(),
                name: "D".into(),
                opens_at: chrono::DateTime::from_timestamp(0, 0).unwrap_or_default(),
                state: OperatorState::Open,
                admission_rate_per_sec: 10.0,
                max_active: 1000,
                draw_seed: "s".into(),
                earliest_pending_expiry: None,
                access: "open".into(),
                proof_of_work: true,
                pow_algorithm: admission::contract::PowAlgorithm::Sha256,
                captcha: true,
            },
            line: LineSnapshot {
                progress: Progress {
                    removed,
                    ..Progress::default()
                },
                waiting: 100,
                active: 0,
                units_left: Some(1000),
            },
            measured_rate: 0.0,
            measured_rate_minute: 0.0,
        }
    }

    /// A session of `user`, waiting with `rank` fans ahead.
    fn waiting(user: &str, rank: u64, at: Instant) -> Session {
        Session::new(user, Place::Waiting { rank, removed: 0 }, at)
    }

    fn sent(effects: &[Effect]) -> Vec<&Status> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(status) => Some(status),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn pushes_on_change_and_keeps_quiet_otherwise() {
        let clock = QueueClock::manual();
        let statuses = maker(&clock);
        let t0 = Instant::now();
        let mut session = waiting("u", 9, t0);
        let first = session.render(&statuses, &drop_state(0), t0);
        assert_eq!(sent(&first)[0].position, Some(10));
        assert!(session.render(&statuses, &drop_state(0), t0).is_empty());
        // Near the front, progress goes out at most once a second.
        assert!(session.render(&statuses, &drop_state(2), t0).is_empty());
        let t1 = t0 + PROGRESS_NEAR_FRONT_EVERY;
        let moved = session.render(&statuses, &drop_state(4), t1);
        assert_eq!(sent(&moved)[0].position, Some(6));
        // Nothing changes, but 5 s pass: pushed again.
        let later = t1 + PUSH_AT_LEAST_EVERY;
        assert_eq!(
            sent(&session.render(&statuses, &drop_state(4), later)).len(),
            1
        );
    }

    #[test]
    fn far_back_progress_goes_out_every_five_seconds_and_news_at_once() {
        let clock = QueueClock::manual();
        let statuses = maker(&clock);
        let t0 = Instant::now();
        let mut session = waiting("u", 4_999, t0);
        assert_eq!(
            sent(&session.render(&statuses, &drop_state(0), t0))[0].position,
            Some(5_000)
        );
        for second in 1..5 {
            let now = t0 + Duration::from_secs(second);
            let moving = drop_state(second * 10);
            assert!(
                session.render(&statuses, &moving, now).is_empty(),
                "progress {second} s later"
            );
        }
        let t5 = t0 + PUSH_AT_LEAST_EVERY;
        assert_eq!(
            sent(&session.render(&statuses, &drop_state(50), t5))[0].position,
            Some(4_950)
        );
        // News goes out at once: the drop paused a moment later.
        let mut paused = drop_state(50);
        paused.settings.state = OperatorState::Paused;
        let news = session.render(&statuses, &paused, t5 + Duration::from_millis(10));
        assert_eq!(sent(&news)[0].state, "paused");
    }

    #[test]
    fn status_requests_are_answered_at_most_once_a_second() {
        let clock = QueueClock::manual();
        let statuses = maker(&clock);
        let t0 = Instant::now();
        let state = drop_state(0);
        let mut session = waiting("u", 0, t0);
        session.render(&statuses, &state, t0);
        let mut replies = 0;
        for i in 0..15 {
            let now = t0 + Duration::from_millis(i * 100);
            assert!(session.on_message(r#"{"type":"status"}"#, now).is_empty());
            replies += sent(&session.render(&statuses, &state, now)).len();
        }
        assert_eq!(replies, 2, "1.5 s of requests: two answers");
    }

    #[test]
    fn flooding_oversized_and_idle_fans_are_closed() {
        let t0 = Instant::now();
        let mut session = waiting("u", 0, t0);
        let mut closed = None;
        for i in 0..25 {
            let effects = session.on_message(r#"{"type":"ping"}"#, t0 + Duration::from_millis(i));
            if let Some(Effect::Close(code, _)) = effects.last() {
                closed = Some((i, *code));
                break;
            }
        }
        assert_eq!(closed, Some((20, 4429)));
        let mut session = waiting("u", 0, t0);
        let big = "x".repeat(MAX_MESSAGE_BYTES + 1);
        assert_eq!(
            session.on_message(&big, t0),
            vec![Effect::Close(1009, "message too big")]
        );
        assert_eq!(
            session.on_ping_timer(t0 + Duration::from_secs(30)),
            vec![Effect::Touch, Effect::Ping]
        );
        assert_eq!(
            session.on_ping_timer(t0 + IDLE_CLOSE),
            vec![Effect::Close(1001, "idle")]
        );
    }

    #[test]
    fn an_admission_reaches_the_fan_and_runs_out_into_the_line() {
        let clock = QueueClock::manual();
        let statuses = maker(&clock);
        let t0 = Instant::now();
        let state = drop_state(0);
        let mut session = waiting("u", 0, t0);
        // (Which sessions hear of an admission is `waiters`' job.)
        session.on_admitted(clock.now_ms());
        let admitted = session.render(&statuses, &state, t0);
        let status = sent(&admitted)[0];
        assert_eq!(status.state, "admitted");
        assert!(status.admission_token.is_some());
        assert!(session.on_admission_check(&statuses, &state).is_empty());
        clock.advance(Duration::from_secs(601));
        assert_eq!(
            session.on_admission_check(&statuses, &state),
            vec![Effect::Rejoin]
        );
        session.on_joined(Place::Waiting {
            rank: 41,
            removed: 0,
        });
        let back = session.render(&statuses, &state, t0);
        assert_eq!(sent(&back)[0].state, "waiting");
        assert_eq!(sent(&back)[0].position, Some(42));
    }

    #[test]
    fn leaving_and_a_lost_place() {
        let t0 = Instant::now();
        let mut session = waiting("u", 3, t0);
        assert_eq!(
            session.on_message(r#"{"type":"leave"}"#, t0),
            vec![Effect::Leave, Effect::Close(1000, "left")]
        );
        assert_eq!(
            session.on_place(None),
            vec![Effect::Rejoin],
            "dropped: join again"
        );
        assert!(matches!(
            session.on_message("nonsense", t0).as_slice(),
            [Effect::SendError {
                error: "invalid_message",
                ..
            }]
        ));
    }
}
