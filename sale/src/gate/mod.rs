//! The Redis gate of a drop: the Lua scripts that reserve and release units,
//! each called through a typed wrapper, and the gate's own keys ([`GateKeys`])
//! on top of the keys shared with the queue (`admission::contract::keys`), all
//! under the drop's `{drop_id}` hash tag.
//!
//! - [`types`]: the keys, the records and what the scripts answer.
//! - [`load`]: loading a drop from PostgreSQL (create, sync, rebuild).
//! - [`revoke`]: revoking users and tokens, and the check before deciding.
//! - [`buckets`]: a hot drop's stock split over several slots (routing,
//!   borrowing, the exact sold-out); [`transfer`]: moving units between them.
//! - [`announce`]: what it tells the queue nodes (a drop changed, a user
//!   revoked).

mod announce;
pub mod buckets;
pub mod load;
pub mod revoke;
pub mod transfer;
pub mod types;

pub use types::{
    idempotency_tag, DropGateState, GateCounters, GateKeys, Holding, QueueCounters, Refusal,
    Reservation, ReservationRecord, SlotLoad,
};

use runtime::redis::{Redis, ScriptCall};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};
use uuid::Uuid;

static RESERVE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/reserve.lua")));
static RELEASE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/release.lua")));

/// How long a used idempotency key is remembered in Redis (PostgreSQL's unique
/// index remembers it for good).
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// The typed face of the drop scripts.
#[derive(Clone)]
pub struct StockGate {
    redis: Redis,
    prefix: Arc<str>,
    /// Drop id -> its number of stock buckets (fixed at creation), as
    /// learnt from a load or the drop's hash: routing costs no round trip.
    bucket_counts: Arc<Mutex<HashMap<String, u32>>>,
}

/// One reserve call's arguments (see [`StockGate::reserve`]).
pub(crate) struct ReserveCall<'a> {
    pub user: &'a str,
    pub jti: &'a str,
    pub quantity: i64,
    pub now_ms: i64,
    pub order_id: Uuid,
    pub idempotency_key: &'a str,
}

use runtime::redis::bounded;

fn reply_error(what: &str, reply: &str) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected script reply",
        format!("{what}: {reply:?}"),
    ))
}

/// `reserve.lua`'s answer (see its header), or `None` when it is not one.
fn parse_reservation(reply: &str) -> Option<Reservation> {
    let mut fields = reply.split('|');
    let number = |field: Option<&str>| field.and_then(|f| f.parse::<i64>().ok());
    let reservation = match fields.next()? {
        "ok" => {
            let _order_id = fields.next()?;
            Reservation::Reserved {
                remaining: number(fields.next())?,
                price_cents: number(fields.next())?,
                currency: fields.next()?.to_string(),
                timeout_secs: number(fields.next())?,
                epoch: number(fields.next())?,
            }
        }
        "dup" => Reservation::Duplicate {
            order_id: fields.next()?.parse().ok()?,
            quantity: number(fields.next())?,
        },
        "missing" => Reservation::NotLoaded,
        "err" => Reservation::Refused(match fields.next()? {
            "closed" => Refusal::Closed,
            "paused" => Refusal::Paused,
            "not_open" => Refusal::NotOpen,
            "invalid_quantity" => Refusal::InvalidQuantity,
            "cap_exceeded" => Refusal::CapExceeded,
            "sold_out" => Refusal::SoldOut,
            "seated" => Refusal::Seated,
            "revoked" => Refusal::Revoked,
            _ => return None,
        }),
        _ => return None,
    };
    fields.next().is_none().then_some(reservation)
}

impl StockGate {
    pub fn new(redis: Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
            bucket_counts: Arc::default(),
        }
    }

    pub fn keys(&self, drop_id: &str) -> GateKeys {
        GateKeys::new(&self.prefix, drop_id)
    }

    /// The Redis connection (for callers that batch their own commands).
    pub fn redis(&self) -> Redis {
        self.redis.clone()
    }

    /// Runs `reserve.lua`: checks revocation (of `user` and of the
    /// admission token `jti`), state, opening time, cap and stock, then
    /// reserves `quantity` units for `order_id` under the idempotency key.
    /// A drop with stock buckets reserves in the buyer's bucket and may
    /// borrow for it ([`buckets`]).
    #[allow(clippy::too_many_arguments)]
    pub async fn reserve(
        &self,
        drop_id: &str,
        user: &str,
        jti: &str,
        quantity: i64,
        now_ms: i64,
        order_id: Uuid,
        idempotency_key: &str,
    ) -> redis::RedisResult<Reservation> {
        let call = ReserveCall {
            user,
            jti,
            quantity,
            now_ms,
            order_id,
            idempotency_key,
        };
        let k = self.bucket_count(drop_id).await?;
        if k > 1 {
            return self.reserve_bucketed(drop_id, k, &call).await;
        }
        let keys = self.keys(drop_id);
        self.reserve_in(&keys, &keys, &call).await
    }

    /// One `reserve.lua` call on the stock of `slot` (a drop, or one of its
    /// buckets), with the shopping set and revocations of `side` (the same
    /// keys, or the bucket's own empty ones when the caller checks those).
    pub(crate) async fn reserve_in(
        &self,
        slot: &GateKeys,
        side: &GateKeys,
        call: &ReserveCall<'_>,
    ) -> redis::RedisResult<Reservation> {
        let ReserveCall {
            user,
            jti,
            quantity,
            now_ms,
            order_id,
            idempotency_key,
        } = *call;
        let tag = idempotency_tag(user, idempotency_key);
        let reply: String = bounded(
            ScriptCall::new(
                &RESERVE,
                &[
                    &slot.drop(),
                    &slot.held(),
                    &slot.reservations(),
                    &slot.idempotency_by_tag(&tag),
                    &side.shopping(),
                    &side.revoked_users(),
                    &side.revoked_tokens(),
                ],
            )
            .arg(user)
            .arg(quantity)
            .arg(now_ms)
            .arg_display(order_id.hyphenated())
            .arg(IDEMPOTENCY_TTL_SECS)
            .arg(&tag)
            .arg(jti)
            .invoke(&mut self.redis.clone()),
        )
        .await?;

        parse_reservation(&reply).ok_or_else(|| reply_error("reserve", &reply))
    }

    /// Runs `release.lua` in the drop's own slot: returns the order's units
    /// at most once. With `forget_tag` (see [`idempotency_tag`]), also
    /// forgets that idempotency key (used when the order was never
    /// recorded, so a retry may reserve again). True when units went back.
    /// For a drop that may have stock buckets use [`StockGate::release_of`].
    pub async fn release(
        &self,
        drop_id: &str,
        order_id: Uuid,
        forget_tag: Option<&str>,
    ) -> redis::RedisResult<bool> {
        Ok(self
            .release_in(&self.keys(drop_id), order_id, forget_tag)
            .await?
            > 0)
    }

    /// Releases `user`'s order where it was reserved: the drop's slot, or
    /// the user's stock bucket (the units go back to the bucket they were
    /// taken from; the drop's mirror follows). True when units went back.
    pub async fn release_of(
        &self,
        drop_id: &str,
        user: &str,
        order_id: Uuid,
        forget_tag: Option<&str>,
    ) -> redis::RedisResult<bool> {
        let k = self.bucket_count(drop_id).await?;
        if k <= 1 {
            return self.release(drop_id, order_id, forget_tag).await;
        }
        let slot = self.bucket_keys(drop_id, buckets::bucket_of(user, k));
        let units = self.release_in(&slot, order_id, forget_tag).await?;
        if units > 0 {
            self.mirror_add(drop_id, -units, "").await;
        }
        Ok(units > 0)
    }

    /// `release.lua` on one slot's keys; the units that went back.
    pub(crate) async fn release_in(
        &self,
        slot: &GateKeys,
        order_id: Uuid,
        forget_tag: Option<&str>,
    ) -> redis::RedisResult<i64> {
        bounded(
            ScriptCall::new(
                &RELEASE,
                &[
                    &slot.drop(),
                    &slot.held(),
                    &slot.reservations(),
                    &slot.idempotency_by_tag(forget_tag.unwrap_or("none")),
                ],
            )
            .arg_display(order_id.hyphenated())
            .arg(if forget_tag.is_some() {
                "forget"
            } else {
                "keep"
            })
            .invoke(&mut self.redis.clone()),
        )
        .await
    }

    /// One page of a drop's reservation records (HSCAN; `cursor` 0 starts,
    /// a returned 0 means done). Malformed entries are skipped.
    pub async fn reservations_page(
        &self,
        drop_id: &str,
        cursor: u64,
        count: usize,
    ) -> redis::RedisResult<(u64, Vec<ReservationRecord>)> {
        self.reservations_page_in(&self.keys(drop_id), cursor, count)
            .await
    }

    /// [`StockGate::reservations_page`] of one slot (a drop's, or one of
    /// its stock buckets').
    pub async fn reservations_page_in(
        &self,
        slot: &GateKeys,
        cursor: u64,
        count: usize,
    ) -> redis::RedisResult<(u64, Vec<ReservationRecord>)> {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("HSCAN");
        command
            .arg(slot.reservations())
            .arg(cursor)
            .arg("COUNT")
            .arg(count);
        let (next, flat): (u64, Vec<String>) = bounded(command.query_async(&mut redis)).await?;
        let records = flat
            .chunks_exact(2)
            .filter_map(|pair| ReservationRecord::parse(&pair[0], &pair[1]))
            .collect();
        Ok((next, records))
    }

    /// Of `order_ids`, the reservation records one slot still has (HMGET).
    pub async fn reservations_among(
        &self,
        slot: &GateKeys,
        order_ids: &[Uuid],
    ) -> redis::RedisResult<Vec<ReservationRecord>> {
        let fields: Vec<String> = order_ids.iter().map(Uuid::to_string).collect();
        let values = self
            .redis
            .hash_values(&slot.reservations(), &fields)
            .await?;
        Ok(fields
            .iter()
            .zip(values)
            .filter_map(|(field, value)| ReservationRecord::parse(field, &value?))
            .collect())
    }

    /// The drop's stock and sold counters, or `None` when it is not loaded.
    /// With stock buckets: summed over every bucket (`None` unless all are
    /// loaded), units in flight between buckets counted as not sold.
    pub async fn counters(&self, drop_id: &str) -> redis::RedisResult<Option<GateCounters>> {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("HMGET");
        command
            .arg(self.keys(drop_id).drop())
            .arg("stock")
            .arg("sold")
            .arg("buckets");
        let (stock, sold, k): (Option<i64>, Option<i64>, Option<u32>) =
            bounded(command.query_async(&mut redis)).await?;
        let (Some(stock), Some(sold)) = (stock, sold) else {
            return Ok(None);
        };
        let k = k.unwrap_or(1);
        if k <= 1 {
            return Ok(Some(GateCounters { stock, sold }));
        }
        self.remember_buckets(drop_id, k);
        let parts = self.bucket_counters(drop_id, k).await?;
        let Some(parts) = parts.into_iter().collect::<Option<Vec<_>>>() else {
            return Ok(None);
        };
        let left: i64 = parts.iter().map(|p| p.free() + p.lending).sum();
        Ok(Some(GateCounters {
            stock,
            sold: stock - left,
        }))
    }

    /// The counters of several drops in one round trip (a pipeline), in the
    /// order asked; `None` for a drop not loaded.
    pub async fn counters_many(
        &self,
        drop_ids: &[&str],
    ) -> redis::RedisResult<Vec<Option<GateCounters>>> {
        if drop_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One group per drop: a drop's keys share a slot, drops do not.
        let groups: Vec<redis::Pipeline> = drop_ids
            .iter()
            .map(|drop_id| {
                let mut pipe = redis::pipe();
                pipe.hget(self.keys(drop_id).drop(), &["stock", "sold"]);
                pipe
            })
            .collect();
        let replies = self.redis.query_groups(&groups).await?;
        replies
            .iter()
            .map(|reply| {
                let pair: (Option<i64>, Option<i64>) = redis::from_redis_value(reply)?;
                Ok(match pair {
                    (Some(stock), Some(sold)) => Some(GateCounters { stock, sold }),
                    _ => None,
                })
            })
            .collect()
    }

    /// Units each user holds, as Redis sees it.
    pub async fn held_by_user(&self, drop_id: &str) -> redis::RedisResult<Vec<(String, i64)>> {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("HGETALL");
        command.arg(self.keys(drop_id).held());
        bounded(command.query_async(&mut redis)).await
    }

    /// The waiting room's counters for a drop (kept by the queue service under
    /// the same prefix): waiting, admitted so far, admitted since `since_ms`.
    pub async fn queue_counters(
        &self,
        drop_id: &str,
        since_ms: i64,
    ) -> redis::RedisResult<QueueCounters> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        pipe.zcard(keys.line())
            .hget(keys.progress(), "admitted")
            .zcount(keys.shopping(), since_ms, "+inf");
        let (waiting, admitted, active): (u64, Option<u64>, u64) =
            bounded(pipe.query_async(&mut redis)).await?;
        Ok(QueueCounters {
            waiting,
            admitted: admitted.unwrap_or(0),
            active,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{parse_reservation, Refusal, Reservation};

    #[test]
    fn every_answer_of_reserve_lua_is_read_and_anything_else_is_not() {
        let id = "0192f0c8-7b3e-7c1e-9a4e-2f6d8b1a3c5d";
        assert_eq!(
            parse_reservation(&format!("ok|{id}|998|5000|EUR|3600|7")),
            Some(Reservation::Reserved {
                remaining: 998,
                price_cents: 5000,
                currency: "EUR".into(),
                timeout_secs: 3600,
                epoch: 7,
            })
        );
        assert_eq!(
            parse_reservation(&format!("dup|{id}|2")),
            Some(Reservation::Duplicate {
                order_id: id.parse().ok().unwrap_or_default(),
                quantity: 2,
            })
        );
        assert_eq!(parse_reservation("missing"), Some(Reservation::NotLoaded));
        assert_eq!(
            parse_reservation("err|sold_out"),
            Some(Reservation::Refused(Refusal::SoldOut))
        );
        assert_eq!(
            parse_reservation("err|revoked"),
            Some(Reservation::Refused(Refusal::Revoked))
        );
        for bad in [
            "",
            "ok",
            &format!("ok|{id}|998|5000|EUR|3600"),
            &format!("ok|{id}|998|5000|EUR|3600|7|extra"),
            &format!("ok|{id}|lots|5000|EUR|3600|7"),
            "dup|not-a-uuid|2",
            "err|unheard_of",
            "err",
            "missing|x",
            "yes",
        ] {
            assert_eq!(parse_reservation(bad), None, "{bad:?}");
        }
    }
}
