//! `sale`: runs the sale service (see `sale --help` for settings).

use clap::Parser;
use sale::{App, Config};

/// mimalloc instead of the system allocator: a request allocates often and
/// briefly, across threads; the profile of the order path showed the
/// system allocator at about a seventh of the service's CPU
/// (loadtest/RESULTS.md, "Order path: profile").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    runtime::telemetry::init_tracing(config.service.log_json);
    let app = App::build(config).await?;
    app.run_until_stopped().await
}
