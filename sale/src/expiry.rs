//! Giving units back when orders run out of time: the expiry sweeper.
//!
//! **Expiry** ([`sweep_expired`]): pending orders past `expires_at` are found
//! by time (the `orders_pending_by_expiry` index, oldest first, a bounded
//! batch), marked `expired` with the drop's `held` lowered in one statement,
//! and then released in Redis. Exactly once with any number of sweepers: the
//! PostgreSQL transition happens once (row locks, `status = 'pending'`
//! rechecked), and `release.lua` returns units only while the order's
//! reservation record exists, which it deletes.
//!
//! Dies between the PostgreSQL commit and the Redis release: the order is
//! expired but Redis still counts its units (an undersell, never an
//! oversell) until the reconciler ([`crate::reconcile`]) releases them.

use crate::clock::Clock;
use crate::gate::StockGate;
use crate::store::orders;
use std::sync::Arc;

/// Pending orders expired per statement.
const SWEEP_BATCH: i64 = 500;

/// What expiry and reconciliation need: the record, the gate, the time.
#[derive(Clone)]
pub struct Expiry {
    pub db: sqlx::PgPool,
    pub gate: StockGate,
    pub seats: crate::seats::gate::SeatGate,
    pub clock: Arc<dyn Clock>,
}

impl Expiry {
    /// Expires every order due now, in batches; returns how many expired.
    pub async fn sweep(&self) -> anyhow::Result<usize> {
        let mut total = 0;
        loop {
            let now = self.clock.now();
            let expired = orders::expire_due(&self.db, now, SWEEP_BATCH).await?;
            total += expired.len();
            for order in &expired {
                let released = match order.hold_id {
                    Some(hold) => self
                        .seats
                        .release(
                            &order.drop_id,
                            hold,
                            crate::seats::gate::ReleaseMode::Order,
                            now.timestamp_millis(),
                        )
                        .await
                        .map(|_| ()),
                    None => self
                        .gate
                        .release_of(&order.drop_id, &order.user_id, order.id, None)
                        .await
                        .map(|_| ()),
                };
                if let Err(error) = released {
                    tracing::warn!(%error, order = %order.id, "expired, but Redis not released yet; reconciliation will");
                }
            }
            metrics::counter!("sale_orders_expired_total").increment(expired.len() as u64);
            if (expired.len() as i64) < SWEEP_BATCH {
                break;
            }
        }
        if total > 0 {
            tracing::info!(orders = total, "expired pending orders");
        }
        Ok(total)
    }
}
