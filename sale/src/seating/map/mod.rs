//! The seat map: a validated, normalised [`Document`] plus the canonical seat
//! index and the per-seat, per-row and per-block data the rest of the sale
//! works with (seat states, best available, tickets).
//!
//! - **Canonical index**: seats are numbered `0..N-1` in document order
//!   (sections, then rows, then seats). Every per-seat array the API serves
//!   uses it, and so does everything here.
//! - **Blocks**: a block is a maximal run of seats of one row that are next
//!   to each other (no `gap_before` between them). Adjacency never leaves a
//!   block, so "seats together" always means "a window of one block".
//! - **Along**: each seat's distance from the first seat of its row, walking
//!   through every seat between (taken or not, across gaps). A row's middle
//!   is half its full length, so "the middle of the row" never moves as seats
//!   sell.
//!
//! A `SeatMap` is immutable; share it behind an `Arc`.
//!
//! Inside: `index` (the canonical index and normalisation), `tests`.

use super::doc::{CategoryDoc, Document, Flag, Point, RowDoc, SeatDoc, SectionDoc};
use super::validate::{validate, MapError, MAX_JSON_BYTES};
use index::{normalise, IndexBuilder};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;

mod index;
#[cfg(test)]
mod tests;

/// The flags of one seat as a small bit set.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Flags(u8);

impl Flags {
    const WHEELCHAIR: u8 = 1;
    const COMPANION: u8 = 2;
    const RESTRICTED_VIEW: u8 = 4;
    const AISLE: u8 = 8;

    pub fn from_flags(flags: &[Flag]) -> Self {
        Self(flags.iter().fold(0, |bits, flag| bits | Self::bit(*flag)))
    }

    fn bit(flag: Flag) -> u8 {
        match flag {
            Flag::Wheelchair => Self::WHEELCHAIR,
            Flag::Companion => Self::COMPANION,
            Flag::RestrictedView => Self::RESTRICTED_VIEW,
            Flag::Aisle => Self::AISLE,
        }
    }

    pub fn contains(self, flag: Flag) -> bool {
        self.0 & Self::bit(flag) != 0
    }

    pub fn wheelchair(self) -> bool {
        self.contains(Flag::Wheelchair)
    }

    pub fn companion(self) -> bool {
        self.contains(Flag::Companion)
    }

    /// Wheelchair spaces and companion seats are kept for accessible requests.
    pub fn is_accessible_seating(self) -> bool {
        self.0 & (Self::WHEELCHAIR | Self::COMPANION) != 0
    }
}

/// Per-seat data, indexed by the canonical seat index.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seat {
    /// Index into [`SeatMap::sections`].
    pub section: u32,
    /// Index into [`SeatMap::rows`] (rows of all sections, in order).
    pub row: u32,
    /// Index into [`SeatMap::blocks`].
    pub block: u32,
    /// 0 for the first seat of its block.
    pub position_in_block: u16,
    /// Index into [`SeatMap::categories`].
    pub category: u16,
    pub flags: Flags,
    pub x: f64,
    pub y: f64,
    /// Distance from the row's first seat, through every seat between.
    pub along: f64,
}

/// Per-row data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Row {
    pub section: u32,
    /// The row's position in its section's `rows`.
    pub index_in_section: u32,
    pub first_seat: u32,
    pub seat_count: u32,
    pub first_block: u32,
    pub block_count: u32,
    /// The row's full length: `along` of its last seat.
    pub length: f64,
}

impl Row {
    pub fn seats(&self) -> Range<u32> {
        self.first_seat..self.first_seat + self.seat_count
    }

    /// The middle of the row's full geometry, as an `along` value.
    pub fn middle(&self) -> f64 {
        self.length / 2.0
    }
}

/// A maximal run of adjacent seats of one row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Block {
    pub row: u32,
    pub first_seat: u32,
    pub len: u32,
}

impl Block {
    pub fn seats(&self) -> Range<u32> {
        self.first_seat..self.first_seat + self.len
    }
}

/// Per-section data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    pub first_row: u32,
    pub row_count: u32,
    pub first_seat: u32,
    pub seat_count: u32,
}

impl Section {
    pub fn seats(&self) -> Range<u32> {
        self.first_seat..self.first_seat + self.seat_count
    }

    pub fn rows(&self) -> Range<u32> {
        self.first_row..self.first_row + self.row_count
    }
}

/// Where a seat is, with its printed labels.
#[derive(Debug, Clone, Copy)]
pub struct SeatLocation<'a> {
    pub section: &'a SectionDoc,
    pub row: &'a RowDoc,
    pub seat: &'a SeatDoc,
}

/// Counts for the operator and the API.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub seats: u32,
    pub sections: u32,
    pub rows: u32,
    pub blocks: u32,
    /// One entry per declared category, in declared order.
    pub categories: Vec<CategorySummary>,
    pub ga_areas: u32,
    pub ga_capacity: u64,
}

/// Seats of one category.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CategorySummary {
    pub id: String,
    pub name: String,
    pub seats: u32,
    pub wheelchair: u32,
    pub companion: u32,
    pub restricted_view: u32,
    /// Capacity of the general-admission areas of this category.
    pub ga_capacity: u64,
}

/// A validated, normalised seat map with its canonical index.
#[derive(Debug, Clone)]
pub struct SeatMap {
    document: Document,
    seats: Vec<Seat>,
    rows: Vec<Row>,
    blocks: Vec<Block>,
    sections: Vec<Section>,
    seat_by_id: HashMap<String, u32>,
    category_by_id: HashMap<String, u16>,
}

/// Just the `format` field, to tell "not our format" from "broken JSON".
#[derive(Deserialize)]
struct FormatProbe {
    format: Option<String>,
}

impl SeatMap {
    /// Parses, validates and normalises a `lineup.seatmap/1` document.
    pub fn parse(json: &str) -> Result<Self, MapError> {
        if json.len() > MAX_JSON_BYTES {
            return Err(MapError::TooLarge {
                size: json.len(),
                limit: MAX_JSON_BYTES,
            });
        }
        let document = serde_json::from_str::<Document>(json).map_err(|err| {
            match serde_json::from_str::<FormatProbe>(json) {
                Ok(probe) if probe.format.as_deref() != Some(super::doc::FORMAT) => {
                    MapError::WrongFormat {
                        found: probe.format,
                    }
                }
                _ => MapError::Json {
                    line: err.line(),
                    column: err.column(),
                    message: err.to_string(),
                },
            }
        })?;
        Self::from_document(document)
    }

    /// Validates and normalises a document built in code (generator, import).
    pub fn from_document(mut document: Document) -> Result<Self, MapError> {
        validate(&document)?;
        normalise(&mut document);
        Ok(Self::index(document))
    }

    /// Builds the canonical index of a valid, normalised document.
    fn index(document: Document) -> Self {
        let category_by_id: HashMap<String, u16> = document
            .categories
            .iter()
            .enumerate()
            .map(|(i, c)| (c.id.clone(), i as u16))
            .collect();
        let seat_count = document
            .sections
            .iter()
            .flat_map(|s| &s.rows)
            .map(|r| r.seats.len())
            .sum();
        let mut builder = IndexBuilder::with_capacity(seat_count);
        for section in &document.sections {
            builder.add_section(section, &category_by_id);
        }
        Self {
            seats: builder.seats,
            rows: builder.rows,
            blocks: builder.blocks,
            sections: builder.sections,
            seat_by_id: builder.seat_by_id,
            category_by_id,
            document,
        }
    }

    /// The normalised document (what the API serves).
    pub fn document(&self) -> &Document {
        &self.document
    }

    /// The normalised document as compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(&self.document).expect("a validated document always serialises")
    }

    pub fn seat_count(&self) -> usize {
        self.seats.len()
    }

    /// All seats in canonical order.
    pub fn seats(&self) -> &[Seat] {
        &self.seats
    }

    pub fn seat(&self, index: u32) -> Option<&Seat> {
        self.seats.get(index as usize)
    }

    /// The canonical index of the seat with this id.
    pub fn index_of(&self, id: &str) -> Option<u32> {
        self.seat_by_id.get(id).copied()
    }

    /// The seat's section, row and own entry in the document.
    pub fn location(&self, index: u32) -> Option<SeatLocation<'_>> {
        let seat = self.seat(index)?;
        let row = self.rows.get(seat.row as usize)?;
        let section_doc = self.document.sections.get(seat.section as usize)?;
        let row_doc = section_doc.rows.get(row.index_in_section as usize)?;
        let seat_doc = row_doc.seats.get((index - row.first_seat) as usize)?;
        Some(SeatLocation {
            section: section_doc,
            row: row_doc,
            seat: seat_doc,
        })
    }

    /// The seat's id (its identity in orders).
    pub fn seat_id(&self, index: u32) -> Option<&str> {
        self.location(index).map(|l| l.seat.id.as_str())
    }

    pub fn rows(&self) -> &[Row] {
        &self.rows
    }

    pub fn blocks(&self) -> &[Block] {
        &self.blocks
    }

    pub fn sections(&self) -> &[Section] {
        &self.sections
    }

    pub fn categories(&self) -> &[CategoryDoc] {
        &self.document.categories
    }

    pub fn category_index(&self, id: &str) -> Option<u16> {
        self.category_by_id.get(id).copied()
    }

    pub fn focal_point(&self) -> Point {
        self.document.focal_point
    }

    /// Seat counts per category, sections, rows, blocks and GA capacity.
    pub fn summary(&self) -> Summary {
        let mut categories: Vec<CategorySummary> = self
            .categories()
            .iter()
            .map(|c| CategorySummary {
                id: c.id.clone(),
                name: c.name.clone(),
                seats: 0,
                wheelchair: 0,
                companion: 0,
                restricted_view: 0,
                ga_capacity: 0,
            })
            .collect();
        for seat in &self.seats {
            let entry = &mut categories[seat.category as usize];
            entry.seats += 1;
            entry.wheelchair += u32::from(seat.flags.wheelchair());
            entry.companion += u32::from(seat.flags.companion());
            entry.restricted_view += u32::from(seat.flags.contains(Flag::RestrictedView));
        }
        for area in &self.document.areas {
            if let Some(i) = self.category_index(&area.category) {
                categories[i as usize].ga_capacity += u64::from(area.capacity);
            }
        }
        Summary {
            seats: self.seats.len() as u32,
            sections: self.sections.len() as u32,
            rows: self.rows.len() as u32,
            blocks: self.blocks.len() as u32,
            categories,
            ga_areas: self.document.areas.len() as u32,
            ga_capacity: self
                .document
                .areas
                .iter()
                .map(|a| u64::from(a.capacity))
                .sum(),
        }
    }
}
