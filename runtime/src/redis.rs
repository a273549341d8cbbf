//! The Redis connection both services use: a connection manager that
//! reconnects within a second, and a deadline on every call, so a Redis
//! outage answers 503 promptly instead of hanging requests.

use std::time::Duration;

/// Longest any Redis call may take, reconnects included: past it the caller
/// gets an error (answered 503), never a hanging request.
pub const CALL_DEADLINE: Duration = Duration::from_secs(3);

/// A Redis connection manager that reconnects within a second. redis-rs's
/// default backoff (factor 100) sleeps for minutes between attempts while
/// callers wait; a restarted Redis must be back in use at once.
pub async fn connect(client: redis::Client) -> redis::RedisResult<redis::aio::ConnectionManager> {
    let config = redis::aio::ConnectionManagerConfig::new()
        .set_connection_timeout(Duration::from_secs(1))
        .set_response_timeout(Duration::from_secs(2))
        .set_number_of_retries(2)
        .set_factor(2)
        .set_max_delay(250);
    redis::aio::ConnectionManager::new_with_config(client, config).await
}

/// Runs a Redis call with [`CALL_DEADLINE`].
pub async fn bounded<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    tokio::time::timeout(CALL_DEADLINE, call)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "Redis did not answer in time",
            )))
        })
}
