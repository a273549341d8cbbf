//! The rules a seat map document must follow, checked before anything is
//! built from it, and the one error type that says which rule broke where.
//!
//! Every error names the offending element by its position and id, e.g.
//! `sections[3] "104" / rows[11] "12" / seats[4] "104-12-5"`, so an operator
//! can find it in the file they uploaded. Checks stop at the first error.

use super::doc::{AreaDoc, Document, Outline, RowDoc, SeatDoc, SectionDoc, Shape, FORMAT};
use std::collections::{HashMap, HashSet};
use thiserror::Error;

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

fn check_categories(doc: &Document) -> Result<HashSet<&str>, MapError> {
    check_count(
        || "categories".into(),
        "categories",
        doc.categories.len(),
        MAX_CATEGORIES,
    )?;
    let mut ids = HashSet::new();
    for (i, category) in doc.categories.iter().enumerate() {
        let path = || format!("categories[{i}] {:?}", category.id);
        check_id(path, &category.id)?;
        check_label(path, "name", &category.name)?;
        check_color(path, &category.color)?;
        if !ids.insert(category.id.as_str()) {
            return Err(MapError::DuplicateCategoryId {
                id: category.id.clone(),
            });
        }
    }
    Ok(ids)
}

fn section_path(i: usize, section: &SectionDoc) -> String {
    format!("sections[{i}] {:?}", section.id)
}

fn row_path(section: &str, j: usize, row: &RowDoc) -> String {
    format!("{section} / rows[{j}] {:?}", row.id)
}

fn seat_path(row: &str, k: usize, seat: &SeatDoc) -> String {
    format!("{row} / seats[{k}] {:?}", seat.id)
}

/// Where a seat is in the document: section, row, seat positions.
type SeatAt = (usize, usize, usize);

fn seat_at_path(sections: &[SectionDoc], (i, j, k): SeatAt) -> String {
    let section = &sections[i];
    let row = &section.rows[j];
    seat_path(
        &row_path(&section_path(i, section), j, row),
        k,
        &row.seats[k],
    )
}

fn check_sections(sections: &[SectionDoc], categories: &HashSet<&str>) -> Result<(), MapError> {
    check_count(
        || "sections".into(),
        "sections",
        sections.len(),
        MAX_SECTIONS,
    )?;
    let mut section_ids: HashMap<&str, usize> = HashMap::with_capacity(sections.len());
    let seat_count = sections
        .iter()
        .flat_map(|s| &s.rows)
        .map(|r| r.seats.len())
        .sum::<usize>();
    let mut seat_ids: HashMap<&str, SeatAt> = HashMap::with_capacity(seat_count.min(MAX_SEATS));
    let mut total_seats = 0usize;
    for (i, section) in sections.iter().enumerate() {
        let path = || section_path(i, section);
        check_id(path, &section.id)?;
        check_label(path, "name", &section.name)?;
        if let Some(&first) = section_ids.get(section.id.as_str()) {
            return Err(MapError::DuplicateSectionId {
                id: section.id.clone(),
                first,
                second: i,
            });
        }
        section_ids.insert(&section.id, i);
        if let Some(outline) = &section.outline {
            check_outline(path, outline)?;
        }
        if section.rows.is_empty() {
            return Err(MapError::Empty {
                path: path(),
                what: "rows",
            });
        }
        check_count(path, "rows", section.rows.len(), MAX_ROWS_PER_SECTION)?;
        let mut row_ids = HashSet::with_capacity(section.rows.len());
        for (j, row) in section.rows.iter().enumerate() {
            let at_row = || row_path(&path(), j, row);
            check_row(at_row, row)?;
            if !row_ids.insert(row.id.as_str()) {
                return Err(MapError::DuplicateRowId {
                    section: path(),
                    row: row.id.clone(),
                });
            }
            total_seats += row.seats.len();
            check_count(|| "document".into(), "seats", total_seats, MAX_SEATS)?;
            for (k, seat) in row.seats.iter().enumerate() {
                let at_seat = || seat_path(&at_row(), k, seat);
                check_seat(at_seat, seat, categories)?;
                if let Some(&first) = seat_ids.get(seat.id.as_str()) {
                    return Err(MapError::DuplicateSeatId {
                        id: seat.id.clone(),
                        first: seat_at_path(sections, first),
                        second: at_seat(),
                    });
                }
                seat_ids.insert(&seat.id, (i, j, k));
            }
        }
    }
    Ok(())
}

fn check_row(path: impl Fn() -> String, row: &RowDoc) -> Result<(), MapError> {
    check_id(&path, &row.id)?;
    check_label(&path, "name", &row.name)?;
    if let Some(label) = &row.label {
        check_label(&path, "label", label)?;
    }
    if row.seats.is_empty() {
        return Err(MapError::Empty {
            path: path(),
            what: "seats",
        });
    }
    check_count(&path, "seats", row.seats.len(), MAX_SEATS_PER_ROW)
}

fn check_seat(
    path: impl Fn() -> String,
    seat: &SeatDoc,
    categories: &HashSet<&str>,
) -> Result<(), MapError> {
    check_id(&path, &seat.id)?;
    check_label(&path, "number", &seat.number)?;
    if let Some(label) = &seat.label {
        check_label(&path, "label", label)?;
    }
    check_coordinate(&path, "x", seat.x)?;
    check_coordinate(&path, "y", seat.y)?;
    if !categories.contains(seat.category.as_str()) {
        return Err(MapError::UnknownCategory {
            path: path(),
            category: seat.category.clone(),
        });
    }
    use super::doc::Flag;
    if seat.flags.contains(&Flag::Wheelchair) && seat.flags.contains(&Flag::Companion) {
        return Err(MapError::ConflictingFlags { path: path() });
    }
    Ok(())
}

fn check_areas(areas: &[AreaDoc], categories: &HashSet<&str>) -> Result<(), MapError> {
    check_count(|| "areas".into(), "areas", areas.len(), MAX_AREAS)?;
    let mut ids = HashSet::new();
    for (i, area) in areas.iter().enumerate() {
        let path = || format!("areas[{i}] {:?}", area.id);
        check_id(path, &area.id)?;
        check_label(path, "name", &area.name)?;
        if !categories.contains(area.category.as_str()) {
            return Err(MapError::UnknownCategory {
                path: path(),
                category: area.category.clone(),
            });
        }
        if area.capacity == 0 || area.capacity > MAX_AREA_CAPACITY {
            return Err(MapError::InvalidCapacity {
                path: path(),
                capacity: area.capacity,
                max: MAX_AREA_CAPACITY,
            });
        }
        check_outline(path, &area.outline)?;
        if !ids.insert(area.id.as_str()) {
            return Err(MapError::DuplicateAreaId {
                id: area.id.clone(),
            });
        }
    }
    Ok(())
}

fn check_drawing(drawing: &[Shape]) -> Result<(), MapError> {
    check_count(|| "drawing".into(), "shapes", drawing.len(), MAX_SHAPES)?;
    for (i, shape) in drawing.iter().enumerate() {
        check_shape(|| format!("drawing[{i}]"), shape)?;
    }
    Ok(())
}

fn check_shape(path: impl Fn() -> String, shape: &Shape) -> Result<(), MapError> {
    let colors = match shape {
        Shape::Rectangle {
            x,
            y,
            width,
            height,
            rotation,
            fill,
            stroke,
        } => {
            check_coordinate(&path, "x", *x)?;
            check_coordinate(&path, "y", *y)?;
            check_positive(&path, "width", *width)?;
            check_positive(&path, "height", *height)?;
            check_coordinate(&path, "rotation", *rotation)?;
            [fill.as_ref(), stroke.as_ref()]
        }
        Shape::Ellipse {
            x,
            y,
            rx,
            ry,
            rotation,
            fill,
            stroke,
        } => {
            check_coordinate(&path, "x", *x)?;
            check_coordinate(&path, "y", *y)?;
            check_positive(&path, "rx", *rx)?;
            check_positive(&path, "ry", *ry)?;
            check_coordinate(&path, "rotation", *rotation)?;
            [fill.as_ref(), stroke.as_ref()]
        }
        Shape::Polygon {
            points,
            fill,
            stroke,
        } => {
            check_outline(&path, points)?;
            [fill.as_ref(), stroke.as_ref()]
        }
        Shape::Text {
            x,
            y,
            text,
            size,
            rotation,
            color,
        } => {
            check_coordinate(&path, "x", *x)?;
            check_coordinate(&path, "y", *y)?;
            check_positive(&path, "size", *size)?;
            check_coordinate(&path, "rotation", *rotation)?;
            check_text(&path, "text", text, MAX_TEXT_CHARS)?;
            [color.as_ref(), None]
        }
    };
    for color in colors.into_iter().flatten() {
        check_color(&path, color)?;
    }
    Ok(())
}

fn check_count(
    path: impl Fn() -> String,
    what: &'static str,
    count: usize,
    max: usize,
) -> Result<(), MapError> {
    if count > max {
        return Err(MapError::TooMany {
            path: path(),
            what,
            count,
            max,
        });
    }
    Ok(())
}

fn check_id(path: impl Fn() -> String, id: &str) -> Result<(), MapError> {
    let field = "id";
    if id.is_empty() {
        return Err(MapError::EmptyId {
            path: path(),
            field,
        });
    }
    let chars = id.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(MapError::IdTooLong {
            path: path(),
            field,
            chars,
            max: MAX_ID_CHARS,
        });
    }
    if id.chars().any(char::is_control) {
        return Err(MapError::ControlCharacter {
            path: path(),
            field,
        });
    }
    if id.trim() != id {
        return Err(MapError::IdWhitespace {
            path: path(),
            field,
        });
    }
    Ok(())
}

fn check_label(path: impl Fn() -> String, field: &'static str, text: &str) -> Result<(), MapError> {
    check_text(path, field, text, MAX_LABEL_CHARS)
}

fn check_text(
    path: impl Fn() -> String,
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<(), MapError> {
    if text.trim().is_empty() {
        return Err(MapError::EmptyLabel {
            path: path(),
            field,
        });
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(MapError::LabelTooLong {
            path: path(),
            field,
            chars,
            max,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(MapError::ControlCharacter {
            path: path(),
            field,
        });
    }
    Ok(())
}

fn check_coordinate(
    path: impl Fn() -> String,
    field: &'static str,
    value: f64,
) -> Result<(), MapError> {
    if !value.is_finite() {
        return Err(MapError::NonFiniteCoordinate {
            path: path(),
            field,
        });
    }
    if value.abs() > MAX_COORDINATE {
        return Err(MapError::CoordinateOutOfRange {
            path: path(),
            field,
            value,
            max: MAX_COORDINATE,
        });
    }
    Ok(())
}

fn check_positive(
    path: impl Fn() -> String,
    field: &'static str,
    value: f64,
) -> Result<(), MapError> {
    check_coordinate(&path, field, value)?;
    if value <= 0.0 {
        return Err(MapError::NotPositive {
            path: path(),
            field,
            value,
        });
    }
    Ok(())
}

fn check_outline(path: impl Fn() -> String, outline: &Outline) -> Result<(), MapError> {
    if outline.len() < 3 {
        return Err(MapError::InvalidOutline {
            path: path(),
            points: outline.len(),
        });
    }
    check_count(&path, "outline points", outline.len(), MAX_OUTLINE_POINTS)?;
    for [x, y] in outline {
        check_coordinate(&path, "outline", *x)?;
        check_coordinate(&path, "outline", *y)?;
    }
    Ok(())
}

/// `#rgb` or `#rrggbb`, hex digits in either case. Colors end up in the
/// page's styles, so nothing else (no `url(...)`, no names) is let through.
pub fn is_valid_color(color: &str) -> bool {
    let Some(hex) = color.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn check_color(path: impl Fn() -> String, color: &str) -> Result<(), MapError> {
    if !is_valid_color(color) {
        return Err(MapError::InvalidColor {
            path: path(),
            color: color.to_string(),
        });
    }
    Ok(())
}

/// A color in the normalised form: lowercase `#rrggbb`.
pub fn normalise_color(color: &str) -> String {
    let hex = color.trim_start_matches('#').to_ascii_lowercase();
    if hex.len() == 3 {
        hex.chars()
            .flat_map(|c| [c, c])
            .fold(String::from("#"), |mut s, c| {
                s.push(c);
                s
            })
    } else {
        format!("#{hex}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colors_are_strict_hex() {
        for good in ["#fff", "#1D4ED8", "#000000"] {
            assert!(is_valid_color(good), "{good}");
        }
        for bad in ["fff", "#ffff", "red", "#12345g", "url(x)", "#1d4ed8;x", ""] {
            assert!(!is_valid_color(bad), "{bad}");
        }
        assert_eq!(normalise_color("#AbC"), "#aabbcc");
        assert_eq!(normalise_color("#1D4ED8"), "#1d4ed8");
    }

    #[test]
    fn ids_are_checked_for_length_and_control_characters() {
        let path = || "here".to_string();
        assert!(check_id(path, "104-12-5").is_ok());
        assert!(matches!(check_id(path, ""), Err(MapError::EmptyId { .. })));
        let long = "x".repeat(MAX_ID_CHARS + 1);
        assert!(matches!(
            check_id(path, &long),
            Err(MapError::IdTooLong { chars: 65, .. })
        ));
        assert!(check_id(path, &"é".repeat(MAX_ID_CHARS)).is_ok());
        assert!(matches!(
            check_id(path, "a\u{7}b"),
            Err(MapError::ControlCharacter { .. })
        ));
        assert!(check_id(path, "row 12").is_ok());
        for padded in [" 12", "12 ", "  "] {
            assert!(
                matches!(check_id(path, padded), Err(MapError::IdWhitespace { .. })),
                "{padded:?}"
            );
        }
    }

    #[test]
    fn labels_must_not_be_blank() {
        let path = || "here".to_string();
        assert!(matches!(
            check_label(path, "name", "  "),
            Err(MapError::EmptyLabel { field: "name", .. })
        ));
        assert!(matches!(
            check_label(path, "name", "a\nb"),
            Err(MapError::ControlCharacter { .. })
        ));
    }

    #[test]
    fn coordinates_must_be_finite_and_bounded() {
        let path = || "here".to_string();
        assert!(check_coordinate(path, "x", -5.5).is_ok());
        assert!(matches!(
            check_coordinate(path, "x", f64::NAN),
            Err(MapError::NonFiniteCoordinate { field: "x", .. })
        ));
        assert!(matches!(
            check_coordinate(path, "y", f64::INFINITY),
            Err(MapError::NonFiniteCoordinate { field: "y", .. })
        ));
        assert!(matches!(
            check_coordinate(path, "y", 1e12),
            Err(MapError::CoordinateOutOfRange { .. })
        ));
    }
}
