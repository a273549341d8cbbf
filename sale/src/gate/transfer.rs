//! Moving units between the stock buckets of a drop (see `super::buckets`
//! (a)): a transfer is `lend.lua` in the donor's slot (debit, journalled),
//! `credit.lua` in the receiver's (at most once per transfer id) and
//! `settle.lua` back in the donor's (journal entry closed); the reconciler
//! finishes transfers a dead process left half done. Also the drop's mirror
//! of `sold` for the queue (`mirror.lua`).

use super::buckets::{BucketCounters, TRANSFER_GRACE_MS};
use super::{bounded, GateKeys, StockGate};
use std::sync::LazyLock;
use uuid::Uuid;

/// How long a bucket remembers the transfers it was credited with: far
/// longer than a journalled transfer waits for the reconciler.
const CREDITED_KEEP_MS: i64 = 24 * 3600 * 1000;

static LEND: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/lend.lua")));
static CREDIT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/credit.lua")));
static SETTLE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/settle.lua")));
static MIRROR: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/mirror.lua")));

impl StockGate {
    /// One transfer of up to `units` from bucket `from` to `to` (lend,
    /// credit, settle); the units credited.
    pub(super) async fn transfer(
        &self,
        drop_id: &str,
        from: u32,
        to: u32,
        units: i64,
        epoch: i64,
        now_ms: i64,
    ) -> redis::RedisResult<i64> {
        let (donor, receiver) = (
            self.bucket_keys(drop_id, from),
            self.bucket_keys(drop_id, to),
        );
        let id = Uuid::now_v7().to_string();
        let lent: i64 = bounded(
            LEND.prepare_invoke()
                .key(donor.drop())
                .key(donor.lent())
                .arg(&id)
                .arg(to)
                .arg(units)
                .arg(epoch)
                .arg(now_ms)
                .invoke_async(&mut self.redis.clone()),
        )
        .await?;
        if lent == 0 {
            return Ok(0);
        }
        metrics::counter!("sale_bucket_transfers_total").increment(1);
        metrics::counter!("sale_bucket_units_moved_total").increment(lent as u64);
        Ok(
            if self
                .credit(&donor, &receiver, &id, lent, epoch, now_ms)
                .await?
            {
                lent
            } else {
                0
            },
        )
    }

    /// Credits transfer `id` to `receiver` (at most once) and settles it in
    /// `donor`. False when the receiver is of another epoch (left to the
    /// rebuild, which wipes the journal).
    async fn credit(
        &self,
        donor: &GateKeys,
        receiver: &GateKeys,
        id: &str,
        units: i64,
        epoch: i64,
        now_ms: i64,
    ) -> redis::RedisResult<bool> {
        let credited: String = bounded(
            CREDIT
                .prepare_invoke()
                .key(receiver.drop())
                .key(receiver.credited())
                .arg(id)
                .arg(units)
                .arg(epoch)
                .arg(now_ms)
                .arg(CREDITED_KEEP_MS)
                .invoke_async(&mut self.redis.clone()),
        )
        .await?;
        if credited == "stale" {
            return Ok(false);
        }
        let _: i64 = bounded(
            SETTLE
                .prepare_invoke()
                .key(donor.drop())
                .key(donor.lent())
                .arg(id)
                .invoke_async(&mut self.redis.clone()),
        )
        .await?;
        Ok(true)
    }

    /// The reconciler's part: finishes transfers journalled before
    /// `now_ms - TRANSFER_GRACE_MS` (a process died mid-way), then sets the
    /// drop's mirror from the buckets. The transfers finished.
    pub async fn finish_transfers(
        &self,
        drop_id: &str,
        k: u32,
        now_ms: i64,
    ) -> redis::RedisResult<usize> {
        let mut finished = 0;
        for from in 0..k {
            let donor = self.bucket_keys(drop_id, from);
            let mut command = redis::cmd("HGETALL");
            command.arg(donor.lent());
            let entries: Vec<(String, String)> =
                bounded(command.query_async(&mut self.redis.clone())).await?;
            for (id, record) in entries {
                let mut fields = record.split('|').map(str::parse::<i64>);
                let (Some(Ok(to)), Some(Ok(units)), Some(Ok(epoch)), Some(Ok(at))) =
                    (fields.next(), fields.next(), fields.next(), fields.next())
                else {
                    continue;
                };
                if at > now_ms - TRANSFER_GRACE_MS || !(0..i64::from(k)).contains(&to) {
                    continue;
                }
                let receiver = self.bucket_keys(drop_id, to as u32);
                if self
                    .credit(&donor, &receiver, &id, units, epoch, now_ms)
                    .await?
                {
                    tracing::warn!(
                        drop = drop_id,
                        from,
                        to,
                        units,
                        "journalled stock transfer finished"
                    );
                    finished += 1;
                }
            }
        }
        let parts = self.bucket_counters(drop_id, k).await?;
        if let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() {
            self.mirror_set(drop_id, &parts).await;
        }
        Ok(finished)
    }

    /// Adds `units` to the drop's mirror of `sold` and takes `user` out of
    /// the shopping set. A failure is logged: the reconciler sets the
    /// mirror again, and the pump's own sweep drops stale shoppers.
    pub(super) async fn mirror_add(&self, drop_id: &str, units: i64, user: &str) {
        self.mirror(drop_id, "add", units, user).await;
    }

    /// Sets the drop's mirror of `sold` from the buckets' counters: the
    /// stock less what is free or in flight.
    pub(super) async fn mirror_set(&self, drop_id: &str, parts: &[BucketCounters]) {
        let stock: i64 = parts.iter().map(|p| p.stock).sum();
        let left: i64 = parts.iter().map(|p| p.free() + p.lending).sum();
        self.mirror(drop_id, "set", (stock - left).max(0), "").await;
    }

    async fn mirror(&self, drop_id: &str, mode: &str, units: i64, user: &str) {
        let keys = self.keys(drop_id);
        let done: redis::RedisResult<i64> = bounded(
            MIRROR
                .prepare_invoke()
                .key(keys.drop())
                .key(keys.shopping())
                .arg(mode)
                .arg(units)
                .arg(user)
                .invoke_async(&mut self.redis.clone()),
        )
        .await;
        if let Err(error) = done {
            tracing::warn!(%error, drop = drop_id, "stock bucket mirror not updated; the reconciler will");
        }
    }
}
