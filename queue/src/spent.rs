//! One-time proofs (a proof-of-work solution, a CAPTCHA token) marked used
//! in Redis, so a replay is refused on every node until the proof would
//! have expired anyway.

use runtime::redis::{bounded, Redis};
use std::time::Duration;

/// Marks `key` spent for `ttl`: true the first time, false when it was
/// spent before (`SET NX PX`, atomic across nodes).
pub async fn spend_once(redis: &Redis, key: String, ttl: Duration) -> redis::RedisResult<bool> {
    let mut command = redis::cmd("SET");
    command
        .arg(key)
        .arg(1)
        .arg("NX")
        .arg("PX")
        .arg(u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX));
    let set: Option<String> = bounded(command.query_async(&mut redis.clone())).await?;
    Ok(set.is_some())
}
