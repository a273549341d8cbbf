//! Stock buckets: one hot general-admission drop's stock split over K
//! Redis slots, so its orders are decided on up to K masters of a cluster
//! instead of one (`drops.stock_buckets`, 1 to 16; 1 is the plain drop).
//!
//! **Layout.** Bucket `b` of drop `d` is a whole gate of its own under the
//! hash tag `{d:b<b>}` (drop ids cannot hold `:`): a drop hash with the
//! drop's settings, `stock` = its even share of the drop's stock, `sold`,
//! and `moved` (net units borrowed), plus its `held`, reservations and
//! idempotency keys. A buyer's bucket is a stable hash of the user id
//! ([`bucket_of`]), so the per-user cap, the idempotency key and the units
//! are decided together by the same `reserve.lua`, in one call, in one slot.
//! The drop's own hash (`{d}`) keeps the settings, the bucket count and a
//! mirror of `sold` for the queue (see (b)).
//!
//! **(a) Borrowing, by journalled transfer.** When the home bucket answers
//! `sold_out`, stock moves *into* it and the reserve runs again there, so an
//! order always lives whole in its buyer's bucket (cap, release, rebuild
//! stay one-slot questions). A transfer is three one-slot scripts:
//! `lend.lua` debits the donor and journals `id -> to|units|epoch` in the
//! donor's slot (`lending` counts it); `credit.lua` credits the receiver at
//! most once per id (a zset of credited ids, kept a day); `settle.lua`
//! closes the journal entry. Dying anywhere leaves the units journalled,
//! never lost or doubled: the reconciler ([`StockGate::finish_transfers`])
//! credits (idempotently) and settles entries older than
//! [`TRANSFER_GRACE_MS`]. The other design (reserve in the donor, cap in
//! the home bucket, compensate on failure) would split one order over two
//! slots, and every release, expiry and rebuild would need both; a transfer
//! keeps all of them as they were. Donors lend half their free units (at
//! least what is missing), so a drained bucket borrows O(log stock) times.
//!
//! **(b) Sold out exact.** A buyer is refused `sold_out` only when the units
//! free over all buckets are fewer than asked and none is in flight
//! (`lending` 0), as seen by two reads of every bucket that agree field
//! for field (a double collect: a transfer between the reads shows as a
//! change). Units in flight answer `Moving` (503, retry), never `sold_out`.
//! The line is told through the drop's hash: each reservation adds to the
//! mirror `sold` (with the shopping set's `ZREM`, see (d)), each release
//! takes from it, and the sold-out decision sets it from the buckets at
//! once (`mirror.lua`); the reconciler sets it again every pass, so a
//! mirror off by a crash heals within one pass. The sale's own answers never
//! read the mirror.
//!
//! **(c) Expiry and cancel** release in the order's bucket (its user's):
//! the units go back where the order took them, and buyers of other
//! buckets borrow them from there. Nothing is stranded, so no undersell.
//!
//! **(d) The shopping set and revocations** live in the drop's slot, which a
//! bucket's script may not touch on a cluster. The order path checks
//! revocation first (`SISMEMBER` + `ZSCORE`, one pipelined round trip, as the
//! seated path does) and after a reservation runs `mirror.lua` (`ZREM` +
//! `HINCRBY`): two cheap extra calls on the drop's master per order,
//! against one script call per order on the bucket's. A revocation landing
//! between the check and the reserve is missed, as on the seated path.
//!
//! **(e) Rebuild.** Every bucket is loaded from PostgreSQL's holdings behind
//! the same epoch fence: each bucket gets its users' orders, and the units
//! free are spread evenly again (`moved` makes each bucket's stock its
//! holdings plus its share of what is left). Journals and credited ids are
//! wiped with the rest; a transfer never crosses epochs (`lend.lua` and
//! `credit.lua` check it), so a half-done transfer of an old epoch is
//! simply forgotten with the copy it belonged to.

use super::{bounded, GateKeys, Reservation, ReserveCall, StockGate};
use crate::gate::Refusal;

/// The most stock buckets a drop may have.
pub const MAX_BUCKETS: u32 = 16;
/// A journalled transfer older than this is finished by the reconciler.
pub const TRANSFER_GRACE_MS: i64 = 5_000;
/// Drops whose bucket count a process remembers (cleared when full).
const REMEMBERED_DROPS: usize = 100_000;

/// The bucket of `user` among `k`: FNV-1a of the user id, stable across
/// processes and releases.
pub fn bucket_of(user: &str, k: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(k.max(1))) as u32
}

/// Bucket `b`'s even share of `total` units over `k` buckets (the first
/// `total mod k` get one more; rises by one in one bucket per unit added).
pub fn share(total: i64, k: u32, b: u32) -> i64 {
    let k = i64::from(k.max(1));
    total / k + i64::from(i64::from(b) < total % k)
}

/// One bucket's counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketCounters {
    pub stock: i64,
    pub sold: i64,
    pub moved: i64,
    /// Units lent and not yet settled (in flight, or credited just now).
    pub lending: i64,
    pub epoch: i64,
}

impl BucketCounters {
    /// Units this bucket can still sell.
    pub fn free(&self) -> i64 {
        self.stock + self.moved - self.sold
    }
}

/// What a borrowing attempt came to.
enum Borrow {
    /// Units moved (or the picture changed): reserve again.
    Again,
    SoldOut,
    Moving,
    NotLoaded,
}

impl StockGate {
    /// The keys of bucket `b` of a drop.
    pub fn bucket_keys(&self, drop_id: &str, b: u32) -> GateKeys {
        GateKeys::new(&self.prefix, &format!("{drop_id}:b{b}"))
    }

    pub(super) fn remember_buckets(&self, drop_id: &str, k: u32) {
        let mut counts = self.bucket_counts.lock().unwrap_or_else(|e| e.into_inner());
        if counts.len() >= REMEMBERED_DROPS {
            counts.clear();
        }
        counts.insert(drop_id.to_string(), k);
    }

    /// How many stock buckets a drop has: remembered, else read from the
    /// drop's hash (once per process and drop; 1 while it is not loaded).
    pub async fn bucket_count(&self, drop_id: &str) -> redis::RedisResult<u32> {
        if let Some(k) = self
            .bucket_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(drop_id)
        {
            return Ok(*k);
        }
        let mut command = redis::cmd("HMGET");
        command
            .arg(self.keys(drop_id).drop())
            .arg("stock")
            .arg("buckets");
        let (stock, k): (Option<i64>, Option<u32>) =
            bounded(command.query_async(&mut self.redis.clone())).await?;
        let k = k.unwrap_or(1).clamp(1, MAX_BUCKETS);
        if stock.is_some() {
            self.remember_buckets(drop_id, k);
        }
        Ok(k)
    }

    /// Every bucket's counters (one pipeline per slot, concurrently);
    /// `None` for a bucket not loaded.
    pub async fn bucket_counters(
        &self,
        drop_id: &str,
        k: u32,
    ) -> redis::RedisResult<Vec<Option<BucketCounters>>> {
        let groups: Vec<redis::Pipeline> = (0..k)
            .map(|b| {
                let mut pipe = redis::pipe();
                pipe.hget(
                    self.bucket_keys(drop_id, b).drop(),
                    &["stock", "sold", "moved", "lending", "epoch"],
                );
                pipe
            })
            .collect();
        let replies = self.redis.query_groups(&groups).await?;
        replies
            .iter()
            .map(|reply| {
                let f: Vec<Option<i64>> = redis::from_redis_value(reply)?;
                let at = |i: usize| f.get(i).copied().flatten();
                Ok(match (at(0), at(1)) {
                    (Some(stock), Some(sold)) => Some(BucketCounters {
                        stock,
                        sold,
                        moved: at(2).unwrap_or(0),
                        lending: at(3).unwrap_or(0),
                        epoch: at(4).unwrap_or(0),
                    }),
                    _ => None,
                })
            })
            .collect()
    }

    /// The order path of a bucketed drop: revocation in the drop's slot,
    /// then the reserve in the buyer's bucket, borrowing into it while it
    /// is short and others are not (bounded), then the mirror.
    pub(super) async fn reserve_bucketed(
        &self,
        drop_id: &str,
        k: u32,
        call: &ReserveCall<'_>,
    ) -> redis::RedisResult<Reservation> {
        if self.is_revoked(drop_id, call.user, call.jti).await? {
            return Ok(Reservation::Refused(Refusal::Revoked));
        }
        let home = bucket_of(call.user, k);
        let slot = self.bucket_keys(drop_id, home);
        for _ in 0..2 * k + 2 {
            let reservation = self.reserve_in(&slot, &slot, call).await?;
            if reservation != Reservation::Refused(Refusal::SoldOut) {
                if let Reservation::Reserved { .. } = reservation {
                    self.mirror_add(drop_id, call.quantity, call.user).await;
                }
                return Ok(reservation);
            }
            match self
                .borrow(drop_id, k, home, call.quantity, call.now_ms)
                .await?
            {
                Borrow::Again => continue,
                Borrow::SoldOut => return Ok(reservation),
                Borrow::Moving => return Ok(Reservation::Moving),
                Borrow::NotLoaded => return Ok(Reservation::NotLoaded),
            }
        }
        Ok(Reservation::Moving)
    }

    /// Moves units into bucket `home` until it has `want` free, from the
    /// buckets with the most; or decides the drop is sold out (see (b)).
    async fn borrow(
        &self,
        drop_id: &str,
        k: u32,
        home: u32,
        want: i64,
        now_ms: i64,
    ) -> redis::RedisResult<Borrow> {
        let first = self.bucket_counters(drop_id, k).await?;
        let Some(parts) = first.iter().copied().collect::<Option<Vec<_>>>() else {
            return Ok(Borrow::NotLoaded);
        };
        let free: i64 = parts.iter().map(|p| p.free().max(0)).sum();
        if free < want {
            // The double collect: only a picture that held still decides.
            if self.bucket_counters(drop_id, k).await? != first {
                return Ok(Borrow::Again);
            }
            if parts.iter().any(|p| p.lending > 0) {
                return Ok(Borrow::Moving);
            }
            self.mirror_set(drop_id, &parts).await;
            metrics::counter!("sale_bucket_sold_out_checks_total").increment(1);
            return Ok(Borrow::SoldOut);
        }
        let receiver = parts[home as usize];
        let mut missing = want - receiver.free();
        let mut donors: Vec<(u32, BucketCounters)> = (0..k)
            .zip(parts.iter().copied())
            .filter(|(b, p)| *b != home && p.free() > 0)
            .collect();
        donors.sort_by_key(|(_, p)| std::cmp::Reverse(p.free()));
        for (donor, part) in donors {
            if missing <= 0 {
                break;
            }
            let units = missing.max((part.free() + 1) / 2).min(part.free());
            let moved = self
                .transfer(drop_id, donor, home, units, receiver.epoch, now_ms)
                .await?;
            missing -= moved;
        }
        Ok(Borrow::Again)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_add_up_and_rise_one_bucket_per_unit() {
        for k in 1..=MAX_BUCKETS {
            for total in 0..100 {
                let shares: Vec<i64> = (0..k).map(|b| share(total, k, b)).collect();
                assert_eq!(shares.iter().sum::<i64>(), total);
                let next: Vec<i64> = (0..k).map(|b| share(total + 1, k, b)).collect();
                let rises = shares.iter().zip(&next).filter(|(a, b)| b > a).count();
                assert_eq!(rises, 1);
                assert!(shares.iter().zip(&next).all(|(a, b)| b >= a));
            }
        }
    }

    #[test]
    fn users_spread_over_buckets_and_stay_put() {
        let mut seen = [0u32; 8];
        for n in 0..8_000 {
            let b = bucket_of(&format!("fan-{n}"), 8);
            assert_eq!(b, bucket_of(&format!("fan-{n}"), 8));
            seen[b as usize] += 1;
        }
        assert!(seen.iter().all(|&n| (800..1200).contains(&n)), "{seen:?}");
        assert_eq!(bucket_of("anyone", 1), 0);
    }
}
