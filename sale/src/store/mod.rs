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
pub use orders::{OrderRow, ReleasedOrder, StatusTotals};
