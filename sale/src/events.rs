//! Events: a show at a venue at a time, with one or more sales (drops).

use crate::domain::Sale;
use crate::drops::{valid_drop_id, valid_name, DropView};
use crate::store::events::{self, EventFields, EventRow};
use crate::store::venues::VenueRow;
use crate::store::Changed;
use chrono::{DateTime, Datelike, Utc};
use serde::{Deserialize, Serialize};

/// Why an event operation failed.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown event")]
    Unknown,
    #[error("an event with id {0} exists")]
    Exists(String),
    #[error("this event was changed by someone else meanwhile (it is now at version {0}); reload it and make your change again")]
    Stale(i64),
    #[error("the venue of an event with sales cannot change: its sales and tickets are for this venue; cancel the event and create a new one instead")]
    VenueLocked,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Drop(#[from] crate::drops::DropError),
}

/// The statuses an event may have.
pub const STATUSES: [&str; 5] = ["scheduled", "on_sale", "sold_out", "postponed", "cancelled"];

/// `POST /api/events` and `PATCH /api/events/{id}`'s body (every field
/// optional in a change).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBody {
    pub id: Option<String>,
    pub name: Option<String>,
    pub performers: Option<Vec<String>>,
    pub venue_id: Option<String>,
    pub starts_at: Option<DateTime<Utc>>,
    pub genre: Option<String>,
    pub description: Option<String>,
    pub status: Option<String>,
}

/// An event with its venue and sales, as `GET /api/events/{id}` shows it.
#[derive(Debug, Serialize)]
pub struct EventView {
    #[serde(flatten)]
    pub event: EventRow,
    pub venue: VenueRow,
    pub sales: Vec<DropView>,
}

fn check(ok: bool, message: &str) -> Result<(), EventError> {
    if ok {
        Ok(())
    } else {
        Err(EventError::Invalid(message.into()))
    }
}

impl EventBody {
    fn fields(self) -> Result<EventFields, EventError> {
        if let Some(name) = &self.name {
            check(
                valid_name(name.trim(), 200),
                "name must be 1-200 characters, without control characters",
            )?;
        }
        if let Some(performers) = &self.performers {
            check(performers.len() <= 50, "at most 50 performers")?;
            check(
                performers.iter().all(|p| valid_name(p.trim(), 200)),
                "each performer must be 1-200 characters, without control characters",
            )?;
        }
        if let Some(venue) = &self.venue_id {
            check(valid_drop_id(venue), "venue_id must be a venue's id")?;
        }
        if let Some(starts) = &self.starts_at {
            check(
                (2000..=9999).contains(&starts.year()),
                "starts_at must be between the years 2000 and 9999",
            )?;
        }
        if let Some(genre) = &self.genre {
            check(
                genre.chars().count() <= 50 && !genre.chars().any(char::is_control),
                "genre must be at most 50 characters",
            )?;
        }
        if let Some(description) = &self.description {
            check(
                description.chars().count() <= 5000 && !description.contains('\0'),
                "description must be at most 5000 characters",
            )?;
        }
        if let Some(status) = &self.status {
            check(
                STATUSES.contains(&status.as_str()),
                "status must be scheduled, on_sale, sold_out, postponed or cancelled",
            )?;
        }
        Ok(EventFields {
            name: self.name.map(|n| n.trim().to_string()),
            performers: self
                .performers
                .map(|ps| ps.into_iter().map(|p| p.trim().to_string()).collect()),
            venue_id: self.venue_id,
            starts_at: self.starts_at,
            genre: self.genre.map(|g| g.trim().to_string()),
            description: self.description,
            status: self.status,
        })
    }
}

impl Sale {
    pub async fn create_event(&self, body: EventBody) -> Result<EventRow, EventError> {
        let id = body.id.clone().unwrap_or_default();
        check(
            valid_drop_id(&id),
            "id must be 1-64 lowercase letters, digits or dashes",
        )?;
        let fields = body.fields()?;
        check(fields.name.is_some(), "give the event's name")?;
        check(fields.starts_at.is_some(), "give the event's starts_at")?;
        let venue = fields.venue_id.clone().unwrap_or_default();
        check(!venue.is_empty(), "give the event's venue_id")?;
        self.venue(&venue)
            .await
            .map_err(|_| EventError::Invalid(format!("no venue {venue}")))?;
        events::insert(&self.db, &id, &fields)
            .await?
            .ok_or(EventError::Exists(id))
    }

    /// Changes an event made from `expected` (its `version`; `None`: any).
    /// Nothing changes on a refusal.
    pub async fn change_event(
        &self,
        id: &str,
        body: EventBody,
        expected: Option<i64>,
    ) -> Result<EventRow, EventError> {
        check(body.id.is_none(), "an event's id does not change")?;
        let fields = body.fields()?;
        if let Some(venue) = &fields.venue_id {
            self.venue(venue)
                .await
                .map_err(|_| EventError::Invalid(format!("no venue {venue}")))?;
        }
        if !valid_drop_id(id) {
            return Err(EventError::Unknown);
        }
        match events::update(&self.db, id, &fields, expected).await? {
            Changed::Done(row) => Ok(*row),
            Changed::Unknown => Err(EventError::Unknown),
            Changed::Stale { current } => Err(EventError::Stale(current)),
            Changed::Locked => Err(EventError::VenueLocked),
        }
    }

    /// An event with its venue and its sales.
    pub async fn event(&self, id: &str) -> Result<EventView, EventError> {
        if !valid_drop_id(id) {
            return Err(EventError::Unknown);
        }
        let event = events::get(&self.db, id)
            .await?
            .ok_or(EventError::Unknown)?;
        let venue = self
            .venue(&event.venue_id)
            .await
            .map_err(|e| EventError::Invalid(e.to_string()))?;
        let mut sales = Vec::new();
        for sale in events::sale_ids(&self.db, id).await? {
            sales.push(self.drop_view(&sale).await?);
        }
        Ok(EventView {
            event,
            venue,
            sales,
        })
    }
}
