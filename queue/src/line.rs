//! One drop's line in Redis: join, leave, admit, and the numbers status is
//! computed from. Every key of a drop shares its `{drop}` hash tag; the keys
//! the sale also touches (the drop hash, the line, the shopping set, the
//! progress) come from the contract (`admission::contract::keys`), the
//! queue's own ones from [`LineKeys`].

use crate::draw::draw_score;
use admission::contract::DropKeys;
use runtime::redis::bounded;
use runtime::redis::Redis;
use std::sync::LazyLock;

static JOIN: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/join.lua")));
static ADMIT: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/admit.lua")));
static TOUCH: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/touch.lua")));
static LEAVE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/leave.lua")));

/// Most head entries one admit call looks at (bounds the script's run time).
const ADMIT_SCAN_LIMIT: u64 = 2_000;

/// How many liveness buckets a drop's line is spread over (in the
/// contract: the sale's revocation takes a revoked fan's place too).
pub use admission::contract::keys::ALIVE_BUCKETS;

/// The Redis keys of one drop's line: the contract's shared keys, plus the
/// queue's own.
#[derive(Debug, Clone)]
pub struct LineKeys(DropKeys);

impl std::ops::Deref for LineKeys {
    type Target = DropKeys;
    fn deref(&self) -> &DropKeys {
        &self.0
    }
}

impl LineKeys {
    pub fn new(prefix: &str, drop_id: &str) -> Self {
        Self(DropKeys::new(prefix, drop_id))
    }
    /// One liveness bucket (see [`DropKeys::alive`]).
    pub fn alive_bucket(&self, bucket: u64) -> String {
        self.key(&format!("q:alive:{bucket}"))
    }
    /// Counter of arrivals after opening.
    pub fn arrivals(&self) -> String {
        self.key("q:arrivals")
    }
    /// String: the pump lease holder.
    pub fn lease(&self) -> String {
        self.key("q:pump")
    }
}

/// Where a join left the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Admitted { at_ms: i64 },
    Waiting { rank: u64, removed: u64 },
}

/// What a join led to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Joined {
    Place(Place),
    /// An operator revoked the user: no place.
    Revoked,
    /// An invite-only drop, and the user has no access (yet).
    AccessRequired,
    /// An invite-only drop whose access keys this Redis lacks: load them
    /// (`crate::access`) and join again.
    AccessUnloaded,
}

/// The pump's progress through the line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Users taken off the head (admitted + skipped leavers).
    pub removed: u64,
    pub admitted: u64,
    pub skipped: u64,
}

#[derive(Clone)]
pub struct Lines {
    redis: Redis,
    prefix: std::sync::Arc<str>,
}

impl Lines {
    pub fn new(redis: Redis, prefix: &str) -> Self {
        Self {
            redis,
            prefix: prefix.into(),
        }
    }

    pub fn keys(&self, drop_id: &str) -> LineKeys {
        LineKeys::new(&self.prefix, drop_id)
    }

    pub fn redis(&self) -> Redis {
        self.redis.clone()
    }

    /// Joins (or re-finds) `user`'s place; before opening, by the draw.
    /// A revoked user, or one without access to an invite-only drop
    /// (`access` is the drop's mode: `open`, `code` or `list`), gets none.
    pub async fn join(
        &self,
        drop_id: &str,
        user: &str,
        now_ms: i64,
        prequeue_seed: Option<&str>,
        admission_cutoff_ms: i64,
        access: &str,
    ) -> redis::RedisResult<Joined> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut invocation = JOIN.prepare_invoke();
        invocation
            .key(keys.line())
            .key(keys.alive())
            .key(keys.admitted())
            .key(keys.arrivals())
            .key(keys.progress())
            .key(keys.revoked_users())
            .key(keys.access_users())
            .key(keys.access_loaded())
            .arg(user)
            .arg(now_ms);
        match prequeue_seed {
            Some(seed) => invocation.arg("pre").arg(draw_score(seed, user)),
            None => invocation.arg("fifo").arg(0),
        };
        invocation
            .arg(admission_cutoff_ms)
            .arg(ALIVE_BUCKETS)
            .arg(access);
        let reply: Vec<String> = bounded(invocation.invoke_async(&mut redis)).await?;
        let num = |i: usize| reply.get(i).and_then(|s| s.parse::<f64>().ok());
        match (reply.first().map(String::as_str), num(1), num(2)) {
            (Some("admitted"), Some(at), _) => {
                Ok(Joined::Place(Place::Admitted { at_ms: at as i64 }))
            }
            (Some("waiting"), Some(rank), Some(removed)) => Ok(Joined::Place(Place::Waiting {
                rank: rank as u64,
                removed: removed as u64,
            })),
            (Some("revoked"), _, _) => Ok(Joined::Revoked),
            (Some("access"), _, _) if reply.get(1).map(String::as_str) == Some("unloaded") => {
                Ok(Joined::AccessUnloaded)
            }
            (Some("access"), _, _) => Ok(Joined::AccessRequired),
            _ => Err(redis::RedisError::from((
                redis::ErrorKind::TypeError,
                "unexpected join reply",
                format!("{reply:?}"),
            ))),
        }
    }

    /// Current place without joining: `None` when not in the line.
    pub async fn place(&self, drop_id: &str, user: &str) -> redis::RedisResult<Option<Place>> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        pipe.zscore(keys.admitted(), user)
            .zrank(keys.line(), user)
            .hget(keys.progress(), "removed");
        let (admitted, rank, removed): (Option<f64>, Option<u64>, Option<u64>) =
            bounded(pipe.query_async(&mut redis)).await?;
        Ok(match (admitted, rank) {
            (Some(at), _) => Some(Place::Admitted { at_ms: at as i64 }),
            (None, Some(rank)) => Some(Place::Waiting {
                rank,
                removed: removed.unwrap_or(0),
            }),
            (None, None) => None,
        })
    }

    /// True when an operator revoked `user` (they get no place in any line).
    pub async fn is_revoked(&self, drop_id: &str, user: &str) -> redis::RedisResult<bool> {
        let mut redis = self.redis.clone();
        let mut command = redis::cmd("SISMEMBER");
        command.arg(self.keys(drop_id).revoked_users()).arg(user);
        bounded(command.query_async(&mut redis)).await
    }

    /// A sign of life from a waiting user (live socket or poll).
    pub async fn touch(&self, drop_id: &str, user: &str, now_ms: i64) -> redis::RedisResult<()> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut invocation = TOUCH.prepare_invoke();
        invocation
            .key(keys.line())
            .key(keys.alive())
            .arg(user)
            .arg(now_ms)
            .arg(ALIVE_BUCKETS);
        bounded(invocation.invoke_async::<()>(&mut redis)).await
    }

    /// Leaves the line (an admitted user keeps their admission).
    pub async fn leave(&self, drop_id: &str, user: &str) -> redis::RedisResult<bool> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut invocation = LEAVE.prepare_invoke();
        invocation
            .key(keys.line())
            .key(keys.alive())
            .arg(user)
            .arg(ALIVE_BUCKETS);
        let removed: u64 = bounded(invocation.invoke_async(&mut redis)).await?;
        Ok(removed == 1)
    }

    /// Frees a closed drop's line: its places and every liveness bucket
    /// (`UNLINK`: Redis reclaims the memory in the background, so a line of
    /// millions costs the caller a few dozen quick calls).
    pub async fn remove_line(&self, drop_id: &str) -> redis::RedisResult<()> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let buckets: Vec<u64> = (0..ALIVE_BUCKETS).collect();
        for chunk in buckets.chunks(2_000) {
            let mut unlink = redis::cmd("UNLINK");
            for bucket in chunk {
                unlink.arg(keys.alive_bucket(*bucket));
            }
            bounded(unlink.query_async::<()>(&mut redis)).await?;
        }
        let mut unlink = redis::cmd("UNLINK");
        unlink.arg(keys.line());
        bounded(unlink.query_async::<()>(&mut redis)).await
    }

    /// Admits up to `n` from the head (see `admit.lua`).
    pub async fn admit(
        &self,
        drop_id: &str,
        n: u64,
        now_ms: i64,
        abandon_cutoff_ms: i64,
    ) -> redis::RedisResult<Vec<String>> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut invocation = ADMIT.prepare_invoke();
        invocation
            .key(keys.line())
            .key(keys.alive())
            .key(keys.admitted())
            .key(keys.progress())
            .key(keys.shopping())
            .arg(n)
            .arg(now_ms)
            .arg(abandon_cutoff_ms)
            .arg(ADMIT_SCAN_LIMIT.max(n))
            .arg(ALIVE_BUCKETS);
        bounded(invocation.invoke_async(&mut redis)).await
    }

    /// What the pump and every status need, in one round trip: progress,
    /// waiting count, active shoppers (admitted since `active_since_ms` and
    /// not yet ordered), and
    /// the sale service's stock and sold counters.
    pub async fn snapshot(
        &self,
        drop_id: &str,
        active_since_ms: i64,
    ) -> redis::RedisResult<LineSnapshot> {
        let keys = self.keys(drop_id);
        let mut redis = self.redis.clone();
        let mut pipe = redis::pipe();
        pipe.hget(keys.progress(), &["removed", "admitted", "skipped"])
            .zcard(keys.line())
            .zcount(keys.shopping(), active_since_ms, "+inf")
            .hget(keys.drop(), &["stock", "sold"]);
        type Reply = (Vec<Option<u64>>, u64, u64, Vec<Option<i64>>);
        let (progress, waiting, active, sale): Reply =
            bounded(pipe.query_async(&mut redis)).await?;
        Ok(LineSnapshot::from_parts(&progress, waiting, active, &sale))
    }
}

impl Lines {
    /// Snapshots of several drops in one round trip (one pipeline), in the
    /// order asked.
    pub async fn snapshots(
        &self,
        drop_ids: &[&str],
        active_since_ms: i64,
    ) -> redis::RedisResult<Vec<LineSnapshot>> {
        if drop_ids.is_empty() {
            return Ok(Vec::new());
        }
        // One group per drop: a drop's keys share a slot, drops do not.
        let groups: Vec<redis::Pipeline> = drop_ids
            .iter()
            .map(|drop_id| {
                let keys = self.keys(drop_id);
                let mut pipe = redis::pipe();
                pipe.hget(keys.progress(), &["removed", "admitted", "skipped"])
                    .zcard(keys.line())
                    .zcount(keys.shopping(), active_since_ms, "+inf")
                    .hget(keys.drop(), &["stock", "sold"]);
                pipe
            })
            .collect();
        let replies = self.redis.query_groups(&groups).await?;
        let mut snapshots = Vec::with_capacity(drop_ids.len());
        for chunk in replies.chunks(4) {
            let [progress, waiting, active, sale] = chunk else {
                break;
            };
            let progress: Vec<Option<u64>> = redis::from_redis_value(progress)?;
            let waiting: u64 = redis::from_redis_value(waiting)?;
            let active: u64 = redis::from_redis_value(active)?;
            let sale: Vec<Option<i64>> = redis::from_redis_value(sale)?;
            snapshots.push(LineSnapshot::from_parts(&progress, waiting, active, &sale));
        }
        Ok(snapshots)
    }
}

impl LineSnapshot {
    fn from_parts(
        progress: &[Option<u64>],
        waiting: u64,
        active: u64,
        sale: &[Option<i64>],
    ) -> Self {
        let at = |i: usize| progress.get(i).copied().flatten().unwrap_or(0);
        let units_left = match (
            sale.first().copied().flatten(),
            sale.get(1).copied().flatten(),
        ) {
            (Some(stock), Some(sold)) => Some(stock - sold),
            _ => None,
        };
        Self {
            progress: Progress {
                removed: at(0),
                admitted: at(1),
                skipped: at(2),
            },
            waiting,
            active,
            units_left,
        }
    }
}

/// A drop's line at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineSnapshot {
    pub progress: Progress,
    pub waiting: u64,
    pub active: u64,
    /// Stock minus reserved per the sale service; `None` when the drop is
    /// not loaded in Redis (yet).
    pub units_left: Option<i64>,
}
