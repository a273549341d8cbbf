//! Ordering a live hold: `POST /api/drops/{id}/orders {"hold_id"}` takes
//! exactly the held seats. `order_hold.lua` marks the hold ordered in Redis
//! (only while live and the fan's own), then PostgreSQL records the order,
//! marks the hold ordered and makes its claims open-ended in one
//! transaction. If PostgreSQL refuses (the hold lapsed there, a rebuilt
//! Redis), Redis is turned back. The work runs to its end
//! ([`crate::to_end`]), so a fan who hangs up cannot stop it between the
//! two writes.

use super::gate::{HoldRefusal, Ordered};
use super::holds::HoldError;
use crate::orders::{OrderError, Placed};
use crate::store::holds;
use crate::store::holds::{HoldOrder, NewSeatedOrder};
use crate::Sale;
use uuid::Uuid;

impl Sale {
    /// Orders the seats of a live hold (exactly those). Cancellation-safe.
    pub async fn order_hold(&self, request: OrderHold) -> Result<Placed, OrderError> {
        let sale = self.clone();
        self.run_to_end(
            "order",
            async move { sale.order_hold_to_end(request).await },
        )
        .await
    }

    async fn order_hold_to_end(&self, request: OrderHold) -> Result<Placed, OrderError> {
        let sale = self
            .seated_sale(&request.drop_id)
            .await
            .map_err(|error| match error {
                HoldError::UnknownDrop => OrderError::UnknownDrop,
                HoldError::NotSeated => OrderError::Hold(HoldRefusal::NotSeated),
                other => OrderError::Internal(anyhow::anyhow!("{other}")),
            })?;
        if self
            .gate
            .is_revoked(&request.drop_id, &request.user, &request.admission_jti)
            .await?
        {
            return Err(OrderError::Refused(crate::gate::Refusal::Revoked));
        }
        let order_id = Uuid::now_v7();
        let now = self.clock.now();
        // `revert`: turn an ordered hold back to held (PostgreSQL refused it).
        let order = |revert: bool| {
            self.seat_gate.order(
                &request.drop_id,
                request.hold_id,
                &request.user,
                now.timestamp_millis(),
                order_id,
                revert,
            )
        };
        let mut ordered = order(false).await?;
        if ordered == Ordered::NotLoaded {
            self.ensure_loaded(&request.drop_id).await?;
            ordered = order(false).await?;
        }
        let epoch = match ordered {
            Ordered::Ordered { epoch, .. } => epoch,
            Ordered::Already(existing) => {
                let existing: Uuid = existing
                    .parse()
                    .map_err(|_| OrderError::Hold(HoldRefusal::UnknownHold))?;
                return Ok(Placed::Existing(self.wait_for_order(existing).await?));
            }
            Ordered::NotLoaded => {
                return Err(OrderError::Unavailable(
                    "the sale is loading; try again".into(),
                ))
            }
            // Redis keeps no trace of a hold given back: PostgreSQL tells a
            // lapsed or released hold of this fan from one never made.
            Ordered::Refused(HoldRefusal::UnknownHold) => {
                let known = holds::by_id(&self.db, request.hold_id)
                    .await?
                    .is_some_and(|h| h.user_id == request.user && h.drop_id == request.drop_id);
                return Err(OrderError::Hold(if known {
                    HoldRefusal::Lapsed
                } else {
                    HoldRefusal::UnknownHold
                }));
            }
            Ordered::Refused(why) => return Err(OrderError::Hold(why)),
        };
        let new = NewSeatedOrder {
            id: order_id,
            hold_id: request.hold_id,
            drop_id: request.drop_id.clone(),
            user_id: request.user.clone(),
            currency: sale.currency.clone(),
            idempotency_key: request.idempotency_key.clone(),
            admission_jti: request.admission_jti.clone(),
            created_at: now,
            expires_at: now + chrono::Duration::seconds(i64::from(sale.order_timeout_secs)),
            epoch,
        };
        match holds::record_order(&self.db, &new).await {
            Ok(HoldOrder::Recorded(row)) => {
                metrics::counter!("sale_orders_placed_total").increment(1);
                Ok(Placed::Created(row))
            }
            Ok(HoldOrder::Existing(row)) => {
                order(true).await?;
                Ok(Placed::Existing(row))
            }
            Ok(HoldOrder::NotLive) => {
                order(true).await?;
                Err(OrderError::Hold(HoldRefusal::Lapsed))
            }
            Ok(HoldOrder::Refused(why)) => {
                order(true).await?;
                tracing::warn!(%order_id, why, "seated order refused by PostgreSQL");
                Err(OrderError::Unavailable(
                    "the order could not be recorded; try again shortly".into(),
                ))
            }
            Ok(HoldOrder::Unknown(cause)) => {
                tracing::error!(%order_id, %cause, "seated order outcome unknown; reconciliation settles it");
                Err(OrderError::Unavailable(
                    "the order could not be confirmed; try again shortly".into(),
                ))
            }
            Err(error) => {
                order(true).await?;
                Err(error.into())
            }
        }
    }
}

/// An order of a hold, from a verified admission.
#[derive(Debug, Clone)]
pub struct OrderHold {
    pub drop_id: String,
    pub hold_id: Uuid,
    pub user: String,
    pub admission_jti: String,
    pub idempotency_key: String,
}
