//! What a fan is told: state, position, people ahead, an honest wait
//! estimate, and once admitted the token and where to check out.
//!
//! Positions are computed locally from the drop's broadcast state: a fan's
//! rank at its last exact reading, minus how many the pump has taken off the
//! head since (the `removed` counter). Fans who leave from the middle make
//! the estimate a little high until the next exact reading; a position shown
//! never goes up for a fan who stays.

use crate::catalog::DropState;
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

fn eta(ahead: u64, state: &DropState) -> Eta {
    let rate = if state.measured_rate > 0.05 {
        state.measured_rate
    } else {
        state.settings.admission_rate_per_sec.max(0.001)
    };
    let seconds = |r: f64| (ahead as f64 / r).ceil() as u64;
    Eta {
        seconds: seconds(rate),
        low: seconds(rate * 1.25),
        high: seconds(rate * 0.75),
    }
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
    } else if settings.state == "closed" {
        "closed"
    } else if state.sold_out() {
        "sold_out"
    } else if !open {
        "prequeue"
    } else if settings.state == "paused" {
        "paused"
    } else {
        "waiting"
    };
    let waiting_position = position.filter(|_| open && admission.is_none());
    Status {
        state: name,
        drop: settings.id.clone(),
        position: waiting_position,
        ahead: waiting_position.map(|p| p - 1),
        eta_seconds: waiting_position
            .filter(|_| name == "waiting")
            .map(|p| eta(p, state)),
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
