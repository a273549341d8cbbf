//! Drops: create, change, list, show, stats; and loading a drop into Redis
//! when it is missing there (the rebuild behind the epoch fence).

use crate::domain::Sale;
use crate::gate::QueueCounters;
use crate::store::drops::{self, DropChange, DropRow, NewDrop};
use crate::store::orders::{self, StatusTotals};
use admission::contract::DropState;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

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

/// A drop id is a slug: lowercase letters, digits and dashes, 1 to 64 long.
pub fn valid_drop_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

fn default_cap() -> i32 {
    2
}
fn default_timeout() -> i32 {
    3600
}
fn default_rate() -> f64 {
    50.0
}
fn default_max_active() -> i32 {
    1000
}

/// `POST /api/drops`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDrop {
    pub id: String,
    pub name: String,
    pub stock: i64,
    pub price_cents: i64,
    pub currency: String,
    pub opens_at: DateTime<Utc>,
    #[serde(default = "default_cap")]
    pub per_user_cap: i32,
    #[serde(default = "default_timeout")]
    pub order_timeout_secs: i32,
    #[serde(default = "default_rate")]
    pub admission_rate_per_sec: f64,
    #[serde(default = "default_max_active")]
    pub max_active: i32,
}

fn check(ok: bool, message: &str) -> Result<(), DropError> {
    if ok {
        Ok(())
    } else {
        Err(DropError::Invalid(message.to_string()))
    }
}

fn check_rate(rate: f64) -> Result<(), DropError> {
    check(
        rate.is_finite() && rate > 0.0 && rate <= 100_000.0,
        "admission_rate_per_sec must be more than 0 and at most 100000",
    )
}

fn check_max_active(max_active: i32) -> Result<(), DropError> {
    check(
        (1..=10_000_000).contains(&max_active),
        "max_active must be from 1 to 10000000",
    )
}

/// A display name: 1 to `max` characters (not bytes), no control characters
/// (PostgreSQL refuses U+0000 in text, and the others make no sense in a
/// name).
pub fn valid_name(name: &str, max: usize) -> bool {
    let count = name.chars().count();
    (1..=max).contains(&count) && !name.chars().any(char::is_control)
}

impl CreateDrop {
    fn validate(self) -> Result<NewDrop, DropError> {
        check(
            valid_drop_id(&self.id),
            "id must be 1-64 lowercase letters, digits or dashes",
        )?;
        let name = self.name.trim().to_string();
        check(
            valid_name(&name, 200),
            "name must be 1-200 characters, without control characters",
        )?;
        check(
            (0..=1_000_000_000).contains(&self.stock),
            "stock must be from 0 to 1000000000",
        )?;
        check(
            (0..=100_000_000_000).contains(&self.price_cents),
            "price_cents must be from 0 to 100000000000",
        )?;
        check(
            self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "currency must be a three-letter ISO code such as EUR",
        )?;
        check(
            (2000..=9999).contains(&self.opens_at.year()),
            "opens_at must be a date between the years 2000 and 9999",
        )?;
        check(
            (1..=100).contains(&self.per_user_cap),
            "per_user_cap must be from 1 to 100",
        )?;
        check(
            (1..=7 * 24 * 3600).contains(&self.order_timeout_secs),
            "order_timeout_secs must be from 1 to 604800",
        )?;
        check_rate(self.admission_rate_per_sec)?;
        check_max_active(self.max_active)?;
        Ok(NewDrop {
            id: self.id,
            name,
            stock: self.stock,
            price_cents: self.price_cents,
            currency: self.currency,
            opens_at: self.opens_at,
            per_user_cap: self.per_user_cap,
            order_timeout_secs: self.order_timeout_secs,
            admission_rate_per_sec: self.admission_rate_per_sec,
            max_active: self.max_active,
        })
    }
}

/// `PATCH /api/drops/{id}`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDrop {
    pub admission_rate_per_sec: Option<f64>,
    pub max_active: Option<i32>,
    pub add_stock: Option<i64>,
    /// `open` (also: resume), `paused` or `closed`.
    pub state: Option<String>,
}

impl ChangeDrop {
    fn validate(self) -> Result<DropChange, DropError> {
        if let Some(rate) = self.admission_rate_per_sec {
            check_rate(rate)?;
        }
        if let Some(max_active) = self.max_active {
            check_max_active(max_active)?;
        }
        if let Some(add) = self.add_stock {
            check(
                (1..=1_000_000_000).contains(&add),
                "add_stock must be from 1 to 1000000000",
            )?;
        }
        let state = match self.state.as_deref() {
            None => None,
            Some(text) => Some(DropState::parse(text).ok_or_else(|| {
                DropError::Invalid("state must be open, paused or closed".into())
            })?),
        };
        let change = DropChange {
            admission_rate_per_sec: self.admission_rate_per_sec,
            max_active: self.max_active,
            add_stock: self.add_stock,
            state,
        };
        check(
            change.admission_rate_per_sec.is_some()
                || change.max_active.is_some()
                || change.add_stock.is_some()
                || change.state.is_some(),
            "nothing to change",
        )?;
        Ok(change)
    }
}

/// Where a drop's sale stands, as the API shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SaleState {
    Scheduled,
    Open,
    Paused,
    SoldOut,
    Closed,
}

/// A drop as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DropView {
    pub id: String,
    pub name: String,
    pub state: SaleState,
    pub stock: i64,
    pub remaining: i64,
    pub price_cents: i64,
    pub currency: String,
    pub opens_at: DateTime<Utc>,
    pub per_user_cap: i32,
    pub order_timeout_secs: i32,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// SHA-256 (hex) of the pre-queue draw's secret seed, published from the
    /// start; the seed is revealed by the queue service after opening.
    pub draw_seed_sha256: String,
}

impl DropView {
    pub fn new(drop: DropRow, remaining: i64, now: DateTime<Utc>) -> Self {
        let state = match drop.state {
            DropState::Closed => SaleState::Closed,
            DropState::Paused => SaleState::Paused,
            DropState::Open if remaining <= 0 => SaleState::SoldOut,
            DropState::Open if now < drop.opens_at => SaleState::Scheduled,
            DropState::Open => SaleState::Open,
        };
        Self {
            state,
            remaining,
            draw_seed_sha256: {
                use sha2::{Digest, Sha256};
                Sha256::digest(drop.draw_seed.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            },
            id: drop.id,
            name: drop.name,
            stock: drop.stock,
            price_cents: drop.price_cents,
            currency: drop.currency,
            opens_at: drop.opens_at,
            per_user_cap: drop.per_user_cap,
            order_timeout_secs: drop.order_timeout_secs,
            admission_rate_per_sec: drop.admission_rate_per_sec,
            max_active: drop.max_active,
            created_at: drop.created_at,
            updated_at: drop.updated_at,
        }
    }
}

/// A drop's live counters, for operators.
#[derive(Debug, Serialize)]
pub struct DropStats {
    pub drop_id: String,
    pub state: SaleState,
    pub stock: i64,
    pub remaining: i64,
    /// Units reserved in Redis (pending + paid, including writes in flight).
    pub reserved: i64,
    pub pending: StatusTotals,
    pub paid: StatusTotals,
    pub cancelled: StatusTotals,
    pub expired: StatusTotals,
    pub refunded: StatusTotals,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    /// The waiting room: waiting, admitted so far, active shoppers.
    pub queue: QueueCounters,
}

/// Where a page of the drop list starts: after this drop in the list's order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DropCursor {
    pub opens_at: DateTime<Utc>,
    pub id: String,
}

impl DropCursor {
    /// Opaque to clients: `<opens_at micros>.<id>`, base64url.
    pub fn encode(&self) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!(
            "{}.{}",
            self.opens_at.timestamp_micros(),
            self.id
        ))
    }

    pub fn decode(text: &str) -> Option<Self> {
        use base64::Engine;
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(text)
            .ok()?;
        let raw = String::from_utf8(raw).ok()?;
        let (micros, id) = raw.split_once('.')?;
        let opens_at = DateTime::from_timestamp_micros(micros.parse().ok()?)?;
        valid_drop_id(id).then(|| Self {
            opens_at,
            id: id.to_string(),
        })
    }
}

/// Most drops one page of the list holds.
pub const MAX_PAGE: i64 = 200;

impl Sale {
    /// Creates a drop: PostgreSQL first, then Redis, then an announcement to
    /// the queue nodes. If this process dies after the first, or Redis is
    /// down, the drop is recorded but not loaded; the first order loads it
    /// (see [`Sale::ensure_loaded`]) and the queue loads it on first request.
    pub async fn create_drop(&self, body: CreateDrop) -> Result<DropView, DropError> {
        let new = body.validate()?;
        let drop = drops::insert(&self.db, &new)
            .await?
            .ok_or_else(|| DropError::Exists(new.id.clone()))?;
        if let Err(error) = self.gate.create(&drop.id, &drop.gate_state()).await {
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

    /// Tells the queue nodes at once; a missed announcement is caught by
    /// their next settings refresh.
    async fn announce(&self, drop_id: &str) {
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
    /// 3. Commit, then load Redis with the new epoch. Dying between 3's two
    ///    steps leaves Redis empty: the next order starts another rebuild.
    ///
    /// While one request of this process rebuilds a drop, the others answer 503
    /// `unavailable` at once rather than queueing on the lock.
    pub async fn ensure_loaded(&self, drop_id: &str) -> Result<(), crate::orders::OrderError> {
        use crate::orders::OrderError;
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
        if self.gate.counters(drop_id).await?.is_some() {
            return Ok(()); // another process loaded it while we waited
        }
        let drop = drops::bump_redis_epoch(&mut tx, drop_id).await?;
        let holdings = orders::holdings(&mut tx, drop_id).await?;
        tx.commit().await?;
        if self
            .gate
            .rebuild(drop_id, &drop.gate_state(), &holdings)
            .await?
        {
            metrics::counter!("sale_drop_rebuilds_total").increment(1);
            tracing::warn!(
                drop = drop_id,
                epoch = drop.redis_epoch,
                orders = holdings.len(),
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

#[cfg(test)]
mod tests {
    use super::*;

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
