//! Invite-only and presale lines: a drop in access mode `code` or `list`
//! lets into its line only users granted access, by the operator's list or
//! by redeeming an access code (single-use or capped).
//!
//! Redeeming, step by step, and what a crash between steps leaves:
//! 1. `redeem.lua` takes one use of the code and grants the user, atomically
//!    (two fans racing for the last use: one gets it).
//! 2. The grant is recorded in PostgreSQL (`access_grants`). Should that
//!    fail, step 1 is undone and the fan is told to retry (503).
//!
//! Both steps run in a task of their own, so a fan who hangs up cannot stop
//! between them. Should the process die between them, Redis has taken the
//! use and PostgreSQL has not: the fan has access as long as this Redis
//! lives; a Redis rebuilt from PostgreSQL (below) counts only recorded
//! uses, and that user must redeem again.
//!
//! Durability: a code's uses are its grants in PostgreSQL. When Redis lost
//! the access keys (no `access:loaded` marker), the first join or
//! redemption loads them from PostgreSQL (`load_access.lua`), each code
//! with the uses PostgreSQL recorded: a used code never re-opens. The
//! access mode itself comes from PostgreSQL through the catalog, so a Redis
//! that lost everything fails closed (a join answers `access_required`
//! until the keys are back), never open.

use admission::contract::{access_code_hash, DropKeys};
use runtime::redis::bounded;
use runtime::redis::Redis;
use std::sync::{Arc, LazyLock};

static REDEEM: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/redeem.lua")));
static LOAD: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("scripts/load_access.lua")));

/// Longest access code accepted.
pub const MAX_CODE_LEN: usize = 64;

/// Why a redemption failed.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    #[error("this access code is not valid for this drop")]
    UnknownCode,
    #[error("this access code has been used as often as it may be")]
    UsedUp,
    #[error("the access store is unavailable: {0}")]
    Unavailable(String),
}

impl From<redis::RedisError> for AccessError {
    fn from(error: redis::RedisError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<sqlx::Error> for AccessError {
    fn from(error: sqlx::Error) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// What redeeming gave.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Redeemed {
    /// One use of the code taken now.
    Now,
    /// The user had access already (nothing used).
    Already,
}

/// The access keys of drops; cheap to clone.
#[derive(Clone)]
pub struct Access {
    redis: Redis,
    db: sqlx::PgPool,
    prefix: Arc<str>,
}

impl Access {
    pub fn new(redis: Redis, db: sqlx::PgPool, prefix: &str) -> Self {
        Self {
            redis,
            db,
            prefix: prefix.into(),
        }
    }

    fn keys(&self, drop_id: &str) -> DropKeys {
        DropKeys::new(&self.prefix, drop_id)
    }

    /// Redeems `code` for `user` in `drop_id` (see the module text).
    /// Cancellation-safe: the steps run in their own task.
    pub async fn redeem(
        &self,
        drop_id: &str,
        user: &str,
        code: &str,
    ) -> Result<Redeemed, AccessError> {
        if code.trim().is_empty() || code.len() > MAX_CODE_LEN {
            return Err(AccessError::UnknownCode);
        }
        let (access, drop_id, user) = (self.clone(), drop_id.to_string(), user.to_string());
        let hash = access_code_hash(code);
        tokio::spawn(async move { access.redeem_to_end(&drop_id, &user, &hash).await })
            .await
            .map_err(|join| AccessError::Unavailable(format!("redeem task failed: {join}")))?
    }

    async fn redeem_to_end(
        &self,
        drop_id: &str,
        user: &str,
        hash: &str,
    ) -> Result<Redeemed, AccessError> {
        let mut reply = self.run_redeem(drop_id, user, hash, "redeem").await?;
        if reply.get(1).map(String::as_str) == Some("unloaded") {
            self.load(drop_id).await?;
            reply = self.run_redeem(drop_id, user, hash, "redeem").await?;
        }
        match (
            reply.first().map(String::as_str),
            reply.get(1).map(String::as_str),
        ) {
            (Some("granted"), _) => Ok(Redeemed::Already),
            (Some("redeemed"), _) => match self.record(drop_id, user, hash).await {
                Ok(()) => {
                    metrics::counter!("queue_access_codes_redeemed_total").increment(1);
                    Ok(Redeemed::Now)
                }
                Err(error) => {
                    if let Err(undo) = self.run_redeem(drop_id, user, hash, "undo").await {
                        tracing::error!(%undo, drop = drop_id, "a redemption not recorded could not be undone");
                    }
                    Err(error)
                }
            },
            (Some("refused"), Some("unknown_code")) => Err(AccessError::UnknownCode),
            (Some("refused"), Some("used_up")) => Err(AccessError::UsedUp),
            _ => Err(AccessError::Unavailable(format!(
                "unexpected redeem reply {reply:?}"
            ))),
        }
    }

    async fn run_redeem(
        &self,
        drop_id: &str,
        user: &str,
        hash: &str,
        mode: &str,
    ) -> redis::RedisResult<Vec<String>> {
        let keys = self.keys(drop_id);
        let mut invocation = REDEEM.prepare_invoke();
        invocation
            .key(keys.access_codes())
            .key(keys.access_users())
            .key(keys.access_loaded())
            .arg(user)
            .arg(hash)
            .arg(mode);
        bounded(invocation.invoke_async(&mut self.redis.clone())).await
    }

    async fn record(&self, drop_id: &str, user: &str, hash: &str) -> Result<(), AccessError> {
        sqlx::query!(
            "INSERT INTO access_grants (drop_id, user_id, code_hash) VALUES ($1, $2, $3) \
             ON CONFLICT DO NOTHING",
            drop_id,
            user,
            hash
        )
        .execute(&self.db)
        .await?;
        Ok(())
    }

    /// Loads a drop's codes (with the uses PostgreSQL recorded) and granted
    /// users into Redis, unless loaded already. True when this call loaded.
    pub async fn load(&self, drop_id: &str) -> Result<bool, AccessError> {
        let codes = sqlx::query!(
            r#"SELECT c.code_hash, c.max_uses,
                 (SELECT count(*) FROM access_grants g
                   WHERE g.drop_id = c.drop_id AND g.code_hash = c.code_hash) AS "used!"
               FROM access_codes c WHERE c.drop_id = $1"#,
            drop_id
        )
        .fetch_all(&self.db)
        .await?;
        let users = sqlx::query_scalar!(
            "SELECT user_id FROM access_grants WHERE drop_id = $1",
            drop_id
        )
        .fetch_all(&self.db)
        .await?;
        let keys = self.keys(drop_id);
        let mut invocation = LOAD.prepare_invoke();
        invocation
            .key(keys.access_codes())
            .key(keys.access_users())
            .key(keys.access_loaded())
            .arg(codes.len());
        for code in &codes {
            invocation
                .arg(&code.code_hash)
                .arg(code.max_uses)
                .arg(code.used);
        }
        for user in &users {
            invocation.arg(user);
        }
        let loaded: i64 = bounded(invocation.invoke_async(&mut self.redis.clone())).await?;
        if loaded == 1 {
            tracing::info!(
                drop = drop_id,
                codes = codes.len(),
                users = users.len(),
                "access keys loaded into Redis"
            );
        }
        Ok(loaded == 1)
    }
}
