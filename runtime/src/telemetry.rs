//! Logs and metrics: `tracing` to stdout (text, or JSON lines when asked),
//! and one Prometheus recorder per process that `/metrics` renders.

use std::sync::OnceLock;
use tracing_subscriber::EnvFilter;

/// Installs the tracing subscriber (`RUST_LOG` filters, default `info`).
pub fn init_tracing(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let installed = if json {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .try_init()
    } else {
        tracing_subscriber::fmt().with_env_filter(filter).try_init()
    };
    if installed.is_err() {
        tracing::debug!("a tracing subscriber was installed already");
    }
}

/// The process-wide Prometheus recorder `/metrics` renders. Installed once
/// per process; tests running several services in one process share it.
pub fn prometheus_handle() -> metrics_exporter_prometheus::PrometheusHandle {
    static HANDLE: OnceLock<metrics_exporter_prometheus::PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = metrics_exporter_prometheus::PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was installed elsewhere; /metrics stays empty");
            }
            handle
        })
        .clone()
}
