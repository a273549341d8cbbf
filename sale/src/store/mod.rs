//! PostgreSQL: the durable record of drops and orders, with every query
//! checked at compile time against the migrations (sqlx's macros; the
//! offline data is in `.sqlx/`, refreshed by `scripts/sqlx-prepare`).
//!
//! - [`drops`]: drops, their settings and the `held` count, the rebuild's
//!   lock and epoch, the pages of live drops background loops walk.
//! - [`orders`]: orders by id, key and user; cancel; expiry; statuses.
//! - [`claims`]: ending seat claims (a hold released, an order ended).
//! - [`holds`]: seat holds and their claims; ordering a hold; a seated
//!   sale's open holds for a rebuild.
//! - [`venues`]: venues and their seat maps (immutable versions).
//! - [`events`]: events and their sales.
//! - [`access`]: invite-only drops: access mode, codes (hashed), grants.
//! - [`revocations`]: revoked users and admission tokens (bot defence).
//!
//! The batch inserts of the group-commit writers are in [`crate::writer`]
//! (orders) and [`crate::seats::writer`] (holds),
//! next to its transaction logic; payment queries in
//! [`crate::payments::ledger`].

pub mod access;
pub mod claims;
pub mod drops;
pub mod events;
pub mod holds;
pub mod orders;
pub mod revocations;
pub mod venues;

pub use drops::{DropChange, DropRow, NewDrop};

/// What an edit of an event or a venue, made from a version, came to.
#[derive(Debug)]
pub enum Changed<Row> {
    Done(Row),
    Unknown,
    /// The row is at another version than the edit was made from.
    Stale {
        current: i64,
    },
    /// The edit would move what sales fix: an event's venue, or the time
    /// zone of a venue whose events have sales (the local times of tickets
    /// already sold would move).
    Locked,
}

impl<Row> Changed<Row> {
    /// The refusal of an edit made from version `expected` (any: `None`)
    /// of a row locked at version `current`, where `locked` says the edit
    /// touches what sales fix; `None`: go ahead.
    fn refusal(expected: Option<i64>, current: i64, locked: bool) -> Option<Self> {
        if expected.is_some_and(|v| v != current) {
            Some(Self::Stale { current })
        } else if locked {
            Some(Self::Locked)
        } else {
            None
        }
    }
}
pub use orders::{OrderRow, ReleasedOrder, StatusTotals};
