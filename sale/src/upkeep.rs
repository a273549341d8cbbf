//! The background upkeep of a sale process: the expiry sweep
//! ([`crate::expiry`]) and the reconciliation passes ([`crate::reconcile`]),
//! each on its own period, with the retry of unconfirmed refunds.

use crate::expiry::Expiry;
use crate::payments::PaymentProvider;
use crate::reconcile::{Cadence, Watermark};
use runtime::shutdown::CancellationToken;
use std::sync::Arc;
use std::time::Duration;

/// How often the background loop does what.
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub sweep_every: Duration,
    pub reconcile_every: Duration,
    pub reconcile: Cadence,
}

/// The background loop: sweeps expiry every `sweep_every`; reconciles (and
/// retries unconfirmed refunds) every `reconcile_every`; survives PostgreSQL
/// and Redis outages (logs and tries again next tick); stops between steps
/// when `stop` is cancelled.
pub async fn run(
    expiry: Expiry,
    payments: Arc<dyn PaymentProvider>,
    periods: Periods,
    stop: CancellationToken,
) {
    tracing::info!(?periods, "expiry sweeper started");
    let mut sweep = tokio::time::interval(periods.sweep_every);
    sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reconcile_tick = tokio::time::interval(periods.reconcile_every);
    reconcile_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut mark = Watermark::default();
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = sweep.tick() => {
                if let Err(error) = expiry.sweep().await {
                    tracing::debug!(%error, "expiry sweep failed; next tick retries");
                }
            }
            _ = reconcile_tick.tick() => {
                if let Err(error) = expiry.reconcile_since(&mut mark, &periods.reconcile).await {
                    tracing::debug!(%error, "reconciliation failed; next tick retries");
                }
                let since = expiry.clock.now() - chrono::Duration::minutes(1);
                if let Err(error) = crate::payments::retry_refunds(&expiry.db, payments.as_ref(), since).await {
                    tracing::debug!(%error, "refund retry failed; next tick retries");
                }
            }
        }
    }
    tracing::info!("expiry sweeper stopped");
}
