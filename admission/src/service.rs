//! Plumbing both services share, so they behave the same way under failure:
//! the Prometheus recorder, the Redis connection (fast reconnects), a
//! deadline on every Redis call, and the shutdown signal.

use std::sync::OnceLock;
use std::time::Duration;

/// Longest any Redis call may take, reconnects included: past it the caller
/// gets an error (answered 503), never a hanging request.
pub const REDIS_CALL_DEADLINE: Duration = Duration::from_secs(3);

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

/// A Redis connection manager that reconnects within a second. redis-rs's
/// default backoff (factor 100) sleeps for minutes between attempts while
/// callers wait; a restarted Redis must be back in use at once.
pub async fn connect_redis(
    client: redis::Client,
) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(1))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2)
        .set_factor(2)
        .set_max_delay(250);
    redis::aio::ConnectionManager::new_with_config(client, config).await
}

/// Runs a Redis call with [`REDIS_CALL_DEADLINE`].
pub async fn bounded<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    tokio::time::timeout(REDIS_CALL_DEADLINE, call)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "Redis did not answer in time",
            )))
        })
}

/// Completes on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = terminate => {} }
    tracing::info!("shutdown signal received");
}
