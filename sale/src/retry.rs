//! A retried request (same `Idempotency-Key`) that arrives while the first
//! one is still being recorded waits for the first one's record instead of
//! deciding again: orders and seat holds share this wait.

use std::future::Future;
use std::time::Duration;

/// What a retry is told when the first request's record did not land in
/// time.
pub const STILL_IN_PROGRESS: &str =
    "the first request with this Idempotency-Key is still in progress; retry";

/// How often the record is looked for.
const POLL_EVERY: Duration = Duration::from_millis(20);

/// Reads the first request's record with `read` until it exists or
/// `within` has passed (then `None`).
pub async fn first_request_record<T, E, Fut>(
    within: Duration,
    mut read: impl FnMut() -> Fut,
) -> Result<Option<T>, E>
where
    Fut: Future<Output = Result<Option<T>, E>>,
{
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if let Some(record) = read().await? {
            return Ok(Some(record));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
