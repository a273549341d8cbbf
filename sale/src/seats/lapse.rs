//! The lapse loop: every second, the seats of holds past their expiry go
//! back in every seated sale still selling (paged through by the
//! `drops_live` index). Tidying only: every seat script already treats a
//! lapsed hold as gone; this tells the seat maps and the counters.

use super::gate::SeatGate;
use crate::clock::Clock;
use crate::store::drops;
use runtime::shutdown::CancellationToken;
use std::sync::Arc;
use std::time::Duration;

pub const LAPSE_EVERY: Duration = Duration::from_secs(1);
/// Holds given back per script call.
const PER_CALL: usize = 500;
const PAGE: i64 = 500;

/// Gives back every lapsed hold of every live seated sale; how many.
pub async fn lapse_all(
    db: &sqlx::PgPool,
    gate: &SeatGate,
    clock: &dyn Clock,
) -> anyhow::Result<i64> {
    let mut total = 0;
    let mut after = String::new();
    loop {
        let page = drops::seated_live_page(db, &after, PAGE).await?;
        for drop_id in &page {
            loop {
                let released = gate
                    .lapse(drop_id, clock.now().timestamp_millis(), PER_CALL)
                    .await?;
                total += released;
                if released < PER_CALL as i64 {
                    break;
                }
            }
        }
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => after = last.clone(),
            _ => break,
        }
    }
    if total > 0 {
        metrics::counter!("sale_holds_lapsed_total").increment(total as u64);
        tracing::debug!(holds = total, "lapsed holds given back");
    }
    Ok(total)
}

pub async fn run(db: sqlx::PgPool, gate: SeatGate, clock: Arc<dyn Clock>, stop: CancellationToken) {
    tracing::info!("hold lapse loop started");
    let mut tick = tokio::time::interval(LAPSE_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        if let Err(error) = lapse_all(&db, &gate, clock.as_ref()).await {
            tracing::debug!(%error, "hold lapse: next tick retries");
        }
    }
    tracing::info!("hold lapse loop stopped");
}
