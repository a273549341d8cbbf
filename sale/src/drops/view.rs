//! How drops are shown: the sale's state as the API names it, the drop
//! view, the operator's stats, and the list's opaque cursor.

use super::rules::valid_drop_id;
use crate::gate::QueueCounters;
use crate::store::drops::DropRow;
use crate::store::orders::StatusTotals;
use admission::contract::DropState;
use chrono::{DateTime, Utc};
use serde::Serialize;

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
    /// The event this drop sells, if any.
    pub event_id: Option<String>,
    /// A seated sale's seating (the venue map version it sells, the prices
    /// per category, the hold time); `null` for a sale of units. Pages show
    /// the seat map when it is set.
    pub seating: Option<crate::seats::Seating>,
    /// How many Redis buckets the stock is split over (1: the drop's own slot).
    pub stock_buckets: i32,
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
                hex::encode(Sha256::digest(drop.draw_seed.as_bytes()))
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
            event_id: drop.event_id,
            seating: drop.seating.map(|seating| seating.0),
            stock_buckets: drop.stock_buckets,
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
