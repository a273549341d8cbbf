//! `queue`: runs the waiting-room service (see `queue --help` for settings).

use clap::Parser;
use queue::{App, Config};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let config = Config::parse();
    runtime::telemetry::init_tracing(config.service.log_json);
    let app = App::build(config).await?;
    app.run_until_stopped().await
}
