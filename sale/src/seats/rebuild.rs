//! A seated sale lost from Redis, rebuilt from PostgreSQL: inside the
//! rebuild's transaction (drop row locked, epoch bumped; see
//! `drops::rebuild`), every hold that claims seats now (live holds, holds
//! of pending or paid orders) is read, then loaded into Redis in one atomic
//! script that replaces only an older epoch's load.

use super::gate::LoadedHold;
use crate::domain::Sale;
use crate::orders::OrderError;
use crate::store::drops::DropRow;
use crate::store::holds;

impl Sale {
    /// Reads the open holds (in the rebuild's transaction).
    pub(crate) async fn open_holds(
        &self,
        tx: &mut sqlx::PgConnection,
        drop_id: &str,
    ) -> Result<Vec<holds::OpenHold>, OrderError> {
        Ok(holds::open_for_rebuild(tx, drop_id, self.clock.now()).await?)
    }

    /// Loads a seated sale into Redis (after the rebuild's commit); true
    /// when this call loaded it.
    pub(crate) async fn load_seats(
        &self,
        drop: &DropRow,
        open: &[holds::OpenHold],
    ) -> Result<bool, OrderError> {
        let sale = self.seated_sale(&drop.id).await.map_err(|error| {
            OrderError::Internal(anyhow::anyhow!("loading the seated sale: {error}"))
        })?;
        let loaded: Vec<LoadedHold> = open
            .iter()
            .map(|hold| LoadedHold {
                id: hold.id,
                user: hold.user_id.clone(),
                expires_ms: hold.expires_at.timestamp_millis(),
                ordered: hold.ordered,
                seats: hold
                    .seats
                    .iter()
                    .filter_map(|id| sale.map().index_of(id))
                    .collect(),
            })
            .collect();
        Ok(self
            .seat_gate
            .load(&drop.id, &drop.gate_state(), &loaded)
            .await?)
    }
}
