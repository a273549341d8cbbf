//! The Redis gate of a drop: the Lua scripts that reserve and release units,
//! each called through a typed wrapper, and the gate's own keys ([`GateKeys`])
//! on top of the keys shared with the queue (`admission::contract::keys`), all
//! under the drop's `{drop_id}` hash tag. `announce`: what it tells the
//! queue nodes (a drop changed, a user revoked); `types`: its vocabulary.

mod announce;
pub mod types;

pub use types::{
    idempotency_tag, DropGateState, GateCounters, GateKeys, Holding, QueueCounters, Refusal,
    Reservation, ReservationRecord,
};

use runtime::redis::Redis;
use std::sync::{Arc, LazyLock};
use uuid::Uuid;

static RESERVE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/reserve.lua")));
static RELEASE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/release.lua")));
static REVOKE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/revoke.lua")));
static LOAD_DROP: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/load_drop.lua")));

/// How long a used idempotency key is remembered in Redis (PostgreSQL's unique
/// index remembers it for good).
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// The typed face of the drop scripts.
#[derive(Clone)]
pub struct StockGate {
    redis: Redis,
    prefix: Arc<str>,
}

use runtime::redis::bounded;

fn reply_error(what: &str, reply: &[String]) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected script reply",
        format!("{what}: {reply:?}"),
    ))
}

impl StockGate {
    pub fn new(redis: Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
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
        let keys = self.keys(drop_id);
        let reply: Vec<String> = bounded(
            RESERVE
                .prepare_invoke()
                .key(keys.drop())
                .key(keys.held())
                .key(keys.reservations())
                .key(keys.idempotency(user, idempotency_key))
                .key(keys.shopping())
                .key(keys.revoked_users())
                .key(keys.revoked_tokens())
                .arg(user)
                .arg(quantity)
                .arg(now_ms)
                .arg(order_id.to_string())
                .arg(IDEMPOTENCY_TTL_SECS)
                .arg(idempotency_tag(user, idempotency_key))
                .arg(jti)
                .invoke_async(&mut self.redis.clone()),
        )
        .await?;

        let num = |i: usize| reply.get(i).and_then(|s| s.parse::<i64>().ok());
        match reply.first().map(String::as_str) {
            Some("ok") => match (num(2), num(3), reply.get(4), num(5), num(6)) {
                (
                    Some(remaining),
                    Some(price_cents),
                    Some(currency),
                    Some(timeout_secs),
                    Some(epoch),
                ) => Ok(Reservation::Reserved {
                    remaining,
                    price_cents,
                    currency: currency.clone(),
                    timeout_secs,
                    epoch,
                }),
                _ => Err(reply_error("reserve", &reply)),
            },
            Some("dup") => match (reply.get(1).and_then(|s| s.parse().ok()), num(2)) {
                (Some(order_id), Some(quantity)) => {
                    Ok(Reservation::Duplicate { order_id, quantity })
                }
                _ => Err(reply_error("reserve", &reply)),
            },
            Some("missing") => Ok(Reservation::NotLoaded),
            Some("err") => Ok(Reservation::Refused(
                match reply.get(1).map(String::as_str) {
                    Some("closed") => Refusal::Closed,
                    Some("paused") => Refusal::Paused,
                    Some("not_open") => Refusal::NotOpen,
                    Some("invalid_quantity") => Refusal::InvalidQuantity,
                    Some("cap_exceeded") => Refusal::CapExceeded,
                    Some("sold_out") => Refusal::SoldOut,
                    Some("seated") => Refusal::Seated,
                    Some("revoked") => Refusal::Revoked,
                    _ => return Err(reply_error("reserve", &reply)),
                },
            )),
            _ => Err(reply_error("reserve", &reply)),
        }
    }

    /// Runs `release.lua`: returns the order's units at most once. With
    /// `forget_tag` (see [`idempotency_tag`]), also forgets that idempotency
    /// key (used when the order was never recorded, so a retry may reserve
    /// again). True when units went back.
    pub async fn release(
        &self,
        drop_id: &str,
        order_id: Uuid,
        forget_tag: Option<&str>,
    ) -> redis::RedisResult<bool> {
        let keys = self.keys(drop_id);
        let released: i64 = bounded(
            RELEASE
                .prepare_invoke()
                .key(keys.drop())
                .key(keys.held())
                .key(keys.reservations())
                .key(keys.idempotency_by_tag(forget_tag.unwrap_or("none")))
                .arg(order_id.to_string())
                .arg(if forget_tag.is_some() {
                    "forget"
                } else {
                    "keep"
                })
                .invoke_async(&mut self.redis.clone()),
        )
        .await?;

        Ok(released == 1)
    }

    fn revoke_call(
        &self,
        drop_id: &str,
        mode: &str,
        subject: &str,
    ) -> redis::ScriptInvocation<'static> {
        let keys = self.keys(drop_id);
        let mut invocation = REVOKE.prepare_invoke();
        invocation
            .key(keys.revoked_users())
            .key(keys.revoked_tokens())
            .key(keys.line())
            .key(keys.alive())
            .key(keys.admitted())
            .key(keys.shopping())
            .arg(mode)
            .arg(subject);
        invocation
    }

    /// Revokes `user` in one drop (`revoke.lua`): refused by the queue's join
    /// and this service's reserve from now on, and their place (in the line,
    /// admitted or shopping) is gone. True when something changed.
    pub async fn revoke_user(&self, drop_id: &str, user: &str) -> redis::RedisResult<bool> {
        let mut invocation = self.revoke_call(drop_id, "user", user);
        invocation.arg(admission::contract::keys::ALIVE_BUCKETS);
        let changed: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        self.announce_revoked(drop_id, user).await;
        Ok(changed == 1)
    }

    /// Lifts a user's revocation in one drop (they may join again).
    pub async fn lift_user(&self, drop_id: &str, user: &str) -> redis::RedisResult<bool> {
        let invocation = self.revoke_call(drop_id, "lift", user);
        let changed: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(changed == 1)
    }

    /// Revokes one admission token of a drop until `expires_ms`.
    pub async fn revoke_token(
        &self,
        drop_id: &str,
        jti: &str,
        expires_ms: i64,
        now_ms: i64,
    ) -> redis::RedisResult<bool> {
        let mut invocation = self.revoke_call(drop_id, "jti", jti);
        invocation.arg(expires_ms).arg(now_ms);
        let changed: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(changed == 1)
    }

    /// True when `user` or the admission token `jti` is revoked in this
    /// drop. The unseated order path checks this inside `reserve.lua`; the
    /// seated one (holds, ordering a hold) asks here first, one round trip.
    pub async fn is_revoked(
        &self,
        drop_id: &str,
        user: &str,
        jti: &str,
    ) -> redis::RedisResult<bool> {
        let keys = self.keys(drop_id);
        let mut pipe = redis::pipe();
        pipe.sismember(keys.revoked_users(), user)
            .zscore(keys.revoked_tokens(), jti);
        let (user_revoked, token): (bool, Option<f64>) =
            bounded(pipe.query_async(&mut self.redis.clone())).await?;
        Ok(user_revoked || token.is_some())
    }

    /// Copies revocations (from PostgreSQL) into a drop just loaded into
    /// Redis: revoked users, and tokens with their expiry (ms). Adds only.
    pub async fn load_revocations(
        &self,
        drop_id: &str,
        users: &[String],
        tokens: &[(String, i64)],
    ) -> redis::RedisResult<()> {
        let keys = self.keys(drop_id);
        for chunk in users.chunks(1_000) {
            let mut command = redis::cmd("SADD");
            command.arg(keys.revoked_users()).arg(chunk);
            bounded(command.query_async::<()>(&mut self.redis.clone())).await?;
        }
        for chunk in tokens.chunks(1_000) {
            let mut command = redis::cmd("ZADD");
            command.arg(keys.revoked_tokens());
            for (jti, expires_ms) in chunk {
                command.arg(*expires_ms).arg(jti);
            }
            bounded(command.query_async::<()>(&mut self.redis.clone())).await?;
        }
        Ok(())
    }

    /// One page of a drop's reservation records (HSCAN; `cursor` 0 starts,
    /// a returned 0 means done). Malformed entries are skipped.
    pub async fn reservations_page(
        &self,
        drop_id: &str,
        cursor: u64,
        count: usize,
    ) -> redis::RedisResult<(u64, Vec<ReservationRecord>)> {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("HSCAN");
        command
            .arg(self.keys(drop_id).reservations())
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

    async fn load(
        &self,
        drop_id: &str,
        mode: &str,
        drop: &DropGateState,
        holdings: &[Holding],
    ) -> redis::RedisResult<bool> {
        let keys = self.keys(drop_id);
        let mut invocation = LOAD_DROP.prepare_invoke();
        invocation
            .key(keys.drop())
            .key(keys.held())
            .key(keys.reservations())
            .arg(mode)
            .arg(drop.stock)
            .arg(drop.state.as_str())
            .arg(drop.opens_at_ms)
            .arg(drop.cap)
            .arg(drop.price_cents)
            .arg(&drop.currency)
            .arg(drop.timeout_secs)
            .arg(drop.version)
            .arg(holdings.iter().map(|h| i64::from(h.quantity)).sum::<i64>())
            .arg(drop.epoch)
            .arg(if drop.seated { "1" } else { "0" })
            .arg(drop.hold_ms);
        for holding in holdings {
            invocation
                .arg(holding.order_id.to_string())
                .arg(&holding.user_id)
                .arg(holding.quantity);
        }
        let wrote: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(wrote == 1)
    }

    /// Loads a new drop (no holdings yet). No-op when already loaded.
    pub async fn create(&self, drop_id: &str, drop: &DropGateState) -> redis::RedisResult<bool> {
        self.load(drop_id, "create", drop, &[]).await
    }

    /// Updates the settings of a loaded drop; stock only ever rises here.
    pub async fn sync(&self, drop_id: &str, drop: &DropGateState) -> redis::RedisResult<bool> {
        self.load(drop_id, "sync", drop, &[]).await
    }

    /// Rebuilds a drop missing from Redis from PostgreSQL's holdings. Exactly one
    /// of several racing callers writes; the others find it loaded.
    pub async fn rebuild(
        &self,
        drop_id: &str,
        drop: &DropGateState,
        holdings: &[Holding],
    ) -> redis::RedisResult<bool> {
        self.load(drop_id, "rebuild", drop, holdings).await
    }

    /// The drop's stock and sold counters, or `None` when it is not loaded.
    pub async fn counters(&self, drop_id: &str) -> redis::RedisResult<Option<GateCounters>> {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("HMGET");
        command
            .arg(self.keys(drop_id).drop())
            .arg("stock")
            .arg("sold");
        let (stock, sold): (Option<i64>, Option<i64>) =
            bounded(command.query_async(&mut redis)).await?;
        Ok(match (stock, sold) {
            (Some(stock), Some(sold)) => Some(GateCounters { stock, sold }),
            _ => None,
        })
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
