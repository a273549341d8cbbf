//! Import of a pretix seating plan (the JSON pretix's seating-plan editor
//! publishes, `seating-plan.schema.json`) into our format.
//!
//! | pretix | ours |
//! |---|---|
//! | `categories[].name` | category `id` and `name` |
//! | `categories[].color` | `color` when `#rgb`/`#rrggbb`, else a palette color (noted) |
//! | zone with seats | section: `id` from `zone_id`, else `name`, else `zone-N`; repeats get `-2`, `-3` |
//! | zone without seats | nothing but its areas |
//! | rows of a zone with one `row_number` | one row (`id` and `name` = `row_number`); parts of several pretix rows are never adjacent to each other |
//! | `row_label` (`%s` = `row_number`) | row `label` |
//! | `seat_guid`, `seat_number` | seat `id`, `number` |
//! | `seat_label` of the row (`%s` = `seat_number`) | seat `label` |
//! | zone + row + seat `position` | seat `x`, `y` (the offsets added as pretix does) |
//! | areas | `drawing` shapes (never sold: pretix areas have no capacity) |
//! | `size` | `size` (a padded bounding box when absent) |
//! | an area whose text names a stage (`Bühne`, `stage`, …) | `focal_point`, its centre; else the top middle |
//!
//! **Physical order**: pretix lists seats in editing order, so a row's seats
//! are sorted along the row's principal direction (left to right as drawn,
//! top to bottom for a vertical row) and a `gap_before` is put where the
//! distance to the previous seat exceeds [`GAP_FACTOR`] × the row's typical
//! (lower median) spacing, or where the seat comes from another pretix row.
//!
//! **Assumption** (the schema does not say): area positions are relative to
//! their zone, polygon points and area texts relative to the area's position
//! (the nesting seats follow); rectangles are placed by their top-left
//! corner, circles and ellipses by their centre.
//!
//! pretix has no accessibility flags; [`ImportOptions`] names the categories
//! whose seats are wheelchair spaces or companion seats.
//!
//! Inside: `plan` (pretix's types), `rows` (categories, sections, rows in
//! physical order), `areas` (drawing shapes, the stage, the size), `tests`.

use super::doc::{Document, Point};
use super::map::SeatMap;
use super::validate::MapError;
use plan::Plan;
use thiserror::Error;

mod areas;
mod plan;
mod rows;
#[cfg(test)]
mod tests;

/// A seat further than this many typical spacings from the previous one is
/// not next to it.
pub const GAP_FACTOR: f64 = 1.6;

/// Largest accepted pretix plan, in bytes (pretix plans are indented JSON
/// and about three times the size of ours).
pub const MAX_PRETIX_JSON_BYTES: usize = 48 * 1024 * 1024;

/// Colors for categories without a usable one.
const PALETTE: [&str; 8] = [
    "#1d4ed8", "#15803d", "#b45309", "#7c3aed", "#be123c", "#0f766e", "#a16207", "#4338ca",
];

/// Words that mark an area as the stage, lowercase.
const STAGE_WORDS: [&str; 10] = [
    "stage",
    "bühne",
    "buehne",
    "scene",
    "scène",
    "podium",
    "screen",
    "leinwand",
    "palco",
    "escenario",
];

/// What pretix's format cannot say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// Overrides the stage found among the areas.
    pub focal_point: Option<Point>,
    /// pretix category names whose seats are wheelchair spaces.
    pub wheelchair_categories: Vec<String>,
    /// pretix category names whose seats are companion seats.
    pub companion_categories: Vec<String>,
}

/// A converted plan and what the conversion decided on the operator's behalf.
#[derive(Debug, Clone)]
pub struct Imported {
    pub map: SeatMap,
    /// One sentence per decision worth showing to the operator.
    pub notes: Vec<String>,
}

/// Why a pretix plan could not be imported.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PretixError {
    #[error("the plan is {size} bytes; at most {limit} are accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("not a pretix seating plan at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the converted plan is not a valid seat map: {0}")]
    Invalid(#[from] MapError),
}

/// Carries the options and collects notes through one conversion.
struct Converter<'a> {
    options: &'a ImportOptions,
    notes: Vec<String>,
    gaps_found: usize,
}

/// Converts and validates a pretix plan.
pub fn import(json: &str, options: &ImportOptions) -> Result<Imported, PretixError> {
    let (document, notes) = convert(json, options)?;
    Ok(Imported {
        map: SeatMap::from_document(document)?,
        notes,
    })
}

/// Converts a pretix plan to our document without validating the result.
pub fn convert(
    json: &str,
    options: &ImportOptions,
) -> Result<(Document, Vec<String>), PretixError> {
    if json.len() > MAX_PRETIX_JSON_BYTES {
        return Err(PretixError::TooLarge {
            size: json.len(),
            limit: MAX_PRETIX_JSON_BYTES,
        });
    }
    let plan: Plan = serde_json::from_str(json).map_err(|err| PretixError::Json {
        line: err.line(),
        column: err.column(),
        message: err.to_string(),
    })?;
    let mut converter = Converter {
        options,
        notes: Vec::new(),
        gaps_found: 0,
    };
    let document = converter.document(&plan);
    if converter.gaps_found > 0 {
        converter.notes.push(format!(
            "{} gap(s) put where seats of a row are more than {GAP_FACTOR}× its usual spacing apart",
            converter.gaps_found
        ));
    }
    Ok((document, converter.notes))
}
