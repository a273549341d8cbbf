//! Keeps Redis's copy of each drop's settings in step with PostgreSQL.
//!
//! An operator change is written to PostgreSQL first and then to Redis. If the
//! process dies between the two, or Redis was unreachable, Redis keeps the old
//! settings; this loop copies them over again every few seconds: every live
//! drop (paged, by the `drops_live` index) and every drop changed in the last
//! hour (a close whose Redis write was missed). It never lowers stock and
//! never loads a drop missing from Redis (that takes a full rebuild with
//! holdings, done on the order path; see `Sale::ensure_loaded`).

use crate::gate::StockGate;
use crate::store::drops::{self, DropRow};
use runtime::shutdown::CancellationToken;
use std::time::Duration;

pub const SYNC_EVERY: Duration = Duration::from_secs(5);
const PAGE: i64 = 500;

pub async fn run(db: sqlx::PgPool, gate: StockGate, stop: CancellationToken) {
    tracing::info!("drop sync started");
    let mut tick = tokio::time::interval(SYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = sync_once(&db, &gate).await {
            tracing::debug!(%error, "drop sync: next tick retries");
        }
    }
    tracing::info!("drop sync stopped");
}

/// One pass over live and recently changed drops.
pub async fn sync_once(db: &sqlx::PgPool, gate: &StockGate) -> anyhow::Result<usize> {
    let mut synced = 0;
    let mut after = String::new();
    loop {
        let page = drops::live_page(db, &after, PAGE).await?;
        synced += copy(gate, &page).await?;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = last.id.clone(),
            _ => break,
        }
    }
    let mut since = chrono::Utc::now() - chrono::Duration::hours(1);
    loop {
        let page = drops::changed_since(db, since, PAGE).await?;
        synced += copy(gate, &page).await?;
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => since = last.updated_at,
            _ => break,
        }
    }
    Ok(synced)
}

async fn copy(gate: &StockGate, drops: &[DropRow]) -> redis::RedisResult<usize> {
    for drop in drops {
        gate.sync(&drop.id, &drop.gate_state()).await?;
    }
    Ok(drops.len())
}
