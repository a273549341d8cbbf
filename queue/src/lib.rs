//! Lineup's waiting room: fans hold one place per drop in a Redis sorted set,
//! see their position move, and are admitted at a governed rate with a
//! signed admission token.
//!
//! - [`app`]: startup (`App::build`, `run_until_stopped`) and the shared state.
//! - [`config`]: settings, each a flag and an environment variable.
//! - [`line`]: one drop's line in Redis (join, leave, admit, snapshot) and
//!   its Lua scripts.
//! - [`draw`]: the verifiable random order of the pre-queue.
//! - [`catalog`]: drop settings and live line state, broadcast per drop.
//! - [`pump`]: the admission pump (lease, governor, announcements).
//! - [`notify`]: admissions from any node to this node's connections.
//! - [`status`]: what a fan is told (position, ETA, token).
//! - [`http`]: REST and WebSocket endpoints.
//! - [`clock`]: injectable time.

pub mod app;
pub mod catalog;
pub mod clock;
pub mod config;
pub mod draw;
pub mod http;
pub mod line;
pub mod notify;
pub mod pump;
pub mod status;

pub use app::{App, AppState};
pub use config::Config;
