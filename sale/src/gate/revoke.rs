//! Revocation in a drop's gate: revoking and lifting users and single
//! admission tokens (`revoke.lua`), the check the seated and bucketed order
//! paths make before deciding, and restoring revocations into a drop just
//! loaded.

use super::{bounded, StockGate};
use std::sync::LazyLock;

static REVOKE: LazyLock<redis::Script> =
    LazyLock::new(|| redis::Script::new(include_str!("../scripts/revoke.lua")));

impl StockGate {
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
}
