//! `loadtest`: Lineup's load generator. Parses the command line and runs
//! one scenario of the `loadtest` library (see its modules for what each
//! measures). Every run is bounded by its `--seconds`, `--max-seconds` or
//! connection count.

use clap::{Parser, Subcommand};
use loadtest::{baseline, orders, rush, sockets};

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
    /// report (JSON and Markdown) and the invariants; exits non-zero when an
    /// invariant is broken.
    Rush(rush::RushArgs),
    /// A steady mixed load for a chosen time: fans arrive evenly at
    /// `--fans-per-sec` for `--minutes`, then everything of `rush` applies.
    Soak(rush::SoakArgs),
    /// Raw Lua rate against Redis and a plain PostgreSQL checkout, side by side.
    Baseline(baseline::Args),
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Orders(args) => orders::main(args).await,
        Command::Sockets(args) => sockets::main(args).await,
        Command::Rush(args) => rush::main(args).await,
        Command::Soak(args) => rush::soak(args).await,
        Command::Baseline(args) => baseline::main(args).await,
    }
}
