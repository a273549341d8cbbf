//! Seated sales: fans hold chosen seats (or the best available) for
//! minutes, then order exactly those seats; a lapsed hold gives its seats
//! back exactly once; every open seat map sees a seat taken within a second.
//!
//! - [`sale`]: a seated sale's map, prices and which seats are on sale,
//!   and the per-process caches that keep them.
//! - [`load`]: a seated sale loaded on first use from PostgreSQL.
//! - [`gate`]: the seat scripts in Redis (hold, release, order, lapse,
//!   rebuild, snapshot) and their keys.
//! - [`holds`]: the operations: hold, release, a fan's holds.
//! - [`checkout`]: ordering a live hold, exactly its seats.
//! - [`board`]: each process's live copy of every seat's state, fed by the
//!   change log in Redis, behind the snapshot and the event stream.
//! - [`lapse`]: the background loop that gives lapsed holds back (tidying:
//!   correctness never waits for it).
//! - [`rebuild`]: a seated sale lost from Redis, rebuilt from PostgreSQL.
//! - [`writer`]: group commit of the holds of concurrent requests.
//!
//! One seat, one buyer, three times over: the hold script decides in one
//! atomic call; PostgreSQL's exclusion constraint on `seat_claims` refuses
//! two live claims on a seat; the epoch fence refuses writes decided on a
//! Redis copy since rebuilt.

pub mod board;
pub mod checkout;
pub mod gate;
pub mod holds;
pub mod lapse;
pub mod load;
pub mod rebuild;
pub mod sale;
pub mod writer;

pub use sale::SeatedSale;

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Longest and shortest hold an operator may set, seconds.
pub const HOLD_SECS: std::ops::RangeInclusive<i32> = 60..=1800;

/// A seated sale's seating, as `drops.seating` stores it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seating {
    /// The venue map version the sale sells.
    pub map_version: i32,
    /// Categories on sale, with their price in cents.
    pub prices: BTreeMap<String, i64>,
    /// How long a hold lasts, seconds.
    pub hold_secs: i32,
    /// Best available avoids leaving a single seat stranded.
    pub avoid_single_gaps: bool,
}

fn default_hold_secs() -> i32 {
    600
}

fn yes() -> bool {
    true
}

/// The operator's `seating` when creating a seated sale.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatingRequest {
    pub prices: BTreeMap<String, i64>,
    #[serde(default = "default_hold_secs")]
    pub hold_secs: i32,
    #[serde(default = "yes")]
    pub avoid_single_gaps: bool,
}

impl SeatingRequest {
    /// Checks the request against the venue's map; the seating and how many
    /// seats it puts on sale.
    pub fn validate(
        self,
        map: &crate::seating::SeatMap,
        map_version: i32,
    ) -> Result<(Seating, i64), String> {
        if self.prices.is_empty() {
            return Err("seating.prices must name at least one category".into());
        }
        if !HOLD_SECS.contains(&self.hold_secs) {
            return Err(format!(
                "seating.hold_secs must be from {} to {}",
                HOLD_SECS.start(),
                HOLD_SECS.end()
            ));
        }
        for (category, price) in &self.prices {
            if map.category_index(category).is_none() {
                return Err(format!("category {category:?} is not in the venue's map"));
            }
            if !(0..=100_000_000_000).contains(price) {
                return Err(format!(
                    "the price of {category:?} must be from 0 to 100000000000"
                ));
            }
        }
        let on_sale = map
            .seats()
            .iter()
            .filter(|seat| {
                map.categories()
                    .get(usize::from(seat.category))
                    .is_some_and(|c| self.prices.contains_key(&c.id))
            })
            .count() as i64;
        if on_sale == 0 {
            return Err("no seat of the map is in the categories on sale".into());
        }
        Ok((
            Seating {
                map_version,
                prices: self.prices,
                hold_secs: self.hold_secs,
                avoid_single_gaps: self.avoid_single_gaps,
            },
            on_sale,
        ))
    }
}
