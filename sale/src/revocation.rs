//! Revocation (bot defence): an operator bars a user, or one admission
//! token, from buying.
//!
//! Revoking a user, step by step, and what a crash between steps leaves:
//! 1. PostgreSQL records the user in `revoked_users` (the durable record).
//! 2. Every live drop's Redis copy gets the user (`revoke.lua`): the queue's
//!    join and this service's reserve script refuse them from this call on,
//!    on every node at once (the check is in the shared Redis, in the same
//!    script that reserves, so it costs no extra round trip), and their
//!    place in the line, their admission and their shopping slot are gone.
//! 3. Their pending orders are cancelled through the ordinary cancel path
//!    (PostgreSQL first, then the units back to Redis, at most once by the
//!    reservation record), and once more after the longest order write, so
//!    an order reserved just before step 2 and recorded after step 3's
//!    query is caught too.
//!
//! Dies after 1: the revocation is recorded; a drop loaded into Redis later
//! (created, or rebuilt after Redis lost it) copies it from PostgreSQL, and
//! the operator's retry (idempotent) finishes 2 and 3. A Redis rebuild of a
//! drop copies every revoked user and unexpired revoked token back.
//!
//! A token (`jti`) is revoked in its drop until it would have expired anyway
//! (the admission lifetime from now is an upper bound).

use crate::domain::Sale;
use crate::orders::OrderError;
use crate::store::drops;
use crate::store::revocations;
use serde::Serialize;
use std::time::Duration;

/// What revoking a user did.
#[derive(Debug, Clone, Serialize)]
pub struct UserRevoked {
    pub user: String,
    /// Live drops the revocation was written into.
    pub drops: usize,
    /// Drops where the user lost a place (waiting, admitted or shopping).
    pub places_taken: usize,
    /// Pending orders cancelled (their units returned).
    pub orders_cancelled: usize,
}

/// What revoking a token did.
#[derive(Debug, Clone, Serialize)]
pub struct TokenRevoked {
    pub jti: String,
    pub drop: String,
    pub until: chrono::DateTime<chrono::Utc>,
}

/// Longest id or jti accepted.
const MAX_SUBJECT: usize = 200;

fn valid_subject(text: &str) -> bool {
    !text.is_empty() && text.len() <= MAX_SUBJECT && !text.chars().any(char::is_control)
}

/// Why a revocation was refused.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown drop")]
    UnknownDrop,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
    #[error(transparent)]
    Order(#[from] OrderError),
}

impl Sale {
    /// Revokes `user` everywhere (see the module text). Idempotent.
    pub async fn revoke_user(&self, user: &str, reason: &str) -> Result<UserRevoked, RevokeError> {
        if !valid_subject(user) || reason.len() > 500 {
            return Err(RevokeError::Invalid(
                "user must be 1-200 characters, reason at most 500".into(),
            ));
        }
        revocations::insert_user(&self.db, user, reason).await?;
        let (mut drops_seen, mut places_taken) = (0, 0);
        let mut after = String::new();
        loop {
            let page = drops::live_page(&self.db, &after, 500).await?;
            for drop in &page {
                drops_seen += 1;
                if self.gate.revoke_user(&drop.id, user).await? {
                    places_taken += 1;
                }
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = last.id.clone(),
                _ => break,
            }
        }
        let orders_cancelled = self.cancel_pending_of(user).await?;
        // An order reserved just before the revocation reached its drop may
        // still be on its way into PostgreSQL: look again once it must have.
        let sale = self.clone();
        let late = self.write_timeout + Duration::from_secs(1);
        let who = user.to_string();
        self.tasks.spawn(async move {
            tokio::time::sleep(late).await;
            if let Err(error) = sale.cancel_pending_of(&who).await {
                tracing::warn!(%error, user = who, "second cancel pass of a revoked user failed");
            }
        });
        metrics::counter!("sale_revocations_total", "kind" => "user").increment(1);
        tracing::info!(
            user,
            drops = drops_seen,
            places_taken,
            orders_cancelled,
            "user revoked"
        );
        Ok(UserRevoked {
            user: user.to_string(),
            drops: drops_seen,
            places_taken,
            orders_cancelled,
        })
    }

    /// Cancels every pending order of `user` (a payment in flight is left
    /// to finish); how many were cancelled here.
    async fn cancel_pending_of(&self, user: &str) -> Result<usize, RevokeError> {
        let mut cancelled = 0;
        for order_id in revocations::pending_orders_of(&self.db, user).await? {
            match self.cancel_order(order_id, user).await {
                Ok(_) => cancelled += 1,
                Err(OrderError::NotPending(_) | OrderError::PaymentInProgress) => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(cancelled)
    }

    /// Lifts a user's revocation: PostgreSQL, then every live drop.
    /// Orders cancelled and places taken stay so.
    pub async fn lift_user(&self, user: &str) -> Result<bool, RevokeError> {
        let lifted = revocations::delete_user(&self.db, user).await?;
        let mut after = String::new();
        loop {
            let page = drops::live_page(&self.db, &after, 500).await?;
            for drop in &page {
                self.gate.lift_user(&drop.id, user).await?;
            }
            match page.last() {
                Some(last) if page.len() == 500 => after = last.id.clone(),
                _ => break,
            }
        }
        Ok(lifted)
    }

    /// Revokes one admission token of `drop_id` until it would have
    /// expired (now + the admission lifetime). Idempotent.
    pub async fn revoke_token(
        &self,
        drop_id: &str,
        jti: &str,
    ) -> Result<TokenRevoked, RevokeError> {
        if !valid_subject(jti) {
            return Err(RevokeError::Invalid("jti must be 1-200 characters".into()));
        }
        drops::get(&self.db, drop_id)
            .await?
            .ok_or(RevokeError::UnknownDrop)?;
        let now = self.clock.now();
        let until = now
            + chrono::Duration::from_std(self.admission_ttl)
                .unwrap_or_else(|_| chrono::Duration::hours(1));
        revocations::insert_token(&self.db, jti, drop_id, until).await?;
        self.gate
            .revoke_token(
                drop_id,
                jti,
                until.timestamp_millis(),
                now.timestamp_millis(),
            )
            .await?;
        metrics::counter!("sale_revocations_total", "kind" => "token").increment(1);
        tracing::info!(drop = drop_id, jti, "admission token revoked");
        Ok(TokenRevoked {
            jti: jti.to_string(),
            drop: drop_id.to_string(),
            until,
        })
    }

    /// Copies PostgreSQL's revocations into a drop just loaded into Redis.
    pub(crate) async fn restore_revocations(&self, drop_id: &str) -> Result<(), RevokeError> {
        let users = revocations::users(&self.db).await?;
        let tokens: Vec<(String, i64)> =
            revocations::live_tokens(&self.db, drop_id, self.clock.now())
                .await?
                .into_iter()
                .map(|(jti, until)| (jti, until.timestamp_millis()))
                .collect();
        self.gate.load_revocations(drop_id, &users, &tokens).await?;
        Ok(())
    }
}
