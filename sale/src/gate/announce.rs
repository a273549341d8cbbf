//! What the gate tells the queue nodes over Redis pub/sub (sharded on a
//! cluster): a drop created or changed, and a user revoked in a drop.

use super::StockGate;
use runtime::redis::bounded;

impl StockGate {
    /// Tells the queue services a drop's settings changed (pub/sub on
    /// `{prefix}:drops:changed`), so a pause or a new rate reaches waiting
    /// fans at once instead of at the queue's next settings poll.
    pub async fn announce_change(&self, drop_id: &str) -> redis::RedisResult<()> {
        let mut redis = self.redis.clone();
        let command = redis.publish_cmd(
            &admission::contract::drops_changed_channel(&self.prefix),
            drop_id,
        );
        bounded(command.query_async::<i64>(&mut redis))
            .await
            .map(|_| ())
    }

    /// Tells the queue services `user` was revoked in `drop_id` (pub/sub
    /// on `{prefix}:users:revoked`): each node closes that user's open
    /// WebSockets in the drop at once. Best effort: when it is missed, a
    /// socket closes at its next read of its place (within 30 s), which is
    /// gone already.
    pub(super) async fn announce_revoked(&self, drop_id: &str, user: &str) {
        let mut redis = self.redis.clone();
        let message = serde_json::json!({"drop": drop_id, "user": user}).to_string();
        let command = redis.publish_cmd(
            &admission::contract::users_revoked_channel(&self.prefix),
            &message,
        );
        if let Err(error) = bounded(command.query_async::<i64>(&mut redis)).await {
            tracing::warn!(%error, drop = drop_id, "announcing a revocation failed");
        }
    }
}
