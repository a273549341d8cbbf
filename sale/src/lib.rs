//! Lineup's sale service: drops, orders, payments and the operator API.
//!
//! The domain, top-down:
//! - [`domain`]: [`Sale`], the handle every operation runs on.
//! - [`orders`]: placing an order (reserve in Redis, record in PostgreSQL,
//!   cancellation-safe), showing, listing and cancelling orders.
//! - [`drops`]: creating, changing, listing drops; stats; the rebuild of a
//!   drop's Redis copy behind the epoch fence.
//! - [`venues`]: venues and their seat maps (ours, or a pretix plan).
//! - [`events`]: events, their venue and sales.
//! - [`search`]: finding events (text, typos, filters, facets, cursor)
//!   behind one engine trait; PostgreSQL's is the default.
//! - [`paying`]: a fan pays an order; a provider event arrives at the
//!   webhook.
//! - [`payments`]: the provider interface, the sandbox provider, webhook
//!   signatures, the payment ledger.
//! - [`seats`]: seated sales: holds, ordering a hold, live seat boards,
//!   the lapse loop, the rebuild of a seated sale.
//! - [`seating`]: seat maps (our format and pretix's), generated venues,
//!   best available; pure, no I/O.
//! - [`access`]: invite-only and presale lines: access mode, codes, lists
//!   (the queue redeems and checks them).
//! - [`revocation`]: an operator revokes a user or an admission token (bot
//!   defence); restored into a drop's Redis copy whenever it is loaded.
//! - [`gate`]: the Redis gate: the Lua scripts deciding orders, their keys;
//!   a hot drop's stock split over several slots (stock buckets).
//! - [`store`]: PostgreSQL, the durable record (checked queries).
//! - [`batching`]: what the group-commit workers share.
//! - [`writer`]: group commit of orders into PostgreSQL (stock and per-user
//!   cap checked there too).
//! - [`expiry`]: the expiry sweeper.
//! - [`reconcile`]: Redis's reservations checked against PostgreSQL's
//!   orders (orphans, lost releases), in full or since the last pass.
//! - [`upkeep`]: the background loop running both.
//! - [`sync`]: keeps Redis's copy of drop settings in step with PostgreSQL.
//! - [`failover`]: on a Redis Cluster, rebuilds live drops after a failover.
//! - [`retry`]: a retried request waits for the first one's record.
//! - [`to_end`]: work that must finish once begun, though its caller hangs up.
//! - [`clock`]: injectable time, and a time as the API writes it.
//!
//! Around it:
//! - [`http`]: the routes, a thin layer over the domain.
//! - [`config`]: settings, each a flag and an environment variable.
//! - [`app`]: startup and orderly shutdown.
//!
//! Redis is the gate (fast, atomic); PostgreSQL is the record. An order is
//! reserved in Redis, then recorded in PostgreSQL, then acknowledged.

pub mod access;
pub mod app;
pub mod batching;
pub mod clock;
pub mod config;
pub mod domain;
pub mod drops;
pub mod events;
pub mod expiry;
pub mod failover;
pub mod gate;
pub mod http;
pub mod orders;
pub mod paying;
pub mod payments;
pub mod reconcile;
pub mod retry;
pub mod revocation;
pub mod search;
pub mod seating;
pub mod seats;
pub mod store;
pub mod sync;
pub mod to_end;
pub mod upkeep;
pub mod venues;
pub mod writer;

pub use app::App;
pub use config::Config;
pub use domain::Sale;
