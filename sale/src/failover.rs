//! On a Redis Cluster: notices a failover (a master id the last look did
//! not have: a replica promoted) and rebuilds every live drop from
//! PostgreSQL behind the epoch fence.
//!
//! Why: replication is asynchronous. A master may acknowledge a
//! reservation, its order may be recorded in PostgreSQL and answered 201,
//! and the master may die before the replica got the write. The promoted
//! replica's `sold` and per-user counts are then short. Stock cannot be
//! oversold even so (the order writer raises `drops.held` only while
//! `held + units <= stock`), but until the drop is rebuilt the gate would
//! promise units PostgreSQL refuses (503s near the end instead of
//! `sold_out`) and a buyer whose reservation vanished would pass the cap in
//! Redis (the order writer checks the cap against PostgreSQL's record too,
//! so such an order is refused `cap_exceeded`, see `crate::writer`). A drop
//! with stock buckets has every bucket rebuilt (`crate::gate::buckets`).
//! The rebuild bumps the epoch, so a reservation made on the promoted copy
//! before the rebuild is refused by the writer (its buyer retries) rather
//! than counted twice. The window left is the time to notice, at most
//! [`LOOK_EVERY`] plus one rebuild per live drop.

use crate::domain::Sale;
use crate::orders::OrderError;
use crate::store::drops;
use runtime::redis::Redis;
use runtime::shutdown::CancellationToken;
use std::collections::HashSet;
use std::time::Duration;

pub const LOOK_EVERY: Duration = Duration::from_millis(500);
const PAGE: i64 = 500;

/// Runs until `stop`; returns at once on a single Redis.
pub async fn run(redis: Redis, sale: Sale, stop: CancellationToken) {
    if !redis.is_cluster() {
        return;
    }
    tracing::info!("failover watch started");
    let mut known: Option<HashSet<String>> = None;
    let mut pending = false;
    let mut tick = tokio::time::interval(LOOK_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        let Ok(masters) = redis.master_nodes().await else {
            continue; // the cluster is busy failing over: look again
        };
        let ids: HashSet<String> = masters.into_iter().map(|m| m.id).collect();
        if let Some(before) = &known {
            if ids.iter().any(|id| !before.contains(id)) {
                tracing::warn!(?ids, "Redis Cluster failover: rebuilding live drops");
                metrics::counter!("sale_redis_failovers_total").increment(1);
                pending = true;
            }
        }
        known = Some(ids);
        if pending {
            pending = !rebuild_live(&sale).await;
        }
    }
    tracing::info!("failover watch stopped");
}

/// Rebuilds every live drop; false when one failed (tried again next look).
async fn rebuild_live(sale: &Sale) -> bool {
    let mut after = String::new();
    let mut all = true;
    loop {
        let page = match drops::live_page(&sale.db, &after, PAGE).await {
            Ok(page) => page,
            Err(error) => {
                tracing::warn!(%error, "failover watch: listing live drops failed");
                return false;
            }
        };
        for drop in &page {
            match sale.reload_after_failover(&drop.id).await {
                // Being rebuilt right now by another request or process,
                // which started after the failover too.
                Ok(()) | Err(OrderError::Unavailable(_)) => {}
                Err(error) => {
                    tracing::warn!(%error, drop = drop.id, "failover watch: rebuild failed");
                    all = false;
                }
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = last.id.clone(),
            _ => return all,
        }
    }
}
