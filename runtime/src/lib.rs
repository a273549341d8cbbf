//! The runtime both Lineup services run on, written once so they behave the
//! same way under load and failure.
//!
//! - [`settings`]: the settings every service has (database, Redis, user
//!   tokens, dev mode, logging, connection limits), flattened into each
//!   binary's clap arguments.
//! - [`telemetry`]: tracing and the process-wide Prometheus recorder.
//! - [`redis`]: the Redis connection (fast reconnects), a deadline on
//!   every call, and a Lua script's call written into one command.
//! - [`serve`]: HTTP serving with header, body and idle timeouts, a cap on
//!   connections per process, and graceful shutdown.
//! - [`service`]: a bound service with its background tasks, run until
//!   stopped; [`service_main!`], each binary's `main`.
//! - [`deadline`]: a total deadline on each request body.
//! - [`dev`]: dev login (dev mode only).
//! - [`limiter`]: rate limits per user or address, pruned as they go.
//! - [`client_ip`]: the client's address behind trusted proxies, and the
//!   /24 or /64 network it is limited with.
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`.
//! - [`error`]: the API error shape `{"error", "message"}`, for handlers and
//!   for everything the framework answers by itself (404, 405, bad paths).
//! - [`shutdown`]: the signal that stops a service, and the token its
//!   background tasks watch.
//! - [`monotonic_ms`]: milliseconds on the process's monotonic clock.

pub mod client_ip;
pub mod deadline;
pub mod dev;
pub mod error;
pub mod limiter;
pub mod ops;
pub mod redis;
pub mod serve;
pub mod service;
pub mod settings;
pub mod shutdown;
pub mod telemetry;

pub use settings::{HttpLimits, ServiceSettings};

/// Milliseconds since this process first asked, on the monotonic clock:
/// for housekeeping (negative caches, eviction, idle boards) that must run
/// on real time, never on a drop clock that tests move by hand.
pub fn monotonic_ms() -> i64 {
    static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
    START
        .get_or_init(std::time::Instant::now)
        .elapsed()
        .as_millis() as i64
}
