//! Idle fans for a rush at full scale: places in a drop's line that nobody
//! holds a connection for (a tab left open in a pocket, a phone gone to
//! sleep). Millions of them cannot each have a task and a socket on one
//! machine, and need not: what they cost the deployment is their place and
//! liveness entry in Redis. They are joined through the queue service's own
//! join script (`queue::line::Lines::join`, the call behind
//! `POST /api/drops/{id}/queue`), pipelined straight against Redis, behind
//! every live fan, and watched with the line's length and Redis's memory.

use admission::contract::DropKeys;
use futures::StreamExt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Join calls kept in flight on the one multiplexed connection.
const IN_FLIGHT: usize = 512;

/// Joins `count` idle fans (`idle-0` …) to `drop`'s line by arrival (first
/// come, first served scores: behind every fan already there), counting
/// them in `loaded`; stops at `deadline`.
pub async fn load(
    redis_url: &str,
    prefix: &str,
    drop: &str,
    count: u64,
    loaded: Arc<AtomicU64>,
    deadline: Instant,
) -> anyhow::Result<()> {
    let lines = queue::line::Lines::new(runtime::redis::connect(redis_url).await?, prefix);
    let mut joins = futures::stream::iter(0..count)
        .map(|n| {
            let lines = lines.clone();
            async move {
                // A join timed out on a starved machine is tried again (a
                // join is idempotent); the third failure ends the load.
                let mut tries = 0;
                loop {
                    let now = chrono::Utc::now().timestamp_millis();
                    let joined = lines
                        .join(
                            drop,
                            &format!("idle-{n}"),
                            now,
                            None,
                            now - 3_600_000,
                            "open",
                        )
                        .await;
                    tries += 1;
                    if joined.is_ok() || tries == 3 {
                        return joined;
                    }
                }
            }
        })
        .buffer_unordered(IN_FLIGHT);
    while let Some(joined) = joins.next().await {
        joined?;
        loaded.fetch_add(1, Ordering::Relaxed);
        if Instant::now() >= deadline {
            break;
        }
    }
    Ok(())
}

/// Removes `drop`'s line and liveness buckets (a run's idle fans would
/// otherwise keep their memory in the deployment's Redis).
pub async fn remove_line(redis_url: &str, prefix: &str, drop: &str) -> anyhow::Result<()> {
    let lines = queue::line::Lines::new(runtime::redis::connect(redis_url).await?, prefix);
    Ok(lines.remove_line(drop).await?)
}

/// Redis as the run goes: memory in use and the drop's line length, read
/// once a second; the peak memory and the line at that moment are kept.
#[derive(Default)]
pub struct RedisWatch {
    pub used_bytes: AtomicU64,
    pub peak_bytes: AtomicU64,
    pub line: AtomicU64,
    pub line_at_peak: AtomicU64,
}

impl RedisWatch {
    /// Reads once now (the baseline) and then every second until aborted.
    pub async fn start(
        redis_url: &str,
        prefix: &str,
        drop: &str,
    ) -> anyhow::Result<(Arc<Self>, u64, tokio::task::JoinHandle<()>)> {
        let mut redis = runtime::redis::connect(redis_url).await?;
        let line_key = DropKeys::new(prefix, drop).line();
        let watch = Arc::new(Self::default());
        let baseline = used_memory(&redis).await?;
        let task = {
            let watch = watch.clone();
            tokio::spawn(async move {
                loop {
                    if let (Ok(used), Ok(line)) = (
                        used_memory(&redis).await,
                        redis::cmd("ZCARD")
                            .arg(&line_key)
                            .query_async::<u64>(&mut redis)
                            .await,
                    ) {
                        watch.used_bytes.store(used, Ordering::Relaxed);
                        watch.line.store(line, Ordering::Relaxed);
                        if used > watch.peak_bytes.load(Ordering::Relaxed) {
                            watch.peak_bytes.store(used, Ordering::Relaxed);
                            watch.line_at_peak.store(line, Ordering::Relaxed);
                        }
                    }
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            })
        };
        Ok((watch, baseline, task))
    }
}

/// Redis's `used_memory`, bytes (summed over the masters of a cluster).
async fn used_memory(redis: &runtime::redis::Redis) -> anyhow::Result<u64> {
    let mut total = 0;
    for reply in redis
        .on_each_master(redis::cmd("INFO").arg("memory"))
        .await?
    {
        let info: String = redis::from_redis_value(&reply)?;
        total += info
            .lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse::<u64>().ok())
            .ok_or_else(|| anyhow::anyhow!("INFO memory has no used_memory"))?;
    }
    Ok(total)
}
