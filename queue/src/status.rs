//! What a fan is told: state, position, people ahead, an honest wait
//! estimate, and once admitted the token and where to check out.
//!
//! Positions are computed locally from the drop's broadcast state: a fan's
//! rank at its last exact reading, minus how many the pump has taken off the
//! head since (the `removed` counter). Fans who leave from the middle make
//! the estimate a little high until the next exact reading; a position shown
//! never goes up for a fan who stays.
//!
//! The wait is honest: when nobody can be admitted for now (every unit left
//! is spoken for, or the shop is full), the status says so in `held_up`
//! instead of promising seconds. When the shop is full, the estimate uses
//! the rate at which shoppers actually made room over the last minute.

use crate::catalog::DropState;
use admission::contract::DropState as OperatorState;
use chrono::{DateTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Eta {
    pub seconds: u64,
    pub low: u64,
    pub high: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Status {
    /// `prequeue`, `waiting`, `admitted`, `paused`, `sold_out` or `closed`.
    pub state: &'static str,
    pub drop: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub position: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ahead: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub eta_seconds: Option<Eta>,
    /// Why the line does not move right now, when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub held_up: Option<HeldUp>,
    pub opens_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opens_in_seconds: Option<i64>,
    /// Everyone in the line.
    pub waiting: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admission_token: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkout_url: Option<String>,
}

impl Status {
    /// Whether `other` tells the fan nothing new but progress: the same
    /// state, drop, hold-up, opening, admission and checkout, whatever the
    /// position, people ahead, wait estimate, line length and countdown.
    /// (A field added to [`Status`] belongs here unless it is progress.)
    pub fn same_but_progress(&self, other: &Status) -> bool {
        self.state == other.state
            && self.drop == other.drop
            && self.held_up == other.held_up
            && self.opens_at == other.opens_at
            && self.admission_token == other.admission_token
            && self.token_expires_at == other.token_expires_at
            && self.checkout_url == other.checkout_url
    }
}

/// Why nobody is admitted right now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HeldUp {
    /// `all_reserved`: every unit left is spoken for by shoppers already
    /// admitted or by pending orders; places are kept, and units come back
    /// when an order expires or is cancelled (`until`: the first pending
    /// order's expiry, when there is one). `shop_full`: as many shoppers as
    /// allowed are buying; the next fan goes in when one finishes.
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub until: Option<DateTime<Utc>>,
}

/// A waiting fan's place, as last read exactly, and the best position shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tracker {
    rank: u64,
    removed: u64,
    shown: u64,
}

impl Tracker {
    pub fn new(rank: u64, removed: u64) -> Self {
        Self {
            rank,
            removed,
            shown: rank + 1,
        }
    }

    /// An exact reading: adopted unless it would move the fan back.
    pub fn refresh(&mut self, rank: u64, removed: u64) {
        self.rank = rank;
        self.removed = removed;
        self.shown = self.shown.min(rank + 1);
    }

    /// The position to show now (1 = next).
    pub fn position(&mut self, removed_now: u64) -> u64 {
        let moved = removed_now.saturating_sub(self.removed);
        let estimate = (self.rank + 1).saturating_sub(moved).max(1);
        self.shown = self.shown.min(estimate);
        self.shown
    }
}

/// The admitted fan's part of a status.
#[derive(Debug, Clone)]
pub struct Admission {
    pub token: String,
    pub expires_at: DateTime<Utc>,
    pub checkout_url: String,
}

/// Below this many admissions a second, no estimate is given at all.
const NO_PROGRESS_RATE: f64 = 0.01;

fn eta_at(ahead: u64, rate: f64) -> Eta {
    let seconds = |r: f64| (ahead as f64 / r).ceil() as u64;
    Eta {
        seconds: seconds(rate),
        low: seconds(rate * 1.25),
        high: seconds(rate * 0.75),
    }
}

/// The wait estimate for `ahead` people, and what holds the line up.
fn wait(ahead: u64, state: &DropState) -> (Option<Eta>, Option<HeldUp>) {
    if state.all_reserved() {
        let held_up = HeldUp {
            reason: "all_reserved",
            until: state.settings.earliest_pending_expiry,
        };
        return (None, Some(held_up));
    }
    if state.shop_full() {
        let held_up = Some(HeldUp {
            reason: "shop_full",
            until: None,
        });
        let rate = state.measured_rate_minute;
        let eta = (rate >= NO_PROGRESS_RATE).then(|| eta_at(ahead, rate));
        return (eta, held_up);
    }
    let rate = if state.measured_rate > 0.05 {
        state.measured_rate
    } else {
        state.settings.admission_rate_per_sec.max(0.001)
    };
    (Some(eta_at(ahead, rate)), None)
}

/// The status of a fan in `state`, waiting (`position`) or admitted.
pub fn status(
    state: &DropState,
    now: DateTime<Utc>,
    position: Option<u64>,
    admission: Option<Admission>,
) -> Status {
    let settings = &state.settings;
    let open = state.is_open(now);
    let name = if admission.is_some() {
        "admitted"
    } else if settings.state == OperatorState::Closed {
        "closed"
    } else if state.sold_out() {
        "sold_out"
    } else if !open {
        "prequeue"
    } else if settings.state == OperatorState::Paused {
        "paused"
    } else {
        "waiting"
    };
    let waiting_position = position.filter(|_| open && admission.is_none());
    let (eta_seconds, held_up) = match waiting_position.filter(|_| name == "waiting") {
        Some(position) => wait(position, state),
        None => (None, None),
    };
    Status {
        state: name,
        drop: settings.id.clone(),
        position: waiting_position,
        ahead: waiting_position.map(|p| p - 1),
        eta_seconds,
        held_up,
        opens_at: settings.opens_at,
        opens_in_seconds: (!open).then(|| (settings.opens_at - now).num_seconds().max(0)),
        waiting: state.line.waiting,
        token_expires_at: admission.as_ref().map(|a| a.expires_at),
        checkout_url: admission.as_ref().map(|a| a.checkout_url.clone()),
        admission_token: admission.map(|a| a.token),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::DropSettings;
    use crate::line::LineSnapshot;

    fn drop_state(units_left: i64, active: u64, max_active: i32, pending: bool) -> DropState {
        DropState {
            settings: DropSettings {
                id: "d".into(),
                name: "D".into(),
                opens_at: DateTime::from_timestamp(0, 0).unwrap_or_default(),
                state: OperatorState::Open,
                admission_rate_per_sec: 10.0,
                max_active,
                draw_seed: "s".into(),
                earliest_pending_expiry: pending
                    .then(|| DateTime::from_timestamp(4_000_000_000, 0).unwrap_or_default()),
                access: "open".into(),
                proof_of_work: true,
                pow_algorithm: admission::contract::PowAlgorithm::Sha256,
                captcha: true,
            },
            line: LineSnapshot {
                waiting: 500,
                active,
                units_left: Some(units_left),
                ..LineSnapshot::default()
            },
            measured_rate: 0.0,
            measured_rate_minute: 0.0,
        }
    }

    #[test]
    fn when_everything_is_reserved_no_seconds_are_promised() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        // Every unit held by pending orders: nothing left, but some may return.
        let state = drop_state(0, 0, 1000, true);
        let status = status(&state, now, Some(201), None);
        assert_eq!(status.state, "waiting");
        assert_eq!(status.eta_seconds, None);
        let held_up = status.held_up.expect("held up");
        assert_eq!(held_up.reason, "all_reserved");
        assert_eq!(held_up.until, state.settings.earliest_pending_expiry);
        // Units left, but every one spoken for by a shopper inside.
        let state = drop_state(5, 5, 1000, false);
        assert_eq!(
            super::status(&state, now, Some(3), None)
                .held_up
                .map(|h| h.reason),
            Some("all_reserved")
        );
    }

    #[test]
    fn a_full_shop_estimates_from_shoppers_leaving() {
        let now = DateTime::from_timestamp(1_000, 0).unwrap_or_default();
        let mut state = drop_state(1_000, 100, 100, false);
        let stalled = status(&state, now, Some(50), None);
        assert_eq!(stalled.eta_seconds, None, "nobody left the shop lately");
        assert_eq!(stalled.held_up.map(|h| h.reason), Some("shop_full"));
        state.measured_rate_minute = 0.5;
        let moving = status(&state, now, Some(50), None);
        assert_eq!(
            moving.eta_seconds.map(|e| e.seconds),
            Some(100),
            "50 at 0.5/s, not 10/s"
        );
        // Room in the shop and stock left: the configured rate.
        let free = drop_state(1_000, 10, 100, false);
        let status = status(&free, now, Some(50), None);
        assert_eq!(status.held_up, None);
        assert_eq!(status.eta_seconds.map(|e| e.seconds), Some(5));
    }

    #[test]
    fn positions_never_move_back() {
        let mut tracker = Tracker::new(99, 10);
        assert_eq!(tracker.position(10), 100);
        assert_eq!(tracker.position(30), 80);
        // An exact reading that is worse (someone rejoined ahead? clock skew)
        // does not move the fan back.
        tracker.refresh(90, 30);
        assert_eq!(tracker.position(30), 80);
        tracker.refresh(50, 30);
        assert_eq!(tracker.position(31), 50);
        assert_eq!(tracker.position(1_000), 1, "never below 1");
    }
}
