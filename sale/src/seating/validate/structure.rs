//! The document's structure checked top-down: categories, sections, rows,
//! seats, areas and drawing shapes, each error named by its path.

use super::fields::{
    check_color, check_coordinate, check_count, check_id, check_label, check_outline,
    check_positive, check_text,
};
use super::{
    MAX_AREAS, MAX_AREA_CAPACITY, MAX_CATEGORIES, MAX_ROWS_PER_SECTION, MAX_SEATS,
    MAX_SEATS_PER_ROW, MAX_SECTIONS, MAX_SHAPES, MAX_TEXT_CHARS,
};
use crate::seating::doc::{AreaDoc, RowDoc, SeatDoc, SectionDoc, Shape};
use crate::seating::{Document, MapError};
use std::collections::{HashMap, HashSet};

pub(super) fn check_categories(doc: &Document) -> Result<HashSet<&str>, MapError> {
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

pub(super) fn section_path(i: usize, section: &SectionDoc) -> String {
    format!("sections[{i}] {:?}", section.id)
}

pub(super) fn row_path(section: &str, j: usize, row: &RowDoc) -> String {
    format!("{section} / rows[{j}] {:?}", row.id)
}

pub(super) fn seat_path(row: &str, k: usize, seat: &SeatDoc) -> String {
    format!("{row} / seats[{k}] {:?}", seat.id)
}

/// Where a seat is in the document: section, row, seat positions.
pub(super) type SeatAt = (usize, usize, usize);

pub(super) fn seat_at_path(sections: &[SectionDoc], (i, j, k): SeatAt) -> String {
    let section = &sections[i];
    let row = &section.rows[j];
    seat_path(
        &row_path(&section_path(i, section), j, row),
        k,
        &row.seats[k],
    )
}

pub(super) fn check_sections(
    sections: &[SectionDoc],
    categories: &HashSet<&str>,
) -> Result<(), MapError> {
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

pub(super) fn check_row(path: impl Fn() -> String, row: &RowDoc) -> Result<(), MapError> {
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

pub(super) fn check_seat(
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
    use crate::seating::doc::Flag;
    if seat.flags.contains(&Flag::Wheelchair) && seat.flags.contains(&Flag::Companion) {
        return Err(MapError::ConflictingFlags { path: path() });
    }
    Ok(())
}

pub(super) fn check_areas(areas: &[AreaDoc], categories: &HashSet<&str>) -> Result<(), MapError> {
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

pub(super) fn check_drawing(drawing: &[Shape]) -> Result<(), MapError> {
    check_count(|| "drawing".into(), "shapes", drawing.len(), MAX_SHAPES)?;
    for (i, shape) in drawing.iter().enumerate() {
        check_shape(|| format!("drawing[{i}]"), shape)?;
    }
    Ok(())
}

/// A rectangle's or an ellipse's position, rotation and two sizes.
fn check_placed(
    path: impl Fn() -> String,
    (x, y, rotation): (f64, f64, f64),
    sizes: [(&'static str, f64); 2],
) -> Result<(), MapError> {
    check_coordinate(&path, "x", x)?;
    check_coordinate(&path, "y", y)?;
    for (field, size) in sizes {
        check_positive(&path, field, size)?;
    }
    check_coordinate(&path, "rotation", rotation)
}

pub(super) fn check_shape(path: impl Fn() -> String, shape: &Shape) -> Result<(), MapError> {
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
            check_placed(
                &path,
                (*x, *y, *rotation),
                [("width", *width), ("height", *height)],
            )?;
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
            check_placed(&path, (*x, *y, *rotation), [("rx", *rx), ("ry", *ry)])?;
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
