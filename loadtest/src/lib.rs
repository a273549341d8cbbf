//! Lineup's load generator, as a library: the `loadtest` binary parses its
//! command line and runs one scenario here; the tests run the same code
//! against an in-process stack. The modules, one line each:
//!
//! - [`orders`]: `loadtest orders`, the order path's throughput, latency and sale CPU per order (closed or open loop).
//! - [`baseline`]: `loadtest baseline`, raw `reserve.lua` and a plain PostgreSQL checkout to compare with.
//! - [`buckets`]: `loadtest buckets`, a hot drop's stock buckets: orders/s for K = 1, 2, 4, 8 through the gate, borrowing's cost.
//! - [`sockets`]: `loadtest sockets`, idle WebSocket fans on a queue node: joins/s, memory, CPU, a change's reach.
//! - [`rush`]: `loadtest rush` and `soak`, the whole flow with fairness, invariants, thresholds and a report;
//!   its parts: `rush::options`, `rush::fans`, `rush::shared`, `rush::timeline`,
//!   `rush::fairness`, `rush::invariants`, `rush::thresholds`, `rush::report`, `rush::plot`.
//! - [`seats`]: `loadtest seats`, a seated sale under a crowd (or hold decisions at a rate), its invariants;
//!   its parts: `seats::setup`, `seats::fans`, `seats::viewers`, `seats::bench`, `seats::check`.
//! - [`bots`]: `loadtest bots`, humans and bot farms against one line with proof of work: bots' share, CPU per admission, humans' extra wait, replays;
//!   its parts: `bots::join`, `bots::replay`.
//! - [`catalog`]: `loadtest catalog`, a million events loaded with COPY, then searched at a rate (p50/p99 per kind, index sizes).
//! - [`deployment`]: the flags naming a deployment's services and stores, shared by `rush`, `soak`, `seats` and `bots`.
//! - [`idle`]: idle fans by the million, joined through the queue's own join script straight against Redis.
//! - [`connect`]: fans' WebSockets and HTTP clients, spread over loopback source addresses.
//! - [`sale_api`]: an HTTP client for a run, drops created and changed with the operator key.
//! - [`tokens`]: buyers, each a user with its own admission token (and `loadtest tokens`, for wrk).
//! - [`tally`]: counts and HDR latency histograms.
//! - [`procfs`]: a process's memory and CPU time read from `/proc`.
//! - [`boxcpu`]: the whole machine's CPU per operation, by part (service, generator, Redis, PostgreSQL).
//! - [`wire`]: a lean HTTP/1.1 keep-alive client for the order path's hot loop.
//! - [`output`]: a run's figures written as JSON into its `--out` directory.

pub mod baseline;
pub mod bots;
pub mod boxcpu;
pub mod buckets;
pub mod catalog;
pub mod connect;
pub mod deployment;
pub mod idle;
pub mod orders;
pub mod output;
pub mod procfs;
pub mod rush;
pub mod sale_api;
pub mod seats;
pub mod sockets;
pub mod tally;
pub mod tokens;
pub mod wire;
