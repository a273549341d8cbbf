//! A seated sale as every operation needs it: the venue map it sells (and
//! its best-available index), the price of each seat, which seats are on
//! sale; and the caches that keep them. Maps are immutable per version, so
//! each process parses one once and keeps it. Pure data: loading them is
//! [`super::load`]'s job.

use super::Seating;
use crate::seating::{Finder, SeatMap};
use crate::store::drops::DropRow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A seated sale, loaded.
#[derive(Debug)]
pub struct SeatedSale {
    pub drop_id: String,
    pub event_id: String,
    pub venue_id: String,
    pub seating: Seating,
    pub currency: String,
    pub per_user_cap: i32,
    pub order_timeout_secs: i32,
    /// The map and its best-available index (shared by every sale of it).
    indexed: Arc<(SeatMap, Finder)>,
    /// The price of each seat (canonical index); `None`: not on sale here.
    prices: Vec<Option<i64>>,
}

/// Why some requested seats cannot be held at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SeatProblem {
    #[error("name at least one seat")]
    Empty,
    #[error("at most {0} seats per person")]
    TooMany(i32),
    #[error("seat {0:?} is named twice")]
    Twice(String),
    #[error("no seat {0:?} in this venue")]
    Unknown(String),
    #[error("seat {0:?} is not on sale in this sale")]
    NotOnSale(String),
}

impl SeatedSale {
    pub fn new(
        drop: &DropRow,
        venue_id: &str,
        seating: Seating,
        map: Arc<(SeatMap, Finder)>,
    ) -> Self {
        let (seat_map, _) = &*map;
        let prices = seat_map
            .seats()
            .iter()
            .map(|seat| {
                seat_map
                    .categories()
                    .get(usize::from(seat.category))
                    .and_then(|category| seating.prices.get(&category.id).copied())
            })
            .collect();
        Self {
            drop_id: drop.id.clone(),
            event_id: drop.event_id.clone().unwrap_or_default(),
            venue_id: venue_id.into(),
            seating,
            currency: drop.currency.clone(),
            per_user_cap: drop.per_user_cap,
            order_timeout_secs: drop.order_timeout_secs,
            indexed: map,
            prices,
        }
    }

    pub fn map(&self) -> &SeatMap {
        &self.indexed.0
    }

    pub fn finder(&self) -> &Finder {
        &self.indexed.1
    }

    pub fn seat_count(&self) -> usize {
        self.prices.len()
    }

    pub fn on_sale(&self, seat: u32) -> bool {
        self.price(seat).is_some()
    }

    pub fn price(&self, seat: u32) -> Option<i64> {
        self.prices.get(seat as usize).copied().flatten()
    }

    /// The total of some seats (those not on sale count nothing).
    pub fn total(&self, seats: &[u32]) -> i64 {
        seats.iter().filter_map(|s| self.price(*s)).sum()
    }

    /// The seat ids of some indices.
    pub fn ids(&self, seats: &[u32]) -> Vec<String> {
        seats
            .iter()
            .filter_map(|s| self.map().seat_id(*s).map(str::to_string))
            .collect()
    }

    /// The indices of requested seat ids: all known, distinct, on sale, at
    /// most the cap per person.
    pub fn resolve(&self, ids: &[String]) -> Result<Vec<u32>, SeatProblem> {
        if ids.is_empty() {
            return Err(SeatProblem::Empty);
        }
        if ids.len() > usize::try_from(self.per_user_cap).unwrap_or(0) {
            return Err(SeatProblem::TooMany(self.per_user_cap));
        }
        let mut seen = std::collections::HashSet::new();
        let mut indices = Vec::with_capacity(ids.len());
        for id in ids {
            if !seen.insert(id.as_str()) {
                return Err(SeatProblem::Twice(id.clone()));
            }
            let index = self
                .map()
                .index_of(id)
                .ok_or_else(|| SeatProblem::Unknown(id.clone()))?;
            if !self.on_sale(index) {
                return Err(SeatProblem::NotOnSale(id.clone()));
            }
            indices.push(index);
        }
        Ok(indices)
    }
}

/// A parsed map with its best-available index.
pub type IndexedMap = Arc<(SeatMap, Finder)>;

/// Parsed maps (and their best-available index), by venue and version.
#[derive(Default, Clone)]
pub struct MapCache {
    maps: Arc<Mutex<HashMap<(String, i32), IndexedMap>>>,
}

/// How many parsed maps a process keeps (a 50,000-seat map takes a few MB).
const MAPS_KEPT: usize = 32;

impl MapCache {
    pub fn get(&self, venue_id: &str, version: i32) -> Option<Arc<(SeatMap, Finder)>> {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        maps.get(&(venue_id.to_string(), version)).cloned()
    }

    pub fn put(&self, venue_id: &str, version: i32, map: SeatMap) -> Arc<(SeatMap, Finder)> {
        let finder = Finder::new(&map);
        let entry = Arc::new((map, finder));
        let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        if maps.len() >= MAPS_KEPT {
            maps.clear();
        }
        maps.insert((venue_id.to_string(), version), entry.clone());
        entry
    }
}

/// How many loads of different drops may run at once (striped turns).
const LOAD_TURNS: usize = 32;

/// Seated sales loaded in this process, by drop id.
#[derive(Default, Clone)]
pub struct SeatedSales {
    sales: Arc<Mutex<HashMap<String, Arc<SeatedSale>>>>,
    pub maps: MapCache,
    /// One load at a time per drop (striped by the drop id's hash, so a
    /// flood of made-up ids costs no memory): a rush's first requests on a
    /// cold process wait for one load instead of each reading the drop, the
    /// event and the map from PostgreSQL (500 at once emptied the pool).
    turns: Arc<[tokio::sync::Mutex<()>; LOAD_TURNS]>,
    loads: Arc<std::sync::atomic::AtomicU64>,
}

impl SeatedSales {
    /// Waits for this drop's turn to load; look in the cache again after.
    pub(crate) async fn load_turn(&self, drop_id: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        drop_id.hash(&mut hasher);
        self.turns[(hasher.finish() % LOAD_TURNS as u64) as usize]
            .lock()
            .await
    }

    /// Counts a load from PostgreSQL.
    pub(crate) fn count_load(&self) {
        self.loads
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }

    /// How many seated sales this process loaded from PostgreSQL.
    pub fn loads(&self) -> u64 {
        self.loads.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub(crate) fn cached(&self, drop_id: &str) -> Option<Arc<SeatedSale>> {
        let sales = self.sales.lock().unwrap_or_else(|e| e.into_inner());
        sales.get(drop_id).cloned()
    }

    pub(crate) fn remember(&self, sale: Arc<SeatedSale>) {
        let mut sales = self.sales.lock().unwrap_or_else(|e| e.into_inner());
        if sales.len() >= 1024 {
            sales.clear();
        }
        sales.insert(sale.drop_id.clone(), sale);
    }
}
