//! Lineup's waiting room: fans hold one place per drop in a Redis sorted set,
//! see their position move, and are admitted at a governed rate with a
//! signed admission token.
//!
//! The waiting room, top-down:
//! - [`room`]: join, poll, leave; what a fan is told ([`room::StatusMaker`]).
//! - [`session`]: one fan's WebSocket session as a transport-free state
//!   machine (events in, effects out).
//! - [`status`]: the status a fan sees (position, honest wait, token).
//! - [`catalog`]: the drops this node serves, loaded on demand, with their
//!   settings and live line snapshot broadcast per drop.
//! - [`pump`]: the admission pump (lease, governor, announcements).
//! - [`access`]: invite-only and presale lines: access codes and lists.
//! - [`spent`]: one-time proofs (PoW solutions, CAPTCHA tokens) marked used.
//! - [`pow`]: proof of work on joining (ALTCHA's wire format), its replay
//!   store and adaptive difficulty.
//! - [`captcha`]: the optional CAPTCHA on joining (site-verify, sandbox).
//! - [`line`]: one drop's line in Redis and its Lua scripts.
//! - [`draw`]: the verifiable random order of the pre-queue.
//! - [`notify`]: announcements from other nodes and the sale service.
//! - [`waiters`]: the sessions waiting on this node, so an admission wakes
//!   only the fans it admits.
//! - [`clock`]: injectable time.
//!
//! Around it:
//! - [`http`]: the REST routes and the WebSocket adapter.
//! - [`config`]: settings, each a flag and an environment variable.
//! - [`app`]: startup and orderly shutdown.

pub mod access;
pub mod app;
pub mod captcha;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod draw;
pub mod http;
pub mod line;
pub mod notify;
pub mod pow;
pub mod pump;
pub mod room;
pub mod session;
pub mod spent;
pub mod status;
pub mod waiters;

pub use app::App;
pub use config::Config;
