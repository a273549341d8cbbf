//! Loading a drop missing from Redis back from PostgreSQL, behind the
//! epoch fence.

use crate::domain::Sale;
use crate::orders::OrderError;
use crate::store::{drops, orders};
use std::time::Duration;

impl Sale {
    /// Loads a drop missing from Redis (new Redis, lost data, or a create whose
    /// Redis write never happened) from PostgreSQL: its settings, and the units
    /// each user holds. `UnknownDrop` for a drop PostgreSQL does not know.
    ///
    /// Step by step, and why it cannot oversell:
    /// 1. Lock the drop row (rebuilds of one drop never overlap, across processes)
    ///    and check, under the lock, that Redis still lacks the drop.
    /// 2. In the same transaction, bump `redis_epoch` and read the holdings. An
    ///    order batch writing under the old epoch either committed before the
    ///    lock (so its orders are in the holdings) or is refused by the writer's
    ///    epoch check after it (so it adds nothing): the count is exact.
    /// 3. Commit, then load Redis with the new epoch (revocations first, see
    ///    `crate::revocation`). Dying between 3's two
    ///    steps leaves Redis empty: the next order starts another rebuild.
    ///
    /// While one request of this process rebuilds a drop, the others answer 503
    /// `unavailable` at once rather than queueing on the lock.
    pub async fn ensure_loaded(&self, drop_id: &str) -> Result<(), OrderError> {
        self.load_from_record(drop_id, false).await
    }

    /// Rebuilds a loaded drop from PostgreSQL all the same, behind the same
    /// fence: after a Redis Cluster failover the promoted replica may lack
    /// the last writes its master acknowledged (replication is
    /// asynchronous), so its `sold` and per-user counts may be short. See
    /// `crate::failover`.
    pub async fn reload_after_failover(&self, drop_id: &str) -> Result<(), OrderError> {
        self.load_from_record(drop_id, true).await
    }

    async fn load_from_record(&self, drop_id: &str, force: bool) -> Result<(), OrderError> {
        let Some(_rebuilding) = RebuildGuard::take(self, drop_id) else {
            return Err(OrderError::Unavailable(
                "the drop is being reloaded after a Redis failure; try again in a moment".into(),
            ));
        };
        let mut tx = self.db.begin().await?;
        let locked = drops::lock_for_rebuild(&mut tx, drop_id, Duration::from_secs(2)).await;
        match locked {
            Ok(Some(_)) => {}
            Ok(None) => return Err(OrderError::UnknownDrop),
            Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
                return Err(OrderError::Unavailable(
                    "the drop is being reloaded by another process; try again in a moment".into(),
                ))
            }
            Err(e) => return Err(e.into()),
        }
        if !force && self.gate.counters(drop_id).await?.is_some() {
            return Ok(()); // another process loaded it while we waited
        }
        let drop = drops::bump_redis_epoch(&mut tx, drop_id).await?;
        // Revocations go in before the drop hash does: the reserve script
        // answers `missing` until the hash is there, so no order is ever
        // decided against a copy without them.
        self.restore_revocations(drop_id)
            .await
            .map_err(|e| OrderError::Unavailable(format!("revocations not restored: {e}")))?;
        let (loaded, claims) = if drop.seating.is_some() {
            let open = self.open_holds(&mut tx, drop_id).await?;
            tx.commit().await?;
            (self.load_seats(&drop, &open).await?, open.len())
        } else {
            let holdings = orders::holdings(&mut tx, drop_id).await?;
            tx.commit().await?;
            let loaded = self
                .gate
                .rebuild(drop_id, &drop.gate_state(), &holdings)
                .await?;
            (loaded, holdings.len())
        };
        if loaded {
            metrics::counter!("sale_drop_rebuilds_total").increment(1);
            tracing::warn!(
                drop = drop_id,
                epoch = drop.redis_epoch,
                claims,
                "drop rebuilt into Redis from PostgreSQL"
            );
        }
        Ok(())
    }
}

/// Marks a drop as being rebuilt by this process until dropped.
struct RebuildGuard {
    sale: Sale,
    drop_id: String,
}

impl RebuildGuard {
    fn take(sale: &Sale, drop_id: &str) -> Option<Self> {
        let mut rebuilding = sale.rebuilding.lock().unwrap_or_else(|e| e.into_inner());
        rebuilding.insert(drop_id.to_string()).then(|| Self {
            sale: sale.clone(),
            drop_id: drop_id.to_string(),
        })
    }
}

impl Drop for RebuildGuard {
    fn drop(&mut self) {
        let mut rebuilding = self
            .sale
            .rebuilding
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        rebuilding.remove(&self.drop_id);
    }
}
