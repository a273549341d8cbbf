//! The rules a seat map document must follow, checked before anything is
//! built from it, and the one error type that says which rule broke where.
//!
//! Every error names the offending element by its position and id, e.g.
//! `sections[3] "104" / rows[11] "12" / seats[4] "104-12-5"`, so an operator
//! can find it in the file they uploaded. Checks stop at the first error.
//!
//! Inside: `structure` (the document top-down), `fields` (single fields),
//! `tests`.

use super::doc::{Document, FORMAT};
use fields::{check_coordinate, check_label, check_positive};
use structure::{check_areas, check_categories, check_drawing, check_sections};
use thiserror::Error;

mod fields;
mod structure;
#[cfg(test)]
mod tests;

pub use fields::{is_valid_color, normalise_color};

/// Largest accepted document, in bytes. 100,000 seats take 7.6 MB of
/// compact JSON with short ids (`104-12-5`) and about 11 MB with UUID ids
/// (as pretix plans often have), hence more than the first draft's 8 MiB.
pub const MAX_JSON_BYTES: usize = 16 * 1024 * 1024;
pub const MAX_SEATS: usize = 100_000;
pub const MAX_SECTIONS: usize = 2_000;
pub const MAX_ROWS_PER_SECTION: usize = 500;
pub const MAX_SEATS_PER_ROW: usize = 500;
pub const MAX_CATEGORIES: usize = 50;
pub const MAX_AREAS: usize = 200;
pub const MAX_SHAPES: usize = 2_000;
pub const MAX_OUTLINE_POINTS: usize = 1_000;
/// Ids are 1–64 characters, none of them a control character.
pub const MAX_ID_CHARS: usize = 64;
/// Printed labels (names, numbers) are 1–100 characters.
pub const MAX_LABEL_CHARS: usize = 100;
/// Drawing texts are at most this long.
pub const MAX_TEXT_CHARS: usize = 200;
/// Coordinates lie within ±this, so distances stay exact enough to compare.
pub const MAX_COORDINATE: f64 = 10_000_000.0;
pub const MAX_AREA_CAPACITY: u32 = 1_000_000;

/// Why a document is not a valid seat map.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MapError {
    #[error("the document is {size} bytes; at most {limit} are accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("not a valid seat map document at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("`format` is {found:?}; expected \"lineup.seatmap/1\" (a pretix plan must be imported, not uploaded as is)")]
    WrongFormat { found: Option<String> },
    #[error("{path}: `{field}` is empty")]
    EmptyId { path: String, field: &'static str },
    #[error("{path}: `{field}` is {chars} characters long; at most {max}")]
    IdTooLong {
        path: String,
        field: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("{path}: `{field}` starts or ends with whitespace")]
    IdWhitespace { path: String, field: &'static str },
    #[error("{path}: `{field}` contains a control character")]
    ControlCharacter { path: String, field: &'static str },
    #[error("{path}: `{field}` is empty")]
    EmptyLabel { path: String, field: &'static str },
    #[error("{path}: `{field}` is {chars} characters long; at most {max}")]
    LabelTooLong {
        path: String,
        field: &'static str,
        chars: usize,
        max: usize,
    },
    #[error("seat id {id:?} is used twice: at {first} and at {second}")]
    DuplicateSeatId {
        id: String,
        first: String,
        second: String,
    },
    #[error("section id {id:?} is used twice: sections[{first}] and sections[{second}]")]
    DuplicateSectionId {
        id: String,
        first: usize,
        second: usize,
    },
    #[error("{section}: row id {row:?} is used twice")]
    DuplicateRowId { section: String, row: String },
    #[error("category id {id:?} is declared twice")]
    DuplicateCategoryId { id: String },
    #[error("area id {id:?} is used twice")]
    DuplicateAreaId { id: String },
    #[error("{path}: category {category:?} is not declared in `categories`")]
    UnknownCategory { path: String, category: String },
    #[error("{path}: {count} {what}; at most {max}")]
    TooMany {
        path: String,
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("{path}: `{field}` is not a finite number")]
    NonFiniteCoordinate { path: String, field: &'static str },
    #[error("{path}: `{field}` is {value}; coordinates lie within ±{max}")]
    CoordinateOutOfRange {
        path: String,
        field: &'static str,
        value: f64,
        max: f64,
    },
    #[error("{path}: `{field}` must be a positive number, not {value}")]
    NotPositive {
        path: String,
        field: &'static str,
        value: f64,
    },
    #[error("{path}: has no {what}")]
    Empty { path: String, what: &'static str },
    #[error("{path}: color {color:?} is not #rgb or #rrggbb")]
    InvalidColor { path: String, color: String },
    #[error("{path}: an outline needs at least 3 points, not {points}")]
    InvalidOutline { path: String, points: usize },
    #[error("{path}: capacity must be 1 to {max}, not {capacity}")]
    InvalidCapacity {
        path: String,
        capacity: u32,
        max: u32,
    },
    #[error("{path}: a seat cannot be both a wheelchair space and a companion seat")]
    ConflictingFlags { path: String },
}

/// Checks every rule of the format; `Ok` means [`SeatMap`](super::map::SeatMap)
/// can be built without further checks.
pub fn validate(doc: &Document) -> Result<(), MapError> {
    if doc.format != FORMAT {
        return Err(MapError::WrongFormat {
            found: Some(doc.format.clone()),
        });
    }
    if let Some(name) = &doc.name {
        check_label(|| "document".into(), "name", name)?;
    }
    check_positive(|| "size".into(), "width", doc.size.width)?;
    check_positive(|| "size".into(), "height", doc.size.height)?;
    check_coordinate(|| "focal_point".into(), "x", doc.focal_point.x)?;
    check_coordinate(|| "focal_point".into(), "y", doc.focal_point.y)?;
    let categories = check_categories(doc)?;
    check_sections(&doc.sections, &categories)?;
    check_areas(&doc.areas, &categories)?;
    check_drawing(&doc.drawing)
}
