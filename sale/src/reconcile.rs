//! Reconciliation: Redis's reservation records against PostgreSQL's orders.
//!
//! Every reservation record in Redis older than the grace period is checked
//! against PostgreSQL:
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
//!
//! **Full passes, scans and the passes between.** A full pass
//! ([`Expiry::reconcile`]) reads every record in Redis and looks every one
//! past the grace up in PostgreSQL: for a sale holding 100,000 orders,
//! 100,000 lookups, for the hour the orders live. The background loop
//! ([`Expiry::reconcile_since`]) makes a full pass only on a process's first
//! pass and every `RECONCILE_FULL_EVERY_SECS`, and otherwise:
//! - every pass: reads the orders that stopped holding in PostgreSQL since
//!   the last one (`orders_ended_by_time`, paged, from [`ENDED_MARGIN`]
//!   before its reading, for transactions still committing then) and
//!   releases what Redis still holds for them, found by id (HMGET): a lost
//!   release is mended within a pass, and no other record is read for it;
//!   and finishes the bucket transfers a dead process left half done;
//! - every `RECONCILE_SCAN_EVERY_SECS`: reads every record in Redis (HSCAN)
//!   and looks up those that crossed the grace since the last scan, once
//!   each: an order absent then stays absent, as no write outlives the
//!   grace. An orphan is released within the grace plus this.
//!
//! What the passes between cannot see (a reserving node whose clock lags
//! the reconciler's by about the grace, an order ended by hand without
//! `updated_at` or by a transaction longer than the margin, a record
//! rebuilt from PostgreSQL, dated 0, whose order is still holding) waits
//! for the next full pass: units held too long, an undersell, never an
//! oversell.
//!
//! One module of some 450 lines: the three kinds of pass share their
//! tally, their page sizes and the releases, and read best together.

use crate::expiry::Expiry;
use crate::gate::{buckets, GateKeys, ReservationRecord};
use crate::store::drops;
use crate::store::orders::{self, EndedOrder};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, HashSet};
use std::time::Duration;
use uuid::Uuid;

/// Reservation records read per HSCAN or HMGET step.
const SCAN_PAGE: usize = 500;
/// Live drops read per page.
const DROP_PAGE: i64 = 500;
/// How far before the last pass's reading the orders that stopped holding
/// are read again: longer than any transaction ending an order takes to
/// commit (its `updated_at` is its start; a longer one waits for the
/// next full pass).
pub const ENDED_MARGIN: Duration = Duration::from_secs(60);

/// How the background reconciler paces its work.
#[derive(Debug, Clone, Copy)]
pub struct Cadence {
    /// A reservation younger than this is never taken for an orphan.
    pub grace: Duration,
    /// How often every record in Redis is read for orphans.
    pub scan_every: Duration,
    /// How often every record past the grace is looked up.
    pub full_every: Duration,
}

/// What the background reconciler remembers between passes, in memory: a
/// restarted process starts with a full pass.
#[derive(Debug, Default, Clone)]
pub struct Watermark {
    /// Records that crossed the grace at or before this (ms, the sale's
    /// clock) have been looked up once.
    checked_through_ms: Option<i64>,
    /// When the last scan and the last full pass began (ms, the sale's clock).
    last_scan_ms: Option<i64>,
    last_full_ms: Option<i64>,
    /// PostgreSQL's time when the last pass read the orders that stopped
    /// holding, and the ones it read (handled; read again in the margin).
    ended_read_at: Option<DateTime<Utc>>,
    ended_handled: HashSet<Uuid>,
}

/// Which records a scan looks up in PostgreSQL.
struct Scope {
    /// Records at or before this (ms) are past the grace.
    cutoff_ms: i64,
    /// Only records past the grace after this were not looked up yet;
    /// `None`: none were.
    checked_through_ms: Option<i64>,
}

impl Scope {
    /// Whether a record dated `at_ms` is due its lookup.
    fn due(&self, at_ms: i64) -> bool {
        at_ms <= self.cutoff_ms && self.checked_through_ms.is_none_or(|after| at_ms > after)
    }
}

impl Expiry {
    /// A full pass: checks the reservation records older than `grace` of
    /// every live drop (paged through, however many there are) against
    /// PostgreSQL and releases those that hold nothing there.
    pub async fn reconcile(&self, grace: Duration) -> anyhow::Result<Reconciled> {
        let cutoff_ms = self.clock.now().timestamp_millis() - grace.as_millis() as i64;
        let scope = Scope {
            cutoff_ms,
            checked_through_ms: None,
        };
        let mut done = Reconciled {
            full: true,
            scanned: true,
            ..Reconciled::default()
        };
        self.pass(Some(&scope), &mut done).await?;
        Ok(done)
    }

    /// The background loop's pass (see the module header): the orders
    /// ended since the pass `mark` remembers, released by id, then a scan
    /// or a full pass when the cadence says one is due (or else only the
    /// bucket transfers a dead process left). Each part moves its own side
    /// of `mark` when it succeeds, so a scan that fails (a drop's Redis
    /// down) holds back neither the releases by id nor the next try.
    pub async fn reconcile_since(
        &self,
        mark: &mut Watermark,
        cadence: &Cadence,
    ) -> anyhow::Result<Reconciled> {
        let mut done = Reconciled::default();
        let since = mark.ended_read_at.map(|at| at - ENDED_MARGIN);
        let ended = orders::ended_since(&self.db, since).await?;
        let fresh: Vec<&EndedOrder> = ended
            .orders
            .iter()
            .filter(|o| !mark.ended_handled.contains(&o.id))
            .collect();
        self.release_ended(&fresh, &mut done).await?;
        mark.ended_read_at = Some(ended.read_at);
        mark.ended_handled = ended.orders.iter().map(|o| o.id).collect();

        let now_ms = self.clock.now().timestamp_millis();
        let cutoff_ms = now_ms - cadence.grace.as_millis() as i64;
        // A clock stepped back counts as lapsed, not as "not yet".
        let lapsed = |last: Option<i64>, every: Duration| {
            last.is_none_or(|at| now_ms < at || now_ms - at >= every.as_millis() as i64)
        };
        done.full =
            mark.checked_through_ms.is_none() || lapsed(mark.last_full_ms, cadence.full_every);
        done.scanned = done.full || lapsed(mark.last_scan_ms, cadence.scan_every);
        let scope = done.scanned.then_some(Scope {
            cutoff_ms,
            checked_through_ms: mark.checked_through_ms.filter(|_| !done.full),
        });
        self.pass(scope.as_ref(), &mut done).await?;
        if done.scanned {
            mark.checked_through_ms = Some(cutoff_ms.max(mark.checked_through_ms.unwrap_or(0)));
            mark.last_scan_ms = Some(now_ms);
        }
        if done.full {
            mark.last_full_ms = Some(now_ms);
        }
        metrics::counter!("sale_reconcile_lookups_total").increment(done.checked as u64);
        tracing::debug!(?done, "reconciliation pass");
        Ok(done)
    }

    /// Releases what Redis still holds for orders that stopped holding in
    /// PostgreSQL (their release was lost), found by id, drop by drop.
    async fn release_ended(
        &self,
        ended: &[&EndedOrder],
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        let mut by_drop: BTreeMap<&str, Vec<&EndedOrder>> = BTreeMap::new();
        for order in ended {
            by_drop.entry(&order.drop_id).or_default().push(order);
        }
        for (drop_id, ended) in by_drop {
            let holds: Vec<Uuid> = ended.iter().filter_map(|o| o.hold_id).collect();
            for page in holds.chunks(SCAN_PAGE) {
                let ordered = self.seats.ordered_holds_among(drop_id, page).await?;
                self.release_holds(drop_id, ordered, done).await?;
            }
            let stock: Vec<&&EndedOrder> = ended.iter().filter(|o| o.hold_id.is_none()).collect();
            if stock.is_empty() {
                continue;
            }
            let k = self.gate.bucket_count(drop_id).await?;
            let mut by_slot: BTreeMap<u32, Vec<Uuid>> = BTreeMap::new();
            for order in stock {
                let bucket = if k > 1 {
                    buckets::bucket_of(&order.user_id, k)
                } else {
                    0
                };
                by_slot.entry(bucket).or_default().push(order.id);
            }
            for (bucket, ids) in by_slot {
                let slot = if k > 1 {
                    self.gate.bucket_keys(drop_id, bucket)
                } else {
                    self.gate.keys(drop_id)
                };
                for page in ids.chunks(SCAN_PAGE) {
                    for record in self.gate.reservations_among(&slot, page).await? {
                        self.release_stale(drop_id, &record, done).await?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Every live drop: the bucket transfers a dead process left half
    /// done, and with a `scope` the records it makes due.
    async fn pass(&self, scope: Option<&Scope>, done: &mut Reconciled) -> anyhow::Result<()> {
        let mut after = String::new();
        loop {
            let page = drops::live_page(&self.db, &after, DROP_PAGE).await?;
            for drop in &page {
                let k = drop.stock_buckets.max(1) as u32;
                if drop.seating.is_none() && k > 1 {
                    let now_ms = self.clock.now().timestamp_millis();
                    done.transfers_finished +=
                        self.gate.finish_transfers(&drop.id, k, now_ms).await?;
                }
                let Some(scope) = scope else { continue };
                if drop.seating.is_some() {
                    self.reconcile_seats(&drop.id, scope, done).await?;
                } else if k > 1 {
                    for b in 0..k {
                        let slot = self.gate.bucket_keys(&drop.id, b);
                        self.reconcile_drop(&drop.id, &slot, scope, done).await?;
                    }
                } else {
                    let slot = self.gate.keys(&drop.id);
                    self.reconcile_drop(&drop.id, &slot, scope, done).await?;
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
        Ok(())
    }

    /// A seated sale's ordered holds in Redis whose order PostgreSQL does not
    /// hold (the order's outcome was unknown, or its release never reached
    /// Redis): given back once their hold time plus the grace has passed.
    /// Holds not ordered need nothing: they lapse on their own.
    async fn reconcile_seats(
        &self,
        drop_id: &str,
        scope: &Scope,
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        let mut cursor = 0;
        loop {
            let (next, records) = self.seats.holds_page(drop_id, cursor, SCAN_PAGE).await?;
            let due: Vec<Uuid> = records
                .iter()
                .filter(|(_, state, expires)| *state == 'o' && scope.due(*expires))
                .map(|(id, _, _)| *id)
                .collect();
            if !due.is_empty() {
                let statuses = crate::store::holds::order_statuses(&self.db, &due).await?;
                done.checked += due.len();
                let ended = due.into_iter().filter(|hold| {
                    !matches!(
                        statuses.get(hold),
                        Some(Some(status)) if status == "pending" || status == "paid"
                    )
                });
                self.release_holds(drop_id, ended, done).await?;
            }
            if next == 0 {
                return Ok(());
            }
            cursor = next;
        }
    }

    /// Gives back ordered holds whose order stopped holding (or never was).
    async fn release_holds(
        &self,
        drop_id: &str,
        holds: impl IntoIterator<Item = Uuid>,
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        for hold in holds {
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
        Ok(())
    }

    /// The reservation records of one slot (a drop's, or one of its stock
    /// buckets').
    async fn reconcile_drop(
        &self,
        drop_id: &str,
        slot: &GateKeys,
        scope: &Scope,
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        let mut cursor = 0;
        loop {
            let (next, records) = self
                .gate
                .reservations_page_in(slot, cursor, SCAN_PAGE)
                .await?;
            let due: Vec<ReservationRecord> = records
                .into_iter()
                .filter(|r| scope.due(r.reserved_at_ms))
                .collect();
            self.reconcile_records(drop_id, &due, done).await?;
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
                Some(_) => self.release_stale(drop_id, record, done).await?,
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

    /// Gives back the units of an order that stopped holding in PostgreSQL
    /// (its idempotency key stays: a retry is answered with that order).
    async fn release_stale(
        &self,
        drop_id: &str,
        record: &ReservationRecord,
        done: &mut Reconciled,
    ) -> anyhow::Result<()> {
        if self
            .gate
            .release_of(drop_id, &record.user, record.order_id, None)
            .await?
        {
            done.stale_released += 1;
        }
        Ok(())
    }
}

/// What one reconciliation pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Reconciled {
    /// Whether every record past the grace was looked up (a full pass).
    pub full: bool,
    /// Whether every record in Redis was read (a full pass or a scan).
    pub scanned: bool,
    /// Records looked up in PostgreSQL.
    pub checked: usize,
    /// Units of orders that stopped holding, released.
    pub stale_released: usize,
    /// Reservations without any order, released.
    pub orphans_released: usize,
    /// Stock transfers between buckets a dead process left half done,
    /// finished (see `crate::gate::buckets`).
    pub transfers_finished: usize,
}
