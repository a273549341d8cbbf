//! Giving units back: the expiry sweeper and the orphan reconciler.
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
//! oversell) until the reconciler releases them.
//!
//! **Reconciliation** ([`reconcile`]): every reservation record in Redis older
//! than the grace period is checked against PostgreSQL:
//! - a holding order (pending, paid): kept;
//! - an order that stopped holding (expired, cancelled, refunded) whose
//!   release never reached Redis: released;
//! - no order at all (the process died between reserving and recording, or
//!   the write failed and the release did too): an orphan, released with its
//!   idempotency key forgotten so the buyer's retry can reserve again.
//!
//! The grace period must be far longer than an order write can take
//! (`ORDER_WRITE_TIMEOUT_MS`), so a write still in flight is never mistaken
//! for an orphan; the default is 60 s against a 3 s write bound.

use crate::clock::Clock;
use crate::gate::{GateKeys, ReservationRecord, StockGate};
use crate::payments::PaymentProvider;
use crate::store::{drops, orders};
use runtime::shutdown::CancellationToken;
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Pending orders expired per statement.
const SWEEP_BATCH: i64 = 500;
/// Reservation records read per HSCAN step.
const SCAN_PAGE: usize = 500;
/// Live drops read per page.
const DROP_PAGE: i64 = 500;

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

    /// Checks the reservation records older than `grace` of every live drop
    /// (paged through, however many there are) against PostgreSQL and
    /// releases those that hold nothing there.
    pub async fn reconcile(&self, grace: Duration) -> anyhow::Result<Reconciled> {
        let cutoff_ms = self.clock.now().timestamp_millis() - grace.as_millis() as i64;
        let mut done = Reconciled::default();
        let mut after = String::new();
        loop {
            let page = drops::live_page(&self.db, &after, DROP_PAGE).await?;
            for drop in &page {
                if drop.seating.is_some() {
                    self.reconcile_seats(&drop.id, cutoff_ms, &mut done).await?;
                } else if drop.stock_buckets > 1 {
                    let k = drop.stock_buckets as u32;
                    let now_ms = self.clock.now().timestamp_millis();
                    done.transfers_finished +=
                        self.gate.finish_transfers(&drop.id, k, now_ms).await?;
                    for b in 0..k {
                        let slot = self.gate.bucket_keys(&drop.id, b);
                        self.reconcile_drop(&drop.id, &slot, cutoff_ms, &mut done)
                            .await?;
                    }
                } else {
                    let slot = self.gate.keys(&drop.id);
                    self.reconcile_drop(&drop.id, &slot, cutoff_ms, &mut done)
                        .await?;
                }
            }
            match page.last() {
                Some(last) if page.len() as i64 == DROP_PAGE => after = last.id.clone(),
                _ => break,
            }
        }
        if done.stale_released + done.orphans_released + done.transfers_finished > 0 {
            tracing::warn!(?done, "reconciliation released units");
        }
        Ok(done)
    }

    /// A seated sale's ordered holds in Redis whose order PostgreSQL does not
    /// hold (the order's outcome was unknown, or its release never reached
    /// Redis): given back once their hold time plus the grace has passed.
    /// Holds not ordered need nothing: they lapse on their own.
    async fn reconcile_seats(
        &self,
        drop_id: &str,
        cutoff_ms: i64,
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        let mut cursor = 0;
        loop {
            let (next, records) = self.seats.holds_page(drop_id, cursor, SCAN_PAGE).await?;
            let old: Vec<Uuid> = records
                .iter()
                .filter(|(_, state, expires)| *state == 'o' && *expires <= cutoff_ms)
                .map(|(id, _, _)| *id)
                .collect();
            if !old.is_empty() {
                let statuses = crate::store::holds::order_statuses(&self.db, &old).await?;
                done.checked += old.len();
                for hold in old {
                    let holding = matches!(
                        statuses.get(&hold),
                        Some(Some(status)) if status == "pending" || status == "paid"
                    );
                    if holding {
                        continue;
                    }
                    let now = self.clock.now().timestamp_millis();
                    if self
                        .seats
                        .release(drop_id, hold, crate::seats::gate::ReleaseMode::Order, now)
                        .await?
                        > 0
                    {
                        tracing::warn!(%hold, drop = drop_id, "ordered hold without a holding order released");
                        done.stale_released += 1;
                    }
                }
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// The reservation records of one slot (a drop's, or one of its stock
    /// buckets').
    async fn reconcile_drop(
        &self,
        drop_id: &str,
        slot: &GateKeys,
        cutoff_ms: i64,
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        let mut cursor = 0;
        loop {
            let (next, records) = self
                .gate
                .reservations_page_in(slot, cursor, SCAN_PAGE)
                .await?;
            let old: Vec<ReservationRecord> = records
                .into_iter()
                .filter(|r| r.reserved_at_ms <= cutoff_ms)
                .collect();
            self.reconcile_records(drop_id, &old, done).await?;
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    async fn reconcile_records(
        &self,
        drop_id: &str,
        records: &[ReservationRecord],
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        if records.is_empty() {
            return Ok(());
        }
        let ids: Vec<_> = records.iter().map(|r| r.order_id).collect();
        let statuses = orders::statuses(&self.db, &ids).await?;
        done.checked += records.len();
        for record in records {
            match statuses.get(&record.order_id).map(String::as_str) {
                Some("pending" | "paid") => {}
                Some(_) => {
                    if self
                        .gate
                        .release_of(drop_id, &record.user, record.order_id, None)
                        .await?
                    {
                        done.stale_released += 1;
                    }
                }
                None => {
                    let tag = Some(record.idempotency_tag.as_str()).filter(|t| !t.is_empty());
                    if self
                        .gate
                        .release_of(drop_id, &record.user, record.order_id, tag)
                        .await?
                    {
                        tracing::warn!(order = %record.order_id, user = record.user, units = record.quantity, "orphan reservation released");
                        metrics::counter!("sale_orphans_released_total").increment(1);
                        done.orphans_released += 1;
                    }
                }
            }
        }
        Ok(())
    }
}

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Records checked (older than the grace period).
    pub checked: usize,
    /// Units of orders that stopped holding, released.
    pub stale_released: usize,
    /// Reservations without any order, released.
    pub orphans_released: usize,
    /// Stock transfers between buckets a dead process left half done,
    /// finished (see `crate::gate::buckets`).
    pub transfers_finished: usize,
}

/// How often the background loop does what.
#[derive(Debug, Clone, Copy)]
pub struct Periods {
    pub sweep_every: Duration,
    pub reconcile_every: Duration,
    pub grace: Duration,
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
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = sweep.tick() => {
                if let Err(error) = expiry.sweep().await {
                    tracing::debug!(%error, "expiry sweep failed; next tick retries");
                }
            }
            _ = reconcile_tick.tick() => {
                if let Err(error) = expiry.reconcile(periods.grace).await {
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
