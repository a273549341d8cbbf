//! The Redis side of a seated sale: the seat scripts (`scripts/hold.lua`,
//! `release_hold.lua`, `order_hold.lua`, `lapse.lua`, `load_seats.lua`,
//! `seat_snapshot.lua`, each with `seats_lib.lua` prepended), called through
//! typed wrappers, and their keys ([`SeatKeys`]).
//!
//! The reads a seat map needs (snapshot, live holds, the change log) are in
//! [`reads`].

use crate::gate::GateKeys;
use runtime::redis::bounded;
use std::sync::{Arc, LazyLock};
use uuid::Uuid;

mod reads;

macro_rules! seat_script {
    ($file:literal) => {
        LazyLock::new(|| {
            redis::Script::new(concat!(
                include_str!("../../scripts/seats_lib.lua"),
                "\n",
                include_str!(concat!("../../scripts/", $file))
            ))
        })
    };
}

static HOLD: LazyLock<redis::Script> = seat_script!("hold.lua");
static RELEASE: LazyLock<redis::Script> = seat_script!("release_hold.lua");
static ORDER: LazyLock<redis::Script> = seat_script!("order_hold.lua");
static LAPSE: LazyLock<redis::Script> = seat_script!("lapse.lua");
static LOAD: LazyLock<redis::Script> = seat_script!("load_seats.lua");
static SNAPSHOT: LazyLock<redis::Script> = seat_script!("seat_snapshot.lua");

/// How many changes the log keeps (about): a seat map that falls further
/// behind reloads its snapshot.
pub const LOG_LENGTH: u64 = 50_000;
/// How long a used hold idempotency key is remembered in Redis.
pub const IDEMPOTENCY_TTL_SECS: u64 = 24 * 3600;

/// The Redis keys of a seated sale, in the order every seat script takes.
#[derive(Debug, Clone)]
pub struct SeatKeys(GateKeys);

impl SeatKeys {
    pub fn new(prefix: &str, drop_id: &str) -> Self {
        Self(GateKeys::new(prefix, drop_id))
    }
    pub fn owners(&self) -> String {
        self.0.key("seat:owner")
    }
    pub fn holds(&self) -> String {
        self.0.key("seat:holds")
    }
    pub fn user_holds(&self) -> String {
        self.0.key("seat:user")
    }
    pub fn expiry(&self) -> String {
        self.0.key("seat:expiry")
    }
    pub fn version(&self) -> String {
        self.0.key("seat:version")
    }
    pub fn log(&self) -> String {
        self.0.key("seat:log")
    }
    /// A hold request's idempotency key (by its tag).
    pub fn idempotency(&self, tag: &str) -> String {
        self.0.key(&format!("idem:hold:{tag}"))
    }

    /// KEYS[1..9] of every seat script.
    fn invocation<'a>(
        &self,
        script: &'a redis::Script,
        idempotency_tag: &str,
    ) -> redis::ScriptInvocation<'a> {
        let mut invocation = script.prepare_invoke();
        invocation
            .key(self.0.drop())
            .key(self.owners())
            .key(self.holds())
            .key(self.user_holds())
            .key(self.expiry())
            .key(self.version())
            .key(self.log())
            .key(self.0.shopping())
            .key(self.idempotency(idempotency_tag));
        invocation
    }
}

/// What holding seats led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    Held {
        expires_ms: i64,
        epoch: i64,
        version: i64,
    },
    /// The idempotency key was used before: that hold.
    Duplicate(Uuid),
    NotLoaded,
    /// These seat indices are held or sold; nothing was held.
    Taken(Vec<u32>),
    Refused(HoldRefusal),
}

/// Why the gate refused a hold or an order of a hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HoldRefusal {
    Closed,
    Paused,
    NotOpen,
    NotSeated,
    CapExceeded,
    UnknownHold,
    Lapsed,
    /// An operator revoked the fan or the admission token (checked before
    /// the seat scripts run, see `StockGate::is_revoked`).
    Revoked,
}

/// What ordering a hold led to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ordered {
    Ordered {
        seats: i64,
        epoch: i64,
    },
    /// Ordered before (a retry): that order.
    Already(String),
    NotLoaded,
    Refused(HoldRefusal),
}

/// How a hold is given back (see `release_hold.lua`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseMode<'a> {
    /// Its fan gives it up.
    User(&'a str),
    /// Only if past its expiry.
    Lapse,
    /// Its order ended (expired, cancelled, refunded).
    Order,
    /// PostgreSQL never recorded it: its idempotency key is forgotten too.
    Unrecorded { tag: &'a str },
}

/// A hold as the rebuild loads it.
#[derive(Debug, Clone)]
pub struct LoadedHold {
    pub id: Uuid,
    pub user: String,
    pub expires_ms: i64,
    pub ordered: bool,
    pub seats: Vec<u32>,
}

/// Every seat's owner and every hold's record, at a version.
#[derive(Debug, Clone, Default)]
pub struct RawSnapshot {
    pub version: i64,
    pub owners: Vec<(u32, String)>,
    pub holds: Vec<(String, String)>,
}

fn unexpected(what: &str, reply: &[redis::Value]) -> redis::RedisError {
    redis::RedisError::from((
        redis::ErrorKind::TypeError,
        "unexpected seat script reply",
        format!("{what}: {reply:?}"),
    ))
}

fn text(value: Option<&redis::Value>) -> Option<String> {
    value.and_then(|v| redis::from_redis_value::<String>(v).ok())
}

fn number(value: Option<&redis::Value>) -> Option<i64> {
    value.and_then(|v| redis::from_redis_value::<i64>(v).ok())
}

fn refusal(code: Option<String>) -> Option<HoldRefusal> {
    Some(match code.as_deref()? {
        "closed" => HoldRefusal::Closed,
        "paused" => HoldRefusal::Paused,
        "not_open" => HoldRefusal::NotOpen,
        "not_seated" => HoldRefusal::NotSeated,
        "cap_exceeded" => HoldRefusal::CapExceeded,
        "unknown_hold" => HoldRefusal::UnknownHold,
        "lapsed" => HoldRefusal::Lapsed,
        _ => return None,
    })
}

/// The typed face of the seat scripts.
#[derive(Clone)]
pub struct SeatGate {
    redis: runtime::redis::Redis,
    prefix: Arc<str>,
}

impl SeatGate {
    pub fn new(redis: runtime::redis::Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
        }
    }

    pub fn keys(&self, drop_id: &str) -> SeatKeys {
        SeatKeys::new(&self.prefix, drop_id)
    }

    /// Runs `hold.lua` for `seats` (indices, distinct, on sale).
    pub async fn hold(
        &self,
        drop_id: &str,
        user: &str,
        now_ms: i64,
        hold_id: Uuid,
        idempotency_tag: &str,
        seats: &[u32],
    ) -> redis::RedisResult<Held> {
        let keys = self.keys(drop_id);
        let mut invocation = keys.invocation(&HOLD, idempotency_tag);
        invocation
            .arg(user)
            .arg(now_ms)
            .arg(hold_id.to_string())
            .arg(IDEMPOTENCY_TTL_SECS)
            .arg(idempotency_tag)
            .arg(LOG_LENGTH);
        for seat in seats {
            invocation.arg(seat);
        }
        let reply: Vec<redis::Value> =
            bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        match text(reply.first()).as_deref() {
            Some("ok") => match (
                number(reply.get(2)),
                number(reply.get(3)),
                number(reply.get(4)),
            ) {
                (Some(expires_ms), Some(epoch), Some(version)) => Ok(Held::Held {
                    expires_ms,
                    epoch,
                    version,
                }),
                _ => Err(unexpected("hold", &reply)),
            },
            Some("dup") => text(reply.get(1))
                .and_then(|id| id.parse().ok())
                .map(Held::Duplicate)
                .ok_or_else(|| unexpected("hold", &reply)),
            Some("missing") => Ok(Held::NotLoaded),
            Some("taken") => Ok(Held::Taken(
                reply[1..]
                    .iter()
                    .filter_map(|v| number(Some(v)))
                    .map(|n| n as u32)
                    .collect(),
            )),
            Some("err") => refusal(text(reply.get(1)))
                .map(Held::Refused)
                .ok_or_else(|| unexpected("hold", &reply)),
            _ => Err(unexpected("hold", &reply)),
        }
    }

    /// Runs `release_hold.lua`: the seats given back (0: nothing was held
    /// that way).
    pub async fn release(
        &self,
        drop_id: &str,
        hold_id: Uuid,
        mode: ReleaseMode<'_>,
        now_ms: i64,
    ) -> redis::RedisResult<i64> {
        let keys = self.keys(drop_id);
        let (mode, user, tag) = match mode {
            ReleaseMode::User(user) => ("user", user, ""),
            ReleaseMode::Lapse => ("lapse", "", ""),
            ReleaseMode::Order => ("order", "", ""),
            ReleaseMode::Unrecorded { tag } => ("unrecorded", "", tag),
        };
        let mut invocation = keys.invocation(&RELEASE, tag);
        invocation
            .arg(hold_id.to_string())
            .arg(mode)
            .arg(now_ms)
            .arg(user)
            .arg(LOG_LENGTH);
        let reply: Vec<i64> = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(reply.first().copied().unwrap_or(0))
    }

    /// Runs `order_hold.lua` (`revert`: the order was not recorded).
    pub async fn order(
        &self,
        drop_id: &str,
        hold_id: Uuid,
        user: &str,
        now_ms: i64,
        order_id: Uuid,
        revert: bool,
    ) -> redis::RedisResult<Ordered> {
        let keys = self.keys(drop_id);
        let mut invocation = keys.invocation(&ORDER, "none");
        invocation
            .arg(hold_id.to_string())
            .arg(user)
            .arg(now_ms)
            .arg(order_id.to_string())
            .arg(if revert { "revert" } else { "order" })
            .arg(LOG_LENGTH);
        let reply: Vec<redis::Value> =
            bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        match text(reply.first()).as_deref() {
            Some("ok") => match (number(reply.get(1)), number(reply.get(2))) {
                (Some(seats), Some(epoch)) => Ok(Ordered::Ordered { seats, epoch }),
                _ => Err(unexpected("order hold", &reply)),
            },
            Some("ordered") => Ok(Ordered::Already(text(reply.get(1)).unwrap_or_default())),
            Some("missing") => Ok(Ordered::NotLoaded),
            Some("err") => refusal(text(reply.get(1)))
                .map(Ordered::Refused)
                .ok_or_else(|| unexpected("order hold", &reply)),
            _ => Err(unexpected("order hold", &reply)),
        }
    }

    /// Runs `lapse.lua`: gives back up to `max` lapsed holds; how many.
    pub async fn lapse(&self, drop_id: &str, now_ms: i64, max: usize) -> redis::RedisResult<i64> {
        let keys = self.keys(drop_id);
        let mut invocation = keys.invocation(&LAPSE, "none");
        invocation.arg(now_ms).arg(max).arg(LOG_LENGTH);
        let reply: Vec<i64> = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(reply.first().copied().unwrap_or(0))
    }

    /// Runs `load_seats.lua`: true when this call loaded the sale.
    pub async fn load(
        &self,
        drop_id: &str,
        drop: &crate::gate::DropGateState,
        holds: &[LoadedHold],
    ) -> redis::RedisResult<bool> {
        let keys = self.keys(drop_id);
        let mut invocation = keys.invocation(&LOAD, "none");
        invocation.arg(drop.epoch);
        drop.arg_terms(drop.stock, &mut invocation);
        invocation.arg(drop.hold_ms).arg(LOG_LENGTH);
        for hold in holds {
            let seats: Vec<String> = hold.seats.iter().map(u32::to_string).collect();
            invocation
                .arg(hold.id.to_string())
                .arg(&hold.user)
                .arg(hold.expires_ms)
                .arg(if hold.ordered { "o" } else { "h" })
                .arg(seats.join(","));
        }
        let loaded: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        Ok(loaded == 1)
    }
}
