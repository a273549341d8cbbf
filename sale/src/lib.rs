//! Lineup's sale service: drops, orders and the operator API.
//!
//! - [`app`]: startup (`App::build`, `run_until_stopped`) and the shared state.
//! - [`config`]: settings, each a flag and an environment variable.
//! - [`http`]: routes, credentials, the error shape.
//! - [`stock`]: the Redis gate: key names and the Lua scripts deciding orders.
//! - [`store`]: PostgreSQL, the durable record.
//! - [`writer`]: group commit of orders into PostgreSQL.
//! - [`sync`]: keeps Redis's copy of drop settings in step with PostgreSQL.
//! - [`expiry`]: the expiry sweeper and the orphan reconciler.
//! - [`payments`]: the payment provider interface, the sandbox provider,
//!   webhook signatures and the payment ledger.
//! - [`clock`]: injectable time.
//!
//! Redis is the gate (fast, atomic); PostgreSQL is the record. An order is
//! reserved in Redis, then recorded in PostgreSQL, then acknowledged.

pub mod app;
pub mod clock;
pub mod config;
pub mod expiry;
pub mod http;
pub mod payments;
pub mod stock;
pub mod store;
pub mod sync;
pub mod writer;

pub use app::{App, AppState};
pub use config::Config;
