//! Generated sections and rows into a `lineup.seatmap/1` document: ids,
//! labels, outlines and rounded coordinates.

use super::specs::{SectionSpec, Stage};
use super::MARGIN;
use crate::seating::doc::{CategoryDoc, Point, RowDoc, SeatDoc, SectionDoc, Shape, Size, FORMAT};
use crate::seating::geometry::bounding_box;
use crate::seating::Document;

/// Numbers the seats, names them, shifts everything into positive
/// coordinates and sizes the drawing.
pub(super) fn build_document(
    name: String,
    sections: Vec<SectionSpec>,
    focal: (f64, f64),
    stage: Stage,
    categories: Vec<CategoryDoc>,
) -> Document {
    let seat_points = sections
        .iter()
        .flat_map(|s| &s.rows)
        .flat_map(|r| &r.seats)
        .map(|s| (s.x, s.y));
    let stage_points = [
        (stage.x, stage.y),
        (stage.x + stage.width, stage.y + stage.height),
    ];
    let (x0, y0, x1, y1) = bounding_box(seat_points.chain(stage_points)).unwrap_or_default();
    let shift = (MARGIN - x0, MARGIN - y0);
    let at = |x: f64, y: f64| (round2(x + shift.0), round2(y + shift.1));
    let sections = sections
        .into_iter()
        .map(|section| section_doc(section, &categories, &at))
        .collect();
    let (stage_x, stage_y) = at(stage.x, stage.y);
    let (focal_x, focal_y) = at(focal.0, focal.1);
    Document {
        format: FORMAT.into(),
        name: Some(name),
        size: Size {
            width: round2(x1 - x0 + 2.0 * MARGIN),
            height: round2(y1 - y0 + 2.0 * MARGIN),
        },
        focal_point: Point {
            x: focal_x,
            y: focal_y,
        },
        categories,
        sections,
        areas: Vec::new(),
        drawing: vec![
            Shape::Rectangle {
                x: stage_x,
                y: stage_y,
                width: round2(stage.width),
                height: round2(stage.height),
                rotation: 0.0,
                fill: Some("#1f2937".into()),
                stroke: None,
            },
            Shape::Text {
                x: round2(stage_x + stage.width / 2.0),
                y: round2(stage_y + stage.height / 2.0),
                text: "STAGE".into(),
                size: round2((stage.height / 3.0).max(8.0)),
                rotation: 0.0,
                color: Some("#ffffff".into()),
            },
        ],
    }
}

pub(super) fn section_doc(
    section: SectionSpec,
    categories: &[CategoryDoc],
    at: &impl Fn(f64, f64) -> (f64, f64),
) -> SectionDoc {
    let rows = section
        .rows
        .into_iter()
        .map(|row| {
            let seats = row
                .seats
                .into_iter()
                .enumerate()
                .map(|(k, seat)| {
                    let (x, y) = at(seat.x, seat.y);
                    let number = (k + 1).to_string();
                    SeatDoc {
                        id: format!("{}-{}-{}", section.id, row.name, number),
                        number,
                        x,
                        y,
                        category: categories[seat.category.unwrap_or(row.category)].id.clone(),
                        flags: seat.flags,
                        gap_before: seat.gap_before,
                        label: None,
                    }
                })
                .collect();
            RowDoc {
                id: row.name.clone(),
                name: row.name,
                label: None,
                seats,
            }
        })
        .collect();
    SectionDoc {
        outline: section.outline.map(|outline| {
            outline
                .into_iter()
                .map(|[x, y]| {
                    let (x, y) = at(x, y);
                    [x, y]
                })
                .collect()
        }),
        id: section.id,
        name: section.name,
        rows,
    }
}

/// Rounds to hundredths of a unit: plenty for drawing, and short JSON.
pub(super) fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Row letters: A … Z, AA, AB, … (no I or O, which read as 1 and 0).
pub(super) fn row_letters(index: usize) -> String {
    const LETTERS: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ";
    let base = LETTERS.len();
    let mut n = index;
    let mut out = Vec::new();
    loop {
        out.push(LETTERS[n % base]);
        if n < base {
            break;
        }
        n = n / base - 1;
    }
    out.reverse();
    String::from_utf8_lossy(&out).into_owned()
}
