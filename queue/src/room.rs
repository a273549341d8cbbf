//! The waiting room's operations, under both the HTTP and the WebSocket
//! surface: join (one place per user per drop), poll (renews the place),
//! leave, and what a fan is told ([`StatusMaker`]: status and admission
//! token, computed without Redis).

use crate::access::{Access, AccessError};
use crate::catalog::{Catalog, CatalogError, DropState};
use crate::clock::QueueClock;
use crate::line::{Joined, Lines, Place};
use crate::status::{status, Admission, Status};
use admission::token::{AdmissionClaims, AdmissionSigner};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;

/// Why a waiting-room operation failed.
#[derive(Debug, thiserror::Error)]
pub enum RoomError {
    #[error("unknown drop")]
    UnknownDrop,
    #[error("you are not in this drop's line; join first")]
    NotInLine,
    #[error("your access to this sale was revoked by its operator")]
    Revoked,
    #[error("this line is invite-only: an access code (or an invitation) is required")]
    AccessRequired,
    #[error(transparent)]
    Access(AccessError),
    #[error("the queue is unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<redis::RedisError> for RoomError {
    fn from(error: redis::RedisError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

impl From<AccessError> for RoomError {
    fn from(error: AccessError) -> Self {
        match error {
            AccessError::Unavailable(cause) => Self::Unavailable(cause),
            refused => Self::Access(refused),
        }
    }
}

impl From<CatalogError> for RoomError {
    fn from(error: CatalogError) -> Self {
        Self::Unavailable(error.to_string())
    }
}

/// What a fan is told, computed from the drop's broadcast state: pure (no
/// Redis), so a WebSocket session computes it on every change for free.
#[derive(Clone)]
pub struct StatusMaker {
    pub clock: QueueClock,
    signer: Arc<AdmissionSigner>,
    admission_ttl: Duration,
    checkout_url: Arc<str>,
}

impl StatusMaker {
    pub fn new(
        clock: QueueClock,
        signer: Arc<AdmissionSigner>,
        admission_ttl: Duration,
        checkout_url: &str,
    ) -> Self {
        Self {
            clock,
            signer,
            admission_ttl,
            checkout_url: checkout_url.into(),
        }
    }

    /// The admission of `user`, admitted at `at_ms`: a token valid from then
    /// for the admission lifetime. Ed25519 signatures are deterministic, so
    /// any node re-issues the very same token to a reconnecting fan.
    pub fn admission(&self, drop: &str, user: &str, at_ms: i64) -> anyhow::Result<Admission> {
        let iat = u64::try_from(at_ms / 1000).unwrap_or(0);
        let exp = iat + self.admission_ttl.as_secs();
        let jti = hex::encode(&Sha256::digest(format!("{drop}\0{user}\0{at_ms}"))[..16]);
        let claims = AdmissionClaims {
            sub: user.to_string(),
            drop: drop.to_string(),
            iat,
            nbf: iat,
            exp,
            jti,
        };
        Ok(Admission {
            token: self.signer.sign(&claims)?,
            expires_at: chrono::DateTime::from_timestamp(exp as i64, 0).unwrap_or_default(),
            checkout_url: self.checkout_url.replace("{drop}", drop),
        })
    }

    /// Admissions at or before this have run out (their token expired).
    pub fn admission_cutoff_ms(&self) -> i64 {
        self.clock.now_ms() - self.admission_ttl.as_millis() as i64
    }

    /// True when an admission made at `at_ms` has run out.
    pub fn admission_expired(&self, at_ms: i64) -> bool {
        at_ms < self.admission_cutoff_ms()
    }

    /// When an admission made at `at_ms` runs out, in ms.
    pub fn admission_ends_ms(&self, at_ms: i64) -> i64 {
        at_ms + self.admission_ttl.as_millis() as i64
    }

    /// The status of `user` at `place` (an exact reading).
    pub fn status_of(&self, state: &DropState, user: &str, place: Place) -> anyhow::Result<Status> {
        let now = self.clock.now();
        Ok(match place {
            Place::Admitted { at_ms } => {
                let admission = self.admission(&state.settings.id, user, at_ms)?;
                status(state, now, None, Some(admission))
            }
            Place::Waiting { rank, .. } => status(state, now, Some(rank + 1), None),
        })
    }

    /// The status of a fan admitted with `admission` (already made).
    pub fn admitted_with(&self, state: &DropState, admission: Admission) -> Status {
        status(state, self.clock.now(), None, Some(admission))
    }

    /// The status of a waiting fan at an estimated `position`.
    pub fn waiting_at(&self, state: &DropState, position: u64) -> Status {
        status(state, self.clock.now(), Some(position), None)
    }

    /// A closed drop's answer for everyone, without a place: nothing is sold
    /// any more and its line is freed (see the pump), so Redis is not asked.
    pub fn closed_status(&self, state: &DropState) -> Option<Status> {
        state
            .is_closed()
            .then(|| status(state, self.clock.now(), None, None))
    }
}

/// The waiting room; cheap to clone.
#[derive(Clone)]
pub struct WaitingRoom {
    pub lines: Lines,
    pub catalog: Catalog,
    pub statuses: StatusMaker,
    pub access: Access,
}

impl WaitingRoom {
    /// The drop's current state (loaded on first use).
    pub async fn drop_state(&self, drop_id: &str) -> Result<Arc<DropState>, RoomError> {
        self.catalog
            .get(drop_id)
            .await?
            .ok_or(RoomError::UnknownDrop)
    }

    /// Joins the line (or finds the user's place): one place per user per
    /// drop. Before opening the place is drawn; after, first come, first
    /// served. An admission that ran out puts the fan back at the end. An
    /// invite-only drop takes `code` (redeemed once; later joins need none).
    pub async fn join(
        &self,
        state: &DropState,
        user: &str,
        code: Option<&str>,
    ) -> Result<Place, RoomError> {
        let clock = &self.statuses.clock;
        let drop_id = &state.settings.id;
        let access = state.settings.access.as_str();
        if access == "code" {
            if let Some(code) = code {
                self.access.redeem(drop_id, user, code).await?;
            }
        }
        let seed =
            (clock.now() < state.settings.opens_at).then_some(state.settings.draw_seed.as_str());
        let mut loaded = false;
        let place = loop {
            let joined = self
                .lines
                .join(
                    drop_id,
                    user,
                    clock.now_ms(),
                    seed,
                    self.statuses.admission_cutoff_ms(),
                    access,
                )
                .await?;
            match joined {
                Joined::Place(place) => break place,
                Joined::Revoked => return Err(RoomError::Revoked),
                Joined::AccessRequired => return Err(RoomError::AccessRequired),
                Joined::AccessUnloaded if !loaded => {
                    self.access.load(drop_id).await?;
                    loaded = true;
                }
                Joined::AccessUnloaded => {
                    return Err(RoomError::Unavailable("access keys not loaded".into()))
                }
            }
        };
        metrics::counter!("queue_joins_total").increment(1);
        if matches!(place, Place::Waiting { .. }) {
            self.catalog.note_join(drop_id);
        }
        Ok(place)
    }

    /// `POST .../queue`: join, and the status.
    pub async fn join_status(
        &self,
        drop_id: &str,
        user: &str,
        code: Option<&str>,
    ) -> Result<Status, RoomError> {
        let state = self.drop_state(drop_id).await?;
        if let Some(closed) = self.statuses.closed_status(&state) {
            return Ok(closed);
        }
        let place = self.join(&state, user, code).await?;
        Ok(self.statuses.status_of(&state, user, place)?)
    }

    /// `GET .../queue`: the status, renewing the place. A fan whose
    /// admission ran out is put back at the end of the line (as a new join
    /// would), never told `admitted` with a dead token.
    pub async fn poll_status(&self, drop_id: &str, user: &str) -> Result<Status, RoomError> {
        let state = self.drop_state(drop_id).await?;
        if let Some(closed) = self.statuses.closed_status(&state) {
            return Ok(closed);
        }
        let place = match self.lines.place(drop_id, user).await? {
            Some(place) => place,
            // The place of a revoked fan is taken with the revocation.
            None if self.lines.is_revoked(drop_id, user).await? => return Err(RoomError::Revoked),
            None => return Err(RoomError::NotInLine),
        };
        let place = match place {
            Place::Admitted { at_ms } if self.statuses.admission_expired(at_ms) => {
                self.join(&state, user, None).await?
            }
            Place::Waiting { .. } => {
                self.lines
                    .touch(drop_id, user, self.statuses.clock.now_ms())
                    .await?;
                place
            }
            admitted => admitted,
        };
        Ok(self.statuses.status_of(&state, user, place)?)
    }

    /// `DELETE .../queue`: leave the line (an admitted fan keeps the
    /// admission). True when the user was waiting.
    pub async fn leave(&self, drop_id: &str, user: &str) -> Result<bool, RoomError> {
        self.drop_state(drop_id).await?;
        Ok(self.lines.leave(drop_id, user).await?)
    }
}
