//! Loading a seated sale on first use: its drop, event and venue map from
//! PostgreSQL, parsed and indexed once per process into
//! [`super::sale::SeatedSales`].

use super::holds::HoldError;
use super::sale::SeatedSale;
use crate::domain::Sale;
use crate::seating::{Finder, SeatMap};
use crate::store::{drops, events, venues};
use std::sync::Arc;

impl Sale {
    /// A seated sale, loaded on first use (its drop, event, venue map).
    pub async fn seated_sale(&self, drop_id: &str) -> Result<Arc<SeatedSale>, HoldError> {
        if let Some(sale) = self.seated.cached(drop_id) {
            return Ok(sale);
        }
        if !crate::drops::valid_drop_id(drop_id) {
            return Err(HoldError::UnknownDrop);
        }
        let _turn = self.seated.load_turn(drop_id).await;
        if let Some(sale) = self.seated.cached(drop_id) {
            return Ok(sale);
        }
        self.seated.count_load();
        let drop = drops::get(&self.db, drop_id)
            .await?
            .ok_or(HoldError::UnknownDrop)?;
        let Some(seating) = drop.seating.clone().map(|s| s.0) else {
            return Err(HoldError::NotSeated);
        };
        let event_id = drop
            .event_id
            .clone()
            .ok_or_else(|| anyhow::anyhow!("seated drop {drop_id} has no event"))?;
        let event = events::get(&self.db, &event_id)
            .await?
            .ok_or_else(|| anyhow::anyhow!("event {event_id} of drop {drop_id} is gone"))?;
        let map = self.load_map(&event.venue_id, seating.map_version).await?;
        let sale = Arc::new(SeatedSale::new(&drop, &event.venue_id, seating, map));
        self.seated.remember(sale.clone());
        Ok(sale)
    }

    /// A venue map, parsed and indexed once per process.
    pub async fn load_map(
        &self,
        venue_id: &str,
        version: i32,
    ) -> Result<Arc<(SeatMap, Finder)>, HoldError> {
        if let Some(map) = self.seated.maps.get(venue_id, version) {
            return Ok(map);
        }
        let stored = venues::map(&self.db, venue_id, Some(version))
            .await?
            .ok_or_else(|| anyhow::anyhow!("venue {venue_id} has no map version {version}"))?;
        let map = SeatMap::parse(&stored.json)
            .map_err(|e| anyhow::anyhow!("stored map {venue_id} v{version} is invalid: {e}"))?;
        Ok(self.seated.maps.put(venue_id, version, map))
    }
}
