//! Keeps Redis's copy of each drop's settings in step with PostgreSQL.
//!
//! An operator change is written to PostgreSQL first and then to Redis. If the
//! process dies between the two, or Redis was unreachable, Redis keeps the old
//! settings; this loop copies them over again every few seconds. It never
//! lowers stock and never loads a drop missing from Redis (that takes a full
//! rebuild with holdings, done on the order path; see `drops::ensure_loaded`).

use crate::app::AppState;
use std::time::Duration;

pub const SYNC_EVERY: Duration = Duration::from_secs(5);

pub async fn run_drop_sync(app: AppState) {
    tracing::info!("drop sync started");
    let mut tick = tokio::time::interval(SYNC_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let drops = match crate::store::list_drops(&app.db).await {
            Ok(drops) => drops,
            Err(error) => {
                tracing::debug!(%error, "drop sync: PostgreSQL unavailable");
                continue;
            }
        };
        for drop in drops {
            if let Err(error) = app.gate.sync(&drop.id, &drop.gate_state()).await {
                tracing::debug!(%error, drop = drop.id, "drop sync: Redis unavailable");
                break;
            }
        }
    }
}
