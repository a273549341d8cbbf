//! What the queue knows of one drop at a moment: its settings (from
//! PostgreSQL), its line (from Redis), the admission rates measured, and
//! the questions a status asks of them (open? sold out? held up?).

use crate::line::LineSnapshot;
use admission::contract::DropState as OperatorState;
use chrono::{DateTime, Utc};

/// A drop's settings as the queue needs them.
#[derive(Debug, Clone, PartialEq)]
pub struct DropSettings {
    pub id: String,
    pub name: String,
    pub opens_at: DateTime<Utc>,
    pub state: OperatorState,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    pub draw_seed: String,
    /// When the first pending order (or a seated sale's live hold) expires:
    /// its units may come back. `None` when nothing is pending.
    pub earliest_pending_expiry: Option<DateTime<Utc>>,
    /// Who may join: `open` (anyone), `code` (an access code or the
    /// operator's list) or `list` (the list only). See `crate::access`.
    pub access: String,
    /// Joins need a solved challenge (when this node asks for proof of
    /// work at all, see `crate::pow`); the operator may exempt a drop.
    pub proof_of_work: bool,
    /// The proof-of-work function the operator chose for this drop:
    /// `SHA-256` or the memory-hard `ARGON2ID` (see `crate::pow`).
    pub pow_algorithm: admission::contract::PowAlgorithm,
    /// Joins need a CAPTCHA token (when this deployment has a verifier at
    /// all, see `crate::captcha`); the operator may turn it off per drop.
    pub captcha: bool,
}

/// Everything a status is computed from.
#[derive(Debug, Clone, PartialEq)]
pub struct DropState {
    pub settings: DropSettings,
    pub line: LineSnapshot,
    /// Admissions per second over the last 10 s.
    pub measured_rate: f64,
    /// Admissions per second over the last minute: how fast shoppers
    /// actually make room when the shop is full.
    pub measured_rate_minute: f64,
}

impl DropState {
    pub fn is_open(&self, now: DateTime<Utc>) -> bool {
        now >= self.settings.opens_at
    }

    pub fn is_closed(&self) -> bool {
        self.settings.state == OperatorState::Closed
    }

    /// Nothing left and nothing pending that could come back.
    pub fn sold_out(&self) -> bool {
        self.line.units_left.is_some_and(|left| left <= 0)
            && self.settings.earliest_pending_expiry.is_none()
    }

    /// Every unit left is spoken for by shoppers already admitted (or none
    /// is left but pending orders may give some back): nobody more can be
    /// admitted until an order expires or is cancelled.
    pub fn all_reserved(&self) -> bool {
        !self.sold_out()
            && self
                .line
                .units_left
                .is_some_and(|left| left <= self.line.active as i64)
    }

    /// As many shoppers as allowed are in the shop: the next is admitted
    /// when one of them orders or their turn runs out.
    pub fn shop_full(&self) -> bool {
        self.line.active >= u64::try_from(self.settings.max_active).unwrap_or(0)
    }

    /// What a status says of the line beyond progress (sold out, all
    /// reserved, the shop full): a change in it is told to every fan at
    /// once, while progress alone (positions, the line's length, the rates)
    /// waits for each session's next tick.
    pub fn line_says(&self) -> (bool, bool, bool) {
        (self.sold_out(), self.all_reserved(), self.shop_full())
    }
}
