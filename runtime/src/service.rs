//! A service as both binaries run it: a bound [`Server`], the token that
//! stops it and its background tasks, and those tasks; and
//! [`service_main!`](crate::service_main), each binary's `main`.

use crate::serve::Server;
use crate::shutdown::CancellationToken;
use axum::Router;
use tokio::task::JoinHandle;

/// A bound service with its background tasks running.
pub struct Service {
    server: Server,
    stop: CancellationToken,
    metrics_token: Option<String>,
    background: Vec<JoinHandle<()>>,
}

impl Service {
    /// `stop` is the token `background` watches; `metrics_token` guards
    /// `/metrics` ([`crate::ops::router`]).
    pub fn new(
        server: Server,
        stop: CancellationToken,
        metrics_token: Option<String>,
        background: Vec<JoinHandle<()>>,
    ) -> Self {
        Self {
            server,
            stop,
            metrics_token,
            background,
        }
    }

    pub fn port(&self) -> u16 {
        self.server.local_addr().port()
    }

    /// Serves `router` and the ops routes until `stop` completes (or the
    /// token is cancelled some other way), answers the requests in flight,
    /// then waits for the background tasks to finish their step.
    pub async fn run(
        self,
        router: Router,
        ready: crate::ops::ReadinessCheck,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        crate::shutdown::cancel_when(stop, &self.stop);
        let router = router.merge(crate::ops::router(ready, self.metrics_token));
        self.server.serve(router, self.stop).await?;
        for task in self.background {
            let _ = task.await;
        }
        Ok(())
    }
}

/// The allocator of the service binaries: mimalloc. An order allocates
/// about 140 times (hyper's 8 KiB read buffer, the Redis command and
/// reply, JSON, sqlx's rows) and glibc's malloc spent a quarter of the
/// sale's instructions on them (`loadtest/RESULTS.md`, "counted
/// instructions"). Named here so [`service_main!`] can install it.
pub use mimalloc::MiMalloc as ServiceAllocator;

/// A service binary's `main`: parse the config (clap), start tracing, build
/// the app, run it until SIGINT or SIGTERM; the process allocates with
/// [`ServiceAllocator`]. `$app` has `build(config) -> anyhow::Result<Self>`
/// and `run_until(self, stop) -> anyhow::Result<()>`; `$config` has a
/// `service: ServiceSettings`.
#[macro_export]
macro_rules! service_main {
    ($app:ty, $config:ty) => {
        #[global_allocator]
        static ALLOCATOR: $crate::service::ServiceAllocator = $crate::service::ServiceAllocator;

        #[tokio::main]
        async fn main() -> anyhow::Result<()> {
            let config = <$config as clap::Parser>::parse();
            $crate::telemetry::init_tracing(config.service.log_json);
            let app = <$app>::build(config).await?;
            app.run_until($crate::shutdown::signal()).await
        }
    };
}
