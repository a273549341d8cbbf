//! Building a map's canonical index (seats, rows, blocks, sections, ids) from
//! a valid document, and the normalisation applied before it.

use super::{Block, Flags, Row, Seat, Section};
use crate::seating::doc::{RowDoc, SectionDoc, Shape};
use crate::seating::geometry::{bounding_box, distance, lower_median};
use crate::seating::validate::normalise_color;
use crate::seating::Document;
use std::collections::HashMap;

/// Accumulates the per-seat, per-row, per-block and per-section vectors.
pub(super) struct IndexBuilder {
    pub(super) seats: Vec<Seat>,
    pub(super) rows: Vec<Row>,
    pub(super) blocks: Vec<Block>,
    pub(super) sections: Vec<Section>,
    pub(super) seat_by_id: HashMap<String, u32>,
}

impl IndexBuilder {
    pub(super) fn with_capacity(seats: usize) -> Self {
        Self {
            seats: Vec::with_capacity(seats),
            rows: Vec::new(),
            blocks: Vec::new(),
            sections: Vec::new(),
            seat_by_id: HashMap::with_capacity(seats),
        }
    }

    pub(super) fn add_section(&mut self, section: &SectionDoc, categories: &HashMap<String, u16>) {
        let entry = Section {
            first_row: self.rows.len() as u32,
            row_count: section.rows.len() as u32,
            first_seat: self.seats.len() as u32,
            seat_count: section.rows.iter().map(|r| r.seats.len() as u32).sum(),
        };
        let section_index = self.sections.len() as u32;
        self.sections.push(entry);
        for (j, row) in section.rows.iter().enumerate() {
            self.add_row(section_index, j as u32, row, categories);
        }
    }

    pub(super) fn add_row(
        &mut self,
        section: u32,
        index_in_section: u32,
        row: &RowDoc,
        categories: &HashMap<String, u16>,
    ) {
        let row_index = self.rows.len() as u32;
        let first_seat = self.seats.len() as u32;
        let first_block = self.blocks.len() as u32;
        let mut along = 0.0;
        let mut previous: Option<(f64, f64)> = None;
        for (k, seat) in row.seats.iter().enumerate() {
            let here = (seat.x, seat.y);
            if let Some(prev) = previous {
                along += distance(prev, here);
            }
            previous = Some(here);
            if k == 0 || seat.gap_before {
                self.blocks.push(Block {
                    row: row_index,
                    first_seat: self.seats.len() as u32,
                    len: 0,
                });
            }
            let block_index = self.blocks.len() as u32 - 1;
            let block = &mut self.blocks[block_index as usize];
            let position_in_block = block.len as u16;
            block.len += 1;
            let index = self.seats.len() as u32;
            self.seat_by_id.insert(seat.id.clone(), index);
            self.seats.push(Seat {
                section,
                row: row_index,
                block: block_index,
                position_in_block,
                // Validation guarantees the category is declared.
                category: categories.get(&seat.category).copied().unwrap_or_default(),
                flags: Flags::from_flags(&seat.flags),
                x: seat.x,
                y: seat.y,
                along,
            });
        }
        self.rows.push(Row {
            section,
            index_in_section,
            first_seat,
            seat_count: row.seats.len() as u32,
            first_block,
            block_count: self.blocks.len() as u32 - first_block,
            length: along,
        });
    }
}

/// Brings a valid document to its one normal form: colors lowercase
/// `#rrggbb`, flags sorted and unique, no `gap_before` on a row's first seat,
/// an outline on every section.
pub(super) fn normalise(document: &mut Document) {
    for category in &mut document.categories {
        category.color = normalise_color(&category.color);
    }
    let pitch = typical_seat_pitch(&document.sections);
    for section in &mut document.sections {
        for row in &mut section.rows {
            normalise_row(row);
        }
        if section.outline.is_none() {
            section.outline = Some(padded_box(section, pitch));
        }
    }
    for shape in &mut document.drawing {
        normalise_shape_colors(shape);
    }
}

pub(super) fn normalise_row(row: &mut RowDoc) {
    for seat in &mut row.seats {
        seat.flags.sort_unstable();
        seat.flags.dedup();
    }
    if let Some(first) = row.seats.first_mut() {
        first.gap_before = false;
    }
}

pub(super) fn normalise_shape_colors(shape: &mut Shape) {
    let colors = match shape {
        Shape::Rectangle { fill, stroke, .. }
        | Shape::Ellipse { fill, stroke, .. }
        | Shape::Polygon { fill, stroke, .. } => [fill, stroke],
        Shape::Text { color, .. } => {
            if let Some(c) = color {
                *c = normalise_color(c);
            }
            return;
        }
    };
    for color in colors.into_iter().flatten() {
        *color = normalise_color(color);
    }
}

/// The lower median distance between adjacent seats of the whole map (10
/// when no two seats are adjacent): the padding of generated outlines.
pub(super) fn typical_seat_pitch(sections: &[SectionDoc]) -> f64 {
    let spacings: Vec<f64> = sections
        .iter()
        .flat_map(|s| &s.rows)
        .flat_map(|r| r.seats.windows(2))
        .filter(|pair| !pair[1].gap_before)
        .map(|pair| distance((pair[0].x, pair[0].y), (pair[1].x, pair[1].y)))
        .filter(|d| *d > 0.0)
        .collect();
    lower_median(&spacings).unwrap_or(10.0)
}

/// The bounding box of a section's seats, grown by `padding` on every side.
pub(super) fn padded_box(section: &SectionDoc, padding: f64) -> Vec<[f64; 2]> {
    let points = section
        .rows
        .iter()
        .flat_map(|r| &r.seats)
        .map(|s| (s.x, s.y));
    // A valid section has at least one seat.
    let (x0, y0, x1, y1) = bounding_box(points).unwrap_or_default();
    let (x0, y0, x1, y1) = (x0 - padding, y0 - padding, x1 + padding, y1 + padding);
    vec![[x0, y0], [x1, y0], [x1, y1], [x0, y1]]
}
