//! `loadtest`: Lineup's load generator. Parses the command line and runs
//! one scenario of the `loadtest` library (see its modules for what each
//! measures). Every run is bounded by its `--seconds`, `--max-seconds` or
//! connection count.
//!
//! Exit codes: 0 the run passed; 1 it could not be carried out (an error)
//! or, for `rush` and `soak`, an invariant broke; 2 (`rush`, `soak`) every
//! invariant held but a threshold was breached (too many failed requests,
//! too few fans in the line, too few admissions).

use clap::{Parser, Subcommand};
use loadtest::{baseline, bots, buckets, catalog, orders, rush, seats, sockets, tokens};
use std::process::ExitCode;

#[derive(Parser)]
#[command(name = "loadtest", about = "Lineup load generator")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Orders at the highest rate the sale service takes.
    Orders(orders::Args),
    /// Idle WebSocket fans on a queue node: joins/s, memory per connection,
    /// and how fast a status change reaches all of them.
    Sockets(sockets::Args),
    /// Fans arrive, wait, some abandon; the admitted buy and pay. Ends with a
    /// report (JSON and Markdown), the invariants and the thresholds; exits 1
    /// when an invariant is broken, 2 when only a threshold is breached.
    Rush(rush::RushArgs),
    /// A steady mixed load for a chosen time: fans arrive evenly at
    /// `--fans-per-sec` for `--minutes`, then everything of `rush` applies
    /// (report, invariants, thresholds, exit codes).
    Soak(rush::SoakArgs),
    /// Raw Lua rate against Redis and a plain PostgreSQL checkout, side by side.
    Baseline(baseline::Args),
    /// A hot drop's stock split over K buckets: orders/s through the gate
    /// for each K, what borrowing costs, no phantom sold-out.
    Buckets(buckets::Args),
    /// A seated sale of a generated stadium under a crowd through the
    /// waiting room (or hold decisions at a rate with `--bench`), ending
    /// with its invariants; exits 1 when one is broken.
    Seats(seats::Args),
    /// The event search over a generated catalog (1M events by default):
    /// loads it with COPY, then searches at a rate; p50/p99 per kind.
    Catalog(catalog::Args),
    /// Humans and bot farms against one line with proof of work on: the
    /// bots' share of admissions, CPU-seconds per admission each side, the
    /// humans' extra wait; exits 1 when a replay or a skipped proof joined.
    Bots(bots::Args),
    /// Buyers' admission tokens written to a file, one a line, for an
    /// independent client (`loadtest/wrk/orders.lua`).
    Tokens(tokens::Args),
}

/// The services' allocator: with glibc's malloc the generator spent about
/// a tenth of its CPU per order in `malloc`/`free` (`loadtest/RESULTS.md`),
/// and its CPU shares the two cores with what it measures.
#[global_allocator]
static ALLOCATOR: runtime::service::ServiceAllocator = runtime::service::ServiceAllocator;

#[tokio::main]
async fn main() -> ExitCode {
    let passed = |done: anyhow::Result<()>| done.map(|()| ExitCode::SUCCESS);
    let outcome = match Cli::parse().command {
        Command::Orders(args) => passed(orders::main(args).await),
        Command::Sockets(args) => passed(sockets::main(args).await),
        Command::Rush(args) => rush::main(args).await,
        Command::Soak(args) => rush::soak(args).await,
        Command::Baseline(args) => passed(baseline::main(args).await),
        Command::Bots(args) => passed(bots::main(args).await),
        Command::Buckets(args) => passed(buckets::main(args).await),
        Command::Tokens(args) => passed(tokens::main(args).await),
        Command::Catalog(args) => passed(catalog::main(args).await),
        Command::Seats(args) => seats::main(args).await.map(|held| {
            if held {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
    };
    outcome.unwrap_or_else(|e| {
        eprintln!("Error: {e:?}");
        ExitCode::FAILURE
    })
}
