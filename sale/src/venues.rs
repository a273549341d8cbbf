//! Venues and their seat maps: create a venue (with a map in our format or
//! a pretix seating plan), change its place and names, upload a new map
//! version, read both. A map is
//! validated, normalised and stored as one immutable version; sales keep the
//! version they were created with.

use crate::domain::Sale;
use crate::drops::{valid_drop_id, valid_name};
use crate::seating::pretix::{self, ImportOptions};
use crate::seating::SeatMap;
use crate::store::venues::{self, NewMap, NewVenue, StoredMap, VenueFields, VenueRow};
use crate::store::Changed;
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Why a venue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VenueError {
    #[error("{0}")]
    Invalid(String),
    #[error("unknown venue")]
    Unknown,
    #[error("a venue with id {0} exists")]
    Exists(String),
    #[error("this venue has no seat map")]
    NoMap,
    #[error("this venue was changed by someone else meanwhile (it is now at version {0}); reload it and make your change again")]
    Stale(i64),
    #[error("the time zone of a venue whose events have sales cannot change: the local times of tickets already sold would move")]
    TimezoneLocked,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// `POST /api/venues`'s body.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateVenue {
    pub id: String,
    pub name: String,
    pub city: String,
    /// ISO 3166-1 alpha-2, e.g. `DE`.
    pub country: String,
    #[serde(default)]
    pub address: String,
    /// An IANA time zone, e.g. `Europe/Berlin`.
    pub timezone: String,
    pub lat: f64,
    pub lon: f64,
    #[serde(flatten)]
    pub map: MapUpload,
}

/// A seat map upload: ours, or a pretix seating plan (at most one).
#[derive(Debug, Default, Deserialize)]
pub struct MapUpload {
    /// A `lineup.seatmap/1` document.
    pub map: Option<serde_json::Value>,
    /// A pretix seating plan, converted on the way in.
    pub pretix_map: Option<serde_json::Value>,
}

impl MapUpload {
    /// The validated, normalised map, if one was given.
    pub fn parse(self) -> Result<Option<SeatMap>, VenueError> {
        match (self.map, self.pretix_map) {
            (Some(_), Some(_)) => Err(VenueError::Invalid(
                "give map or pretix_map, not both".into(),
            )),
            (Some(ours), None) => SeatMap::parse(&ours.to_string())
                .map(Some)
                .map_err(|e| VenueError::Invalid(format!("map: {e}"))),
            (None, Some(plan)) => pretix::import(&plan.to_string(), &ImportOptions::default())
                .map(|imported| Some(imported.map))
                .map_err(|e| VenueError::Invalid(format!("pretix_map: {e}"))),
            (None, None) => Ok(None),
        }
    }
}

fn stored(map: &SeatMap) -> NewMap {
    let json = map.to_json();
    let sha256 = hex::encode(Sha256::digest(json.as_bytes()));
    NewMap {
        json,
        sha256,
        seat_count: map.seat_count() as i32,
    }
}

fn check(ok: bool, message: &str) -> Result<(), VenueError> {
    if ok {
        Ok(())
    } else {
        Err(VenueError::Invalid(message.into()))
    }
}

impl Sale {
    pub async fn create_venue(&self, body: CreateVenue) -> Result<VenueRow, VenueError> {
        check(
            valid_drop_id(&body.id),
            "id must be 1-64 lowercase letters, digits or dashes",
        )?;
        let fields = VenueFields {
            name: Some(body.name),
            city: Some(body.city),
            country: Some(body.country),
            address: Some(body.address),
            timezone: Some(body.timezone),
            lat: Some(body.lat),
            lon: Some(body.lon),
        };
        let fields = self.checked(fields).await?;
        let map = body.map.parse()?;
        let venue = NewVenue {
            id: body.id.clone(),
            name: fields.name.unwrap_or_default(),
            city: fields.city.unwrap_or_default(),
            country: fields.country.unwrap_or_default(),
            address: fields.address.unwrap_or_default(),
            timezone: fields.timezone.unwrap_or_default(),
            lat: fields.lat.unwrap_or_default(),
            lon: fields.lon.unwrap_or_default(),
        };
        venues::insert(&self.db, &venue, map.as_ref().map(stored).as_ref())
            .await?
            .ok_or(VenueError::Exists(body.id))
    }

    /// Changes a venue's place or names, made from `expected` (its
    /// `version`; `None`: any). Nothing changes on a refusal; the search
    /// rows of its events follow (triggers).
    pub async fn change_venue(
        &self,
        id: &str,
        body: VenueFields,
        expected: Option<i64>,
    ) -> Result<VenueRow, VenueError> {
        let fields = self.checked(body).await?;
        if !valid_drop_id(id) {
            return Err(VenueError::Unknown);
        }
        match venues::update(&self.db, id, &fields, expected).await? {
            Changed::Done(row) => Ok(row),
            Changed::Unknown => Err(VenueError::Unknown),
            Changed::Stale { current } => Err(VenueError::Stale(current)),
            Changed::Locked => Err(VenueError::TimezoneLocked),
        }
    }

    /// The fields given, checked and trimmed.
    async fn checked(&self, body: VenueFields) -> Result<VenueFields, VenueError> {
        for (field, value, max) in [("name", &body.name, 200), ("city", &body.city, 100)] {
            if let Some(value) = value {
                check(
                    valid_name(value.trim(), max),
                    &format!("{field} must be 1-{max} characters, without control characters"),
                )?;
            }
        }
        if let Some(address) = &body.address {
            check(
                address.chars().count() <= 300 && !address.chars().any(char::is_control),
                "address must be at most 300 characters, without control characters",
            )?;
        }
        if let Some(country) = &body.country {
            check(
                country.len() == 2 && country.bytes().all(|b| b.is_ascii_uppercase()),
                "country must be an ISO 3166-1 alpha-2 code such as DE",
            )?;
        }
        if let Some(lat) = body.lat {
            check(
                lat.is_finite() && (-90.0..=90.0).contains(&lat),
                "lat must be from -90 to 90",
            )?;
        }
        if let Some(lon) = body.lon {
            check(
                lon.is_finite() && (-180.0..=180.0).contains(&lon),
                "lon must be from -180 to 180",
            )?;
        }
        if let Some(timezone) = &body.timezone {
            self.check_timezone(timezone).await?;
        }
        let trim = |v: Option<String>| v.map(|v| v.trim().to_string());
        Ok(VenueFields {
            name: trim(body.name),
            city: trim(body.city),
            country: body.country,
            address: trim(body.address),
            timezone: body.timezone,
            lat: body.lat,
            lon: body.lon,
        })
    }

    /// A time zone PostgreSQL knows (dates are searched in it).
    async fn check_timezone(&self, timezone: &str) -> Result<(), VenueError> {
        let known = timezone.len() <= 64
            && sqlx::query_scalar!(
                r#"SELECT EXISTS (SELECT 1 FROM pg_timezone_names WHERE name = $1) AS "known!""#,
                timezone
            )
            .fetch_one(&self.db)
            .await?;
        check(
            known,
            "timezone must be an IANA time zone such as Europe/Berlin",
        )
    }

    /// Stores a new map version for a venue; the version.
    pub async fn upload_map(&self, venue_id: &str, upload: MapUpload) -> Result<i32, VenueError> {
        let map = upload
            .parse()?
            .ok_or_else(|| VenueError::Invalid("give map or pretix_map".into()))?;
        venues::add_map(&self.db, venue_id, &stored(&map))
            .await?
            .ok_or(VenueError::Unknown)
    }

    pub async fn venue(&self, id: &str) -> Result<VenueRow, VenueError> {
        if !valid_drop_id(id) {
            return Err(VenueError::Unknown);
        }
        venues::get(&self.db, id).await?.ok_or(VenueError::Unknown)
    }

    /// A venue's map (`version`, or the current one).
    pub async fn venue_map(&self, id: &str, version: Option<i32>) -> Result<StoredMap, VenueError> {
        let venue = self.venue(id).await?;
        if venue.map_version.is_none() {
            return Err(VenueError::NoMap);
        }
        venues::map(&self.db, id, version)
            .await?
            .ok_or(VenueError::NoMap)
    }
}
