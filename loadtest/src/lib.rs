//! Lineup's load generator, as a library (the `loadtest` binary wraps it, and
//! its tests run it against an in-process stack).
//!
//! - [`rush`]: fans arrive, wait (WebSocket or HTTP polling), some abandon,
//!   the admitted buy and pay, decline or let orders expire; a report with
//!   fairness, latencies and the invariants.
//! - [`connect`]: fans' WebSockets and HTTP clients, spread over loopback
//!   source addresses.
//! - [`idle`]: idle fans by the million, joined through the queue's own
//!   join script straight against Redis, and Redis's memory watched.
//! - [`invariants`]: the checks every run ends with, against PostgreSQL and
//!   Redis: no oversell, nobody over the cap, every acknowledged order kept.

pub mod connect;
pub mod idle;
pub mod invariants;
pub mod rush;
