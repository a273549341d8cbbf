//! The process-wide Prometheus recorder both services export `/metrics`
//! from. Installed once per process; tests that run the sale and queue
//! services (or several instances) in one process share it.

use std::sync::OnceLock;

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
