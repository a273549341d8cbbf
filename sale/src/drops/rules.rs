//! What a drop may be: the operator's create and change requests and the
//! rules each field must meet (a bad field changes nothing: 422).

use super::DropError;
use crate::store::drops::{DropChange, NewDrop};
use admission::contract::DropState;
use chrono::{DateTime, Datelike, Utc};
use serde::Deserialize;

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
    /// Units on sale (an unseated sale); a seated sale's stock is its seats.
    pub stock: Option<i64>,
    /// The unit price (an unseated sale); a seated sale's prices are per
    /// category (this is then the lowest).
    pub price_cents: Option<i64>,
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
    /// The event this sale belongs to (required for a seated sale).
    pub event_id: Option<String>,
    /// A seated sale: the categories on sale with their prices, the hold time.
    pub seating: Option<crate::seats::SeatingRequest>,
    /// A hot unseated sale: its stock split over this many Redis buckets
    /// (1 to 16, default 1), each on its own Cluster slot; see
    /// `crate::gate::buckets`. Fixed once the drop exists.
    pub stock_buckets: Option<i32>,
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
    /// Checks every field that needs nothing else; the new drop (its stock
    /// and prices still to come from the seat map, for a seated sale) and
    /// the seating asked for.
    pub(super) fn validate(
        self,
    ) -> Result<(NewDrop, Option<crate::seats::SeatingRequest>), DropError> {
        check(
            valid_drop_id(&self.id),
            "id must be 1-64 lowercase letters, digits or dashes",
        )?;
        let name = self.name.trim().to_string();
        check(
            valid_name(&name, 200),
            "name must be 1-200 characters, without control characters",
        )?;
        match (&self.seating, self.stock, self.price_cents) {
            (Some(_), stock, _) => {
                check(
                    stock.is_none(),
                    "a seated sale's stock is its seats on sale: leave stock out",
                )?;
                check(
                    self.event_id.is_some(),
                    "a seated sale belongs to an event: give event_id",
                )?;
            }
            (None, Some(stock), Some(price)) => {
                check(
                    (0..=1_000_000_000).contains(&stock),
                    "stock must be from 0 to 1000000000",
                )?;
                check(
                    (0..=100_000_000_000).contains(&price),
                    "price_cents must be from 0 to 100000000000",
                )?;
            }
            (None, _, _) => {
                return Err(DropError::Invalid(
                    "give stock and price_cents (or seating, for a seated sale)".into(),
                ))
            }
        }
        if let Some(event) = &self.event_id {
            check(valid_drop_id(event), "event_id must be an event's id")?;
        }
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
        let stock_buckets = self.stock_buckets.unwrap_or(1);
        check(
            (1..=crate::gate::buckets::MAX_BUCKETS as i32).contains(&stock_buckets),
            "stock_buckets must be from 1 to 16",
        )?;
        check(
            stock_buckets == 1 || self.seating.is_none(),
            "a seated sale's seats are not split into stock buckets: leave stock_buckets out",
        )?;
        Ok((
            NewDrop {
                id: self.id,
                name,
                stock: self.stock.unwrap_or(0),
                price_cents: self.price_cents.unwrap_or(0),
                currency: self.currency,
                opens_at: self.opens_at,
                per_user_cap: self.per_user_cap,
                order_timeout_secs: self.order_timeout_secs,
                admission_rate_per_sec: self.admission_rate_per_sec,
                max_active: self.max_active,
                event_id: self.event_id,
                seating: None,
                stock_buckets,
            },
            self.seating,
        ))
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
    pub(super) fn validate(self) -> Result<DropChange, DropError> {
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
