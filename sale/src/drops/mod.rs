//! Drops: create, change, list, show, stats; and loading a drop into Redis
//! when it is missing there (the rebuild behind the epoch fence).
//!
//! - [`rules`]: the create and change requests and what each field must be.
//! - [`view`]: how a drop, its stats and the list's cursor are shown.
//! - [`rebuild`]: loading a drop missing from Redis from PostgreSQL.

pub mod rebuild;
pub mod rules;
pub mod view;

pub use rules::{valid_drop_id, valid_name, ChangeDrop, CreateDrop};
pub use view::{DropCursor, DropStats, DropView, SaleState, MAX_PAGE};

use crate::domain::Sale;
use crate::store::drops::{self, DropRow};
use crate::store::orders;
use admission::contract::DropState;

/// Why a drop operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DropError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown drop")]
    Unknown,
    #[error("a drop with id {0} exists")]
    Exists(String),
    #[error("a closed drop cannot be reopened or paused")]
    Closed,
    #[error("{0}")]
    Unavailable(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Redis(#[from] redis::RedisError),
}

impl Sale {
    /// Creates a drop: PostgreSQL first, then Redis, then an announcement to
    /// the queue nodes. If this process dies after the first, or Redis is
    /// down, the drop is recorded but not loaded; the first order loads it
    /// (see [`Sale::ensure_loaded`]) and the queue loads it on first request.
    pub async fn create_drop(&self, body: CreateDrop) -> Result<DropView, DropError> {
        let (mut new, seating) = body.validate()?;
        if let Some(event_id) = &new.event_id {
            let event = crate::store::events::get(&self.db, event_id)
                .await?
                .ok_or_else(|| DropError::Invalid(format!("no event {event_id}")))?;
            if let Some(seating) = seating {
                self.seat_the_sale(&mut new, &event.venue_id, seating)
                    .await?;
            }
        }
        let drop = drops::insert(&self.db, &new)
            .await?
            .ok_or_else(|| DropError::Exists(new.id.clone()))?;
        // Revocations first (see `crate::revocation`): without them the drop
        // is left for the order path's rebuild to load.
        let loaded = match self.restore_revocations(&drop.id).await {
            Ok(()) => self
                .gate
                .create(&drop.id, &drop.gate_state())
                .await
                .map(|_| ()),
            Err(error) => Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "revocations not restored",
                error.to_string(),
            ))),
        };
        if let Err(error) = loaded {
            tracing::warn!(%error, drop = drop.id, "drop created but not loaded into Redis yet");
        }
        self.announce(&drop.id).await;
        tracing::info!(drop = drop.id, stock = drop.stock, "drop created");
        Ok(self.view(drop).await)
    }

    /// Applies an operator's change: PostgreSQL first, then Redis. Should
    /// Redis miss it (down, or this process dies now), the settings sync
    /// copies it within a few seconds.
    pub async fn change_drop(&self, id: &str, body: ChangeDrop) -> Result<DropView, DropError> {
        let change = body.validate()?;
        let existing = self.find(id).await?;
        let drop = match drops::update(&self.db, id, &change).await? {
            Some(drop) => drop,
            None if existing.state == DropState::Closed => return Err(DropError::Closed),
            None => return Err(DropError::Unknown),
        };
        if let Err(error) = self.gate.sync(&drop.id, &drop.gate_state()).await {
            tracing::warn!(%error, drop = drop.id, "drop changed but Redis not updated yet");
        }
        self.announce(&drop.id).await;
        tracing::info!(drop = drop.id, ?change, "drop changed");
        Ok(self.view(drop).await)
    }

    /// Makes `new` a seated sale of the venue's current map: its stock is
    /// the seats in the categories on sale, its price the lowest of theirs.
    async fn seat_the_sale(
        &self,
        new: &mut drops::NewDrop,
        venue_id: &str,
        seating: crate::seats::SeatingRequest,
    ) -> Result<(), DropError> {
        let venue = crate::store::venues::get(&self.db, venue_id)
            .await?
            .ok_or_else(|| DropError::Invalid(format!("no venue {venue_id}")))?;
        let version = venue.map_version.ok_or_else(|| {
            DropError::Invalid(format!("venue {venue_id} has no seat map to sell"))
        })?;
        let map = self
            .load_map(venue_id, version)
            .await
            .map_err(|error| DropError::Unavailable(error.to_string()))?;
        let (seating, stock) = seating
            .validate(&map.0, version)
            .map_err(DropError::Invalid)?;
        new.stock = stock;
        new.price_cents = seating.prices.values().copied().min().unwrap_or(0);
        new.seating = Some(seating);
        Ok(())
    }

    /// Tells the queue nodes at once; a missed announcement is caught by
    /// their next settings refresh.
    pub(crate) async fn announce(&self, drop_id: &str) {
        if let Err(error) = self.gate.announce_change(drop_id).await {
            tracing::debug!(%error, "drop change not announced; queues see it at their next refresh");
        }
    }

    pub async fn find(&self, id: &str) -> Result<DropRow, DropError> {
        if !valid_drop_id(id) {
            return Err(DropError::Unknown);
        }
        drops::get(&self.db, id).await?.ok_or(DropError::Unknown)
    }

    pub async fn drop_view(&self, id: &str) -> Result<DropView, DropError> {
        let drop = self.find(id).await?;
        Ok(self.view(drop).await)
    }

    /// One page of drops, newest opening first, with their live counters
    /// read in one Redis round trip; and the cursor of the next page.
    pub async fn list_drops(
        &self,
        after: Option<DropCursor>,
        limit: i64,
    ) -> Result<(Vec<DropView>, Option<DropCursor>), DropError> {
        let limit = limit.clamp(1, MAX_PAGE);
        let rows =
            drops::page_by_opening(&self.db, after.map(|c| (c.opens_at, c.id)), limit + 1).await?;
        let more = rows.len() as i64 > limit;
        let rows: Vec<DropRow> = rows.into_iter().take(limit as usize).collect();
        let next = more.then(|| rows.last()).flatten().map(|last| DropCursor {
            opens_at: last.opens_at,
            id: last.id.clone(),
        });
        let ids: Vec<&str> = rows.iter().map(|d| d.id.as_str()).collect();
        let counters = self.gate.counters_many(&ids).await.unwrap_or_default();
        let now = self.clock.now();
        let views = rows
            .into_iter()
            .enumerate()
            .map(|(i, drop)| {
                let left = match counters.get(i).copied().flatten() {
                    Some(c) => c.stock - c.sold,
                    None => drop.stock - drop.held,
                };
                DropView::new(drop, left, now)
            })
            .collect();
        Ok((views, next))
    }

    /// Units left: Redis's live count when it has the drop, else PostgreSQL's.
    async fn view(&self, drop: DropRow) -> DropView {
        let left = match self.gate.counters(&drop.id).await {
            Ok(Some(counters)) => counters.stock - counters.sold,
            _ => drop.stock - drop.held,
        };
        DropView::new(drop, left, self.clock.now())
    }

    pub async fn drop_stats(&self, id: &str) -> Result<DropStats, DropError> {
        let drop = self.find(id).await?;
        let mut totals = orders::totals_by_status(&self.db, id).await?;
        let reserved = match self.gate.counters(id).await? {
            Some(counters) => counters.sold,
            None => drop.held,
        };
        let mut take = |status: &str| totals.remove(status).unwrap_or_default();
        let (pending, paid, cancelled, expired, refunded) = (
            take("pending"),
            take("paid"),
            take("cancelled"),
            take("expired"),
            take("refunded"),
        );
        let now = self.clock.now();
        let view = DropView::new(drop.clone(), drop.stock - reserved, now);
        let active_since = now.timestamp_millis() - self.admission_ttl.as_millis() as i64;
        let queue = self.gate.queue_counters(id, active_since).await?;
        Ok(DropStats {
            drop_id: view.id,
            state: view.state,
            stock: view.stock,
            remaining: view.remaining,
            reserved,
            pending,
            paid,
            cancelled,
            expired,
            refunded,
            admission_rate_per_sec: view.admission_rate_per_sec,
            max_active: view.max_active,
            queue,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::DateTime;

    #[test]
    fn names_count_characters_and_refuse_control_characters() {
        assert!(
            valid_name(&"é".repeat(200), 200),
            "200 characters, 400 bytes"
        );
        assert!(!valid_name(&"é".repeat(201), 200));
        assert!(!valid_name("a\u{0}b", 200));
        assert!(!valid_name("a\nb", 200));
        assert!(!valid_name("", 200));
    }

    #[test]
    fn cursors_round_trip_and_refuse_tampering() {
        let cursor = DropCursor {
            opens_at: DateTime::from_timestamp(1_800_000_000, 5_000).unwrap_or_default(),
            id: "sneaker-1".into(),
        };
        assert_eq!(DropCursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(DropCursor::decode("not base64!"), None);
        use base64::Engine;
        let evil = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("1.DROP TABLE");
        assert_eq!(DropCursor::decode(&evil), None);
    }
}
