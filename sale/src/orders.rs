//! Orders: place (for an admitted fan), show, list a user's, cancel.
//!
//! Placing an order, step by step, and what a crash between steps leaves:
//! 1. `reserve.lua` decides and reserves in Redis (atomic).
//! 2. The group-commit writer records the order in PostgreSQL.
//! 3. The caller is answered (201).
//!
//! Steps 1-2 run to their end whatever the client does
//! ([`Sale::place_order`], [`crate::to_end`]): in the request's task while
//! it waits, in a task of their own once it stops. A client that hangs up
//! (its request future dropped at any await) cannot stop them between 1
//! and 2, so a reservation never waits for the reconciler because
//! its buyer's phone lost signal. The buyer's retry with the same
//! `Idempotency-Key` finds the reservation and waits (bounded) for the
//! write in flight, then answers that order.
//!
//! Dies after 1, before 2 (the process, not the client): the units stay
//! reserved with no order; nothing is oversold (an undersell until the
//! reconciler releases them). Dies after 2, before 3: the order is recorded
//! but unacknowledged; the retry gets it (200). Step 2 fails for sure: the
//! reservation is released, 503. Step 2's outcome is unknown: the
//! reservation stays (safe side), 503.

use crate::domain::Sale;
use crate::gate::{idempotency_tag, Refusal, Reservation};
use crate::payments::ledger::PaymentRow;
use crate::store::orders::{self, Cancel};
use crate::store::OrderRow;
use crate::writer::{NewOrder, WriteError, WriteOutcome};
use std::time::Duration;
use uuid::Uuid;

/// An order to place, from a verified admission.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub drop_id: String,
    pub user: String,
    /// The admission token's id, kept with the order for audit.
    pub admission_jti: String,
    pub quantity: i64,
    pub idempotency_key: String,
}

/// A placed order: new, or the one an earlier request with the same key made.
#[derive(Debug, Clone)]
pub enum Placed {
    Created(OrderRow),
    Existing(OrderRow),
}

/// Why an order was not placed or changed.
#[derive(Debug, thiserror::Error)]
pub enum OrderError {
    #[error("refused: {0:?}")]
    Refused(Refusal),
    #[error(
        "this Idempotency-Key was used for a different quantity; use a new key for a new purchase"
    )]
    IdempotencyMismatch,
    #[error("unknown drop")]
    UnknownDrop,
    #[error("unknown order")]
    UnknownOrder,
    #[error("only a pending order can be cancelled; this one is {0}")]
    NotPending(String),
    #[error("a payment of this order is in progress; wait for its outcome")]
    PaymentInProgress,
    /// A seated sale's hold refused the order (or the sale is not seated).
    #[error("refused: {0:?}")]
    Hold(crate::seats::gate::HoldRefusal),
    /// Try again shortly (a store is down, a rebuild is running, a write
    /// is still in flight); the text says what.
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl Sale {
    /// Places an order. Cancellation-safe: dropping this future (a client
    /// hanging up) hands the work, as far as it got, to a task of its own,
    /// so a reservation is never left without its write.
    #[tracing::instrument(level = "debug", skip_all, fields(drop = %request.drop_id, user = %request.user))]
    pub async fn place_order(&self, request: PlaceOrder) -> Result<Placed, OrderError> {
        let sale = self.clone();
        self.run_to_end(
            "order",
            async move { sale.reserve_and_record(request).await },
        )
        .await
    }

    async fn reserve_and_record(&self, request: PlaceOrder) -> Result<Placed, OrderError> {
        let order_id = Uuid::now_v7();
        let now = self.clock.now();
        let reserve = || {
            self.gate.reserve(
                &request.drop_id,
                &request.user,
                &request.admission_jti,
                request.quantity,
                now.timestamp_millis(),
                order_id,
                &request.idempotency_key,
            )
        };
        let mut reservation = reserve().await?;
        if reservation == Reservation::NotLoaded {
            self.ensure_loaded(&request.drop_id).await?;
            reservation = reserve().await?;
        }
        match reservation {
            Reservation::Reserved {
                price_cents,
                currency,
                timeout_secs,
                epoch,
                ..
            } => {
                let order = NewOrder {
                    id: order_id,
                    drop_id: request.drop_id,
                    user_id: request.user,
                    quantity: request.quantity as i32,
                    unit_price_cents: price_cents,
                    currency,
                    idempotency_key: request.idempotency_key,
                    admission_jti: request.admission_jti,
                    created_at: now,
                    expires_at: now + chrono::Duration::seconds(timeout_secs),
                    epoch,
                };
                self.record(order).await
            }
            Reservation::Duplicate {
                order_id,
                quantity: first,
            } => {
                if first != request.quantity {
                    return Err(OrderError::IdempotencyMismatch);
                }
                Ok(Placed::Existing(self.wait_for_order(order_id).await?))
            }
            Reservation::NotLoaded => Err(OrderError::Unavailable(
                "the drop is loading; try again".into(),
            )),
            Reservation::Moving => Err(OrderError::Unavailable(
                "stock is moving between the drop's buckets; try again".into(),
            )),
            Reservation::Refused(why) => {
                metrics::counter!("sale_orders_refused_total", "reason" => format!("{why:?}"))
                    .increment(1);
                Err(OrderError::Refused(why))
            }
        }
    }

    /// Step 2 of placing an order, and what each outcome means for the
    /// reservation.
    async fn record(&self, order: NewOrder) -> Result<Placed, OrderError> {
        let (drop_id, order_id, quantity) = (order.drop_id.clone(), order.id, order.quantity);
        let (user, key) = (order.user_id.clone(), order.idempotency_key.clone());
        // Only a refused or unwritten order forgets its key (a hash: not
        // worked out for the orders recorded).
        let tag = || idempotency_tag(&user, &key);
        match self.writer.write(order).await {
            Ok(WriteOutcome::Recorded(order)) => {
                metrics::counter!("sale_orders_placed_total").increment(1);
                Ok(Placed::Created(*order))
            }
            Ok(WriteOutcome::OverCap) => {
                // PostgreSQL's record holds more of this user's orders than
                // Redis knew (a failover lost some): refused, units back.
                self.gate
                    .release_of(&drop_id, &user, order_id, Some(&tag()))
                    .await?;
                Err(OrderError::Refused(Refusal::CapExceeded))
            }
            Ok(WriteOutcome::DuplicateKey) => {
                // PostgreSQL already has an order under this key (Redis forgot
                // it): hand back that one and free what this attempt reserved.
                self.gate
                    .release_of(&drop_id, &user, order_id, Some(&tag()))
                    .await?;
                let existing = orders::by_idempotency_key(&self.db, &drop_id, &user, &key)
                    .await?
                    .ok_or_else(|| anyhow::anyhow!("duplicate key without an order"))?;
                if existing.quantity != quantity {
                    return Err(OrderError::IdempotencyMismatch);
                }
                Ok(Placed::Existing(existing))
            }
            Err(WriteError::NotWritten(cause)) => {
                if let Err(error) = self
                    .gate
                    .release_of(&drop_id, &user, order_id, Some(&tag()))
                    .await
                {
                    tracing::error!(%error, %order_id, "could not release an unrecorded reservation; reconciliation will");
                }
                tracing::warn!(%cause, %order_id, "order not recorded");
                Err(OrderError::Unavailable(
                    "the order could not be recorded; try again shortly".into(),
                ))
            }
            Err(WriteError::Unknown(cause)) => {
                tracing::error!(%order_id, %cause, "order outcome unknown; reservation kept for reconciliation");
                Err(OrderError::Unavailable(
                    "the order could not be confirmed; try again shortly".into(),
                ))
            }
        }
    }

    /// A retry arrived while the first request is still being recorded: wait
    /// (a little longer than one write may take) for it to land in PostgreSQL.
    pub(crate) async fn wait_for_order(&self, order_id: Uuid) -> Result<OrderRow, OrderError> {
        let within = self.write_timeout + Duration::from_millis(500);
        crate::retry::first_request_record(within, || orders::by_id(&self.db, order_id))
            .await?
            .ok_or_else(|| OrderError::Unavailable(crate::retry::STILL_IN_PROGRESS.into()))
    }

    /// An order with its newest payment attempt, if `may_see` allows.
    pub async fn order(
        &self,
        order_id: Uuid,
        may_see: impl Fn(&str) -> bool,
    ) -> Result<(OrderRow, Option<PaymentRow>), OrderError> {
        let order = orders::by_id(&self.db, order_id)
            .await?
            .filter(|order| may_see(&order.user_id))
            .ok_or(OrderError::UnknownOrder)?;
        let payment = crate::payments::ledger::latest_for_order(&self.db, order.id).await?;
        Ok((order, payment))
    }

    /// A user's newest orders.
    pub async fn orders_of(&self, user: &str) -> Result<Vec<OrderRow>, OrderError> {
        Ok(orders::for_user(&self.db, user).await?)
    }

    /// Cancels a pending order of `user`; its units go back.
    ///
    /// PostgreSQL first (pending -> cancelled, `held` lowered), then Redis. If
    /// this process dies between the two, Redis keeps the units reserved: an
    /// undersell that reconciliation repairs, never an oversell.
    pub async fn cancel_order(&self, order_id: Uuid, user: &str) -> Result<OrderRow, OrderError> {
        let cancelled = match orders::cancel_pending(&self.db, order_id, user).await? {
            Cancel::Cancelled(order) => order,
            Cancel::PaymentInProgress => return Err(OrderError::PaymentInProgress),
            Cancel::NotPending(status) => return Err(OrderError::NotPending(status)),
            Cancel::Unknown => return Err(OrderError::UnknownOrder),
        };
        let released = match cancelled.hold_id {
            Some(hold) => self
                .seat_gate
                .release(
                    &cancelled.drop_id,
                    hold,
                    crate::seats::gate::ReleaseMode::Order,
                    self.clock.now().timestamp_millis(),
                )
                .await
                .map(|_| ()),
            None => self
                .gate
                .release_of(&cancelled.drop_id, &cancelled.user_id, order_id, None)
                .await
                .map(|_| ()),
        };
        if let Err(error) = released {
            tracing::error!(%error, %order_id, "cancelled, but Redis still holds the units; reconciliation will release them");
        }
        Ok(cancelled)
    }
}
