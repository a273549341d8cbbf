//! Holding seats: the operations behind `POST /api/drops/{id}/holds`,
//! `DELETE /api/holds/{id}` and a fan's holds (ordering a hold is
//! [`super::checkout`]).
//!
//! Holding, step by step, and what a crash between steps leaves:
//! 1. `hold.lua` decides and holds in Redis (all or nothing, atomic).
//! 2. The hold and its seat claims are recorded in PostgreSQL (behind the
//!    epoch fence and the exclusion constraint).
//! 3. The fan is answered (201).
//!
//! Steps 1-2 run in a task of their own (a fan who hangs up cannot stop
//! between them). Dies after 1: the seats stay held in Redis with no record
//! until the hold lapses (minutes: an undersell, never a double sale).
//! Step 2 surely fails: the Redis hold is given back at once. Its outcome
//! is unknown: the Redis hold is kept and lapses on its own.

use super::gate::{Held, HoldRefusal, ReleaseMode};
use super::SeatedSale;
use crate::domain::Sale;
use crate::gate::idempotency_tag;
use crate::orders::OrderError;
use crate::seating::{BestError, Request, Rules};
use crate::store::holds;
use crate::store::holds::{HoldRow, HoldWrite, NewHold};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// How many times best available picks again after losing seats to a
/// faster fan.
const BEST_ATTEMPTS: usize = 4;

/// What a fan asks to hold.
#[derive(Debug, Clone)]
pub enum SeatChoice {
    /// These seats (the map's ids).
    Seats(Vec<String>),
    /// The best `quantity` seats next to each other in a category.
    Best {
        quantity: usize,
        category: String,
        accessible: bool,
    },
}

/// A hold to make, from a verified admission.
#[derive(Debug, Clone)]
pub struct HoldSeats {
    pub drop_id: String,
    pub user: String,
    pub admission_jti: String,
    pub idempotency_key: String,
    pub choice: SeatChoice,
}

/// A hold made (or found again by its key).
#[derive(Debug, Clone)]
pub struct HeldSeats {
    pub hold: HoldRow,
    pub created: bool,
    pub currency: String,
}

/// Why seats were not held (or a hold not changed).
#[derive(Debug, thiserror::Error)]
pub enum HoldError {
    #[error("unknown drop")]
    UnknownDrop,
    #[error("this sale is not seated: order a quantity instead")]
    NotSeated,
    #[error("{0}")]
    InvalidSeats(String),
    #[error("some of these seats are taken")]
    SeatsTaken(Vec<String>),
    #[error("{0}")]
    NoAdjacentSeats(String),
    #[error("refused: {0:?}")]
    Refused(HoldRefusal),
    #[error("no such hold")]
    UnknownHold,
    #[error("this hold is not live any more (it lapsed, was released or ordered)")]
    NotLive,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<OrderError> for HoldError {
    fn from(error: OrderError) -> Self {
        match error {
            OrderError::UnknownDrop => Self::UnknownDrop,
            OrderError::Unavailable(message) => Self::Unavailable(message),
            OrderError::Database(e) => Self::Database(e),
            OrderError::Redis(e) => Self::Redis(e),
            other => Self::Internal(anyhow::anyhow!("{other}")),
        }
    }
}

/// One try at holding some seats.
enum Attempt {
    Done(Box<HeldSeats>),
    Taken(Vec<u32>),
}

impl Sale {
    /// Holds seats for an admitted fan. Cancellation-safe: the work runs to
    /// its end though the caller hangs up ([`crate::to_end`]).
    #[tracing::instrument(level = "debug", skip_all, fields(drop = %request.drop_id, user = %request.user))]
    pub async fn hold_seats(&self, request: HoldSeats) -> Result<HeldSeats, HoldError> {
        let sale = self.clone();
        self.run_to_end("hold", async move { sale.hold_to_end(request).await })
            .await
    }

    async fn hold_to_end(&self, request: HoldSeats) -> Result<HeldSeats, HoldError> {
        let sale = self.seated_sale(&request.drop_id).await?;
        if self
            .gate
            .is_revoked(&request.drop_id, &request.user, &request.admission_jti)
            .await?
        {
            return Err(HoldError::Refused(HoldRefusal::Revoked));
        }
        match &request.choice {
            SeatChoice::Seats(ids) => {
                let seats = sale
                    .resolve(ids)
                    .map_err(|problem| HoldError::InvalidSeats(problem.to_string()))?;
                match self.try_hold(&sale, &request, &seats).await? {
                    Attempt::Done(held) => Ok(*held),
                    Attempt::Taken(taken) => Err(HoldError::SeatsTaken(sale.ids(&taken))),
                }
            }
            SeatChoice::Best {
                quantity,
                category,
                accessible,
            } => {
                self.hold_best(&sale, &request, *quantity, category, *accessible)
                    .await
            }
        }
    }

    async fn hold_best(
        &self,
        sale: &Arc<SeatedSale>,
        request: &HoldSeats,
        quantity: usize,
        category: &str,
        accessible: bool,
    ) -> Result<HeldSeats, HoldError> {
        if quantity > usize::try_from(sale.per_user_cap).unwrap_or(0) {
            return Err(HoldError::InvalidSeats(format!(
                "at most {} seats per person",
                sale.per_user_cap
            )));
        }
        if !sale.seating.prices.contains_key(category) {
            return Err(HoldError::InvalidSeats(format!(
                "category {category:?} is not on sale in this sale"
            )));
        }
        let board = self.boards.board(sale.clone()).await?;
        let rules = Rules {
            avoid_single_gaps: sale.seating.avoid_single_gaps,
        };
        let mut excluding = Vec::new();
        for _ in 0..BEST_ATTEMPTS {
            let free = board.free_mask();
            let is_free = |seat: u32| free.get(seat as usize).copied().unwrap_or(false);
            let want = Request {
                quantity,
                category,
                accessible,
                excluding: &excluding,
            };
            let choice =
                sale.finder()
                    .find(&want, rules, &is_free)
                    .map_err(|error| match error {
                        BestError::NoAdjacentSeats { .. } => {
                            HoldError::NoAdjacentSeats(error.to_string())
                        }
                        other => HoldError::InvalidSeats(other.to_string()),
                    })?;
            match self.try_hold(sale, request, &choice.seats).await? {
                Attempt::Done(held) => return Ok(*held),
                Attempt::Taken(taken) => excluding.extend(taken),
            }
        }
        Err(HoldError::SeatsTaken(Vec::new()))
    }

    async fn try_hold(
        &self,
        sale: &SeatedSale,
        request: &HoldSeats,
        seats: &[u32],
    ) -> Result<Attempt, HoldError> {
        let hold_id = Uuid::now_v7();
        let now = self.clock.now();
        let tag = idempotency_tag(&request.user, &request.idempotency_key);
        let hold = || {
            self.seat_gate.hold(
                &sale.drop_id,
                &request.user,
                now.timestamp_millis(),
                hold_id,
                &tag,
                seats,
            )
        };
        let mut held = hold().await?;
        if held == Held::NotLoaded {
            self.ensure_loaded(&sale.drop_id).await?;
            held = hold().await?;
        }
        match held {
            Held::Held {
                expires_ms, epoch, ..
            } => {
                let new = NewHold {
                    id: hold_id,
                    drop_id: sale.drop_id.clone(),
                    event_id: sale.event_id.clone(),
                    user_id: request.user.clone(),
                    seats: sale.ids(seats),
                    total_cents: sale.total(seats),
                    idempotency_key: request.idempotency_key.clone(),
                    admission_jti: request.admission_jti.clone(),
                    created_at: now,
                    expires_at: chrono::DateTime::from_timestamp_millis(expires_ms).unwrap_or(now),
                    epoch,
                };
                self.record_hold(sale, new, &tag)
                    .await
                    .map(|held| Attempt::Done(Box::new(held)))
            }
            Held::Duplicate(existing) => Ok(Attempt::Done(Box::new(HeldSeats {
                hold: self.wait_for_hold(existing).await?,
                created: false,
                currency: sale.currency.clone(),
            }))),
            Held::Taken(taken) => Ok(Attempt::Taken(taken)),
            Held::NotLoaded => Err(HoldError::Unavailable(
                "the sale is loading; try again".into(),
            )),
            Held::Refused(why) => Err(HoldError::Refused(why)),
        }
    }

    /// Step 2 of holding, and what each outcome means for the Redis hold.
    async fn record_hold(
        &self,
        sale: &SeatedSale,
        hold: NewHold,
        tag: &str,
    ) -> Result<HeldSeats, HoldError> {
        let (drop_id, hold_id, now_ms) = (
            hold.drop_id.clone(),
            hold.id,
            hold.created_at.timestamp_millis(),
        );
        let give_back = || {
            self.seat_gate
                .release(&drop_id, hold_id, ReleaseMode::Unrecorded { tag }, now_ms)
        };
        let written = match self.hold_writer.write(hold.clone()).await {
            Ok(written) => written,
            Err(error) => {
                // Failed before the commit: surely not recorded.
                if let Err(release) = give_back().await {
                    tracing::error!(%release, %hold_id, "unrecorded hold not given back; it lapses");
                }
                return Err(HoldError::Unavailable(error.to_string()));
            }
        };
        let held = |hold, created| HeldSeats {
            hold,
            created,
            currency: sale.currency.clone(),
        };
        match written {
            HoldWrite::Recorded(row) => {
                metrics::counter!("sale_holds_total").increment(1);
                Ok(held(row, true))
            }
            HoldWrite::Duplicate(row) => {
                give_back().await?;
                Ok(held(row, false))
            }
            HoldWrite::Stale => {
                give_back().await?;
                Err(HoldError::Unavailable(
                    "the sale was just reloaded; try again".into(),
                ))
            }
            HoldWrite::SeatClaimed => {
                give_back().await?;
                tracing::error!(drop = drop_id, %hold_id, "PostgreSQL refused a seat Redis gave: a live claim exists");
                metrics::counter!("sale_seat_claims_refused_total").increment(1);
                Err(HoldError::SeatsTaken(hold.seats))
            }
            HoldWrite::Unknown(cause) => {
                tracing::error!(%hold_id, %cause, "hold outcome unknown; the Redis hold lapses on its own");
                Err(HoldError::Unavailable(
                    "the hold could not be confirmed; try again shortly".into(),
                ))
            }
        }
    }

    /// A retry arrived while the first request's hold is being recorded.
    async fn wait_for_hold(&self, hold_id: Uuid) -> Result<HoldRow, HoldError> {
        crate::retry::first_request_record(Duration::from_secs(4), || {
            holds::by_id(&self.db, hold_id)
        })
        .await?
        .ok_or_else(|| HoldError::Unavailable(crate::retry::STILL_IN_PROGRESS.into()))
    }

    /// Gives up a live hold of `user`: PostgreSQL first (released, claims
    /// ended), then Redis (dying between the two leaves the seats held in
    /// Redis until the hold lapses: an undersell for minutes).
    pub async fn release_hold(&self, hold_id: Uuid, user: &str) -> Result<HoldRow, HoldError> {
        let now = self.clock.now();
        let Some(released) = holds::release_by_user(&self.db, hold_id, user, now).await? else {
            return match holds::by_id(&self.db, hold_id).await? {
                Some(hold) if hold.user_id == user => Err(HoldError::NotLive),
                _ => Err(HoldError::UnknownHold),
            };
        };
        if let Err(error) = self
            .seat_gate
            .release(
                &released.drop_id,
                hold_id,
                ReleaseMode::User(user),
                now.timestamp_millis(),
            )
            .await
        {
            tracing::warn!(%error, %hold_id, "hold released in PostgreSQL; Redis lets it lapse");
        }
        Ok(released)
    }

    /// A fan's live holds in a sale (a page reloaded finds its hold).
    pub async fn holds_of(&self, drop_id: &str, user: &str) -> Result<Vec<HoldRow>, HoldError> {
        Ok(holds::live_of_user(&self.db, drop_id, user, self.clock.now()).await?)
    }
}
