//! Lineup's seating core: seat maps, their import, generated venues and
//! best available. No I/O here; the sale service stores maps, keeps seat
//! states in Redis and calls into these modules.
//!
//! - [`doc`]: the `lineup.seatmap/1` JSON document as plain serde types.
//! - [`validate`]: the format's rules and [`MapError`], which names the
//!   offending element of a rejected document.
//! - [`map`]: [`SeatMap`], a validated, normalised map with the canonical
//!   seat index, seat-id lookup, rows, blocks (runs of adjacent seats) and a
//!   summary.
//! - [`pretix`]: import of a pretix seating plan into our format.
//! - [`generate`]: deterministic test venues, a stadium of any size and a
//!   small hall.
//! - [`best`]: best available: the best free adjacent seats for a request,
//!   from an index built once per map.
//! - [`geometry`]: the bit of plane geometry the others share.
//!
//! See `README-seating.md` for the format, the import mapping, the
//! best-available rules and measured timings.

pub mod best;
pub mod doc;
pub mod generate;
pub mod geometry;
pub mod map;
pub mod pretix;
pub mod validate;

pub use best::{Availability, BestError, Choice, Finder, Request, Rules};
pub use doc::Document;
pub use map::SeatMap;
pub use validate::MapError;
