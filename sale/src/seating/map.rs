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

use super::doc::{CategoryDoc, Document, Flag, Point, RowDoc, SeatDoc, SectionDoc, Shape};
use super::geometry::{bounding_box, distance, lower_median};
use super::validate::{normalise_color, validate, MapError, MAX_JSON_BYTES};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::ops::Range;

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

/// Accumulates the per-seat, per-row, per-block and per-section vectors.
struct IndexBuilder {
    seats: Vec<Seat>,
    rows: Vec<Row>,
    blocks: Vec<Block>,
    sections: Vec<Section>,
    seat_by_id: HashMap<String, u32>,
}

impl IndexBuilder {
    fn with_capacity(seats: usize) -> Self {
        Self {
            seats: Vec::with_capacity(seats),
            rows: Vec::new(),
            blocks: Vec::new(),
            sections: Vec::new(),
            seat_by_id: HashMap::with_capacity(seats),
        }
    }

    fn add_section(&mut self, section: &SectionDoc, categories: &HashMap<String, u16>) {
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

    fn add_row(
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
fn normalise(document: &mut Document) {
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

fn normalise_row(row: &mut RowDoc) {
    for seat in &mut row.seats {
        seat.flags.sort_unstable();
        seat.flags.dedup();
    }
    if let Some(first) = row.seats.first_mut() {
        first.gap_before = false;
    }
}

fn normalise_shape_colors(shape: &mut Shape) {
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
fn typical_seat_pitch(sections: &[SectionDoc]) -> f64 {
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
fn padded_box(section: &SectionDoc, padding: f64) -> Vec<[f64; 2]> {
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

#[cfg(test)]
mod tests {
    use super::super::doc::FORMAT;
    use super::*;
    use std::time::Instant;

    /// The spec's example, grown a little (also shown in the README).
    const EXAMPLE: &str = include_str!("fixtures/example-map.json");

    fn example() -> SeatMap {
        SeatMap::parse(EXAMPLE).expect("the example is valid")
    }

    fn example_doc() -> Document {
        serde_json::from_str(EXAMPLE).expect("the example parses")
    }

    fn rejected(doc: Document) -> MapError {
        SeatMap::from_document(doc).expect_err("must be rejected")
    }

    #[test]
    fn the_canonical_index_follows_document_order() {
        let map = example();
        assert_eq!(map.seat_count(), 5);
        let ids: Vec<&str> = (0..5).filter_map(|i| map.seat_id(i)).collect();
        assert_eq!(
            ids,
            ["104-12-5", "104-12-6", "104-12-7", "104-13-1", "105-1-1"]
        );
        assert_eq!(map.index_of("104-12-7"), Some(2));
        assert_eq!(map.index_of("nope"), None);
        assert_eq!(map.seat_id(5), None);
        let seat = map.seat(3).expect("seat 3");
        assert_eq!((seat.section, seat.row), (0, 1));
        assert_eq!(map.seat(4).expect("seat 4").section, 1);
        let location = map.location(2).expect("located");
        assert_eq!(
            (
                location.section.name.as_str(),
                location.row.name.as_str(),
                location.seat.number.as_str()
            ),
            ("Section 104", "12", "7")
        );
    }

    #[test]
    fn blocks_break_at_gaps_and_rows() {
        let map = example();
        let blocks: Vec<Vec<u32>> = map.blocks().iter().map(|b| b.seats().collect()).collect();
        assert_eq!(blocks, vec![vec![0, 1], vec![2], vec![3], vec![4]]);
        let positions: Vec<u16> = map.seats().iter().map(|s| s.position_in_block).collect();
        assert_eq!(positions, [0, 1, 0, 0, 0]);
        let row = map.rows()[0];
        assert_eq!((row.first_block, row.block_count), (0, 2));
        assert_eq!(map.sections()[0].rows(), 0..2);
        assert_eq!(map.sections()[0].seats(), 0..4);
    }

    #[test]
    fn along_measures_the_full_row() {
        let map = example();
        let along: Vec<f64> = map.seats()[..3].iter().map(|s| s.along).collect();
        assert_eq!(along, [0.0, 10.0, 30.0]);
        assert_eq!(map.rows()[0].length, 30.0);
        assert_eq!(map.rows()[0].middle(), 15.0);
    }

    #[test]
    fn seat_data_carries_category_and_flags() {
        let map = example();
        let seat = map.seat(1).expect("seat 1");
        assert_eq!(seat.category, 0);
        assert!(seat.flags.wheelchair() && seat.flags.contains(Flag::Aisle));
        assert!(seat.flags.is_accessible_seating());
        assert!(!map.seat(0).expect("seat 0").flags.is_accessible_seating());
        assert_eq!(map.seat(2).expect("seat 2").category, 1);
        assert_eq!(map.category_index("ga"), Some(2));
        assert_eq!((seat.x, seat.y), (130.5, 300.0));
    }

    #[test]
    fn normalisation_is_stable_and_complete() {
        let map = example();
        let doc = map.document();
        assert_eq!(doc.categories[0].color, "#1d4ed8");
        assert_eq!(doc.categories[2].color, "#999999");
        let row = &doc.sections[0].rows[0];
        assert!(
            !row.seats[0].gap_before,
            "gap before a row's first seat dropped"
        );
        assert_eq!(row.seats[1].flags, vec![Flag::Wheelchair, Flag::Aisle]);
        let outline = doc.sections[0].outline.as_ref().expect("outline filled in");
        // Pitch: lower median of the adjacent distances (10) pads the box.
        assert_eq!(outline[0], [110.5, 290.0]);
        assert_eq!(outline[2], [160.5, 330.0]);
        assert_eq!(doc.sections[1].outline.as_ref().map(Vec::len), Some(3));
        assert!(
            matches!(&doc.drawing[0], Shape::Rectangle { fill: Some(f), .. } if f == "#1f2937")
        );
        let again = SeatMap::parse(&map.to_json()).expect("normalised output parses");
        assert_eq!(again.document(), doc);
        assert_eq!(again.to_json(), map.to_json());
    }

    #[test]
    fn the_summary_counts_per_category() {
        let summary = example().summary();
        assert_eq!(
            (
                summary.seats,
                summary.sections,
                summary.rows,
                summary.blocks
            ),
            (5, 2, 3, 4)
        );
        let cat1 = &summary.categories[0];
        assert_eq!((cat1.seats, cat1.wheelchair), (2, 1));
        assert_eq!(summary.categories[1].seats, 3);
        assert_eq!(summary.categories[2].ga_capacity, 5000);
        assert_eq!((summary.ga_areas, summary.ga_capacity), (1, 5000));
    }

    #[test]
    fn duplicate_seat_ids_name_both_places() {
        let mut doc = example_doc();
        doc.sections[1].rows[0].seats[0].id = "104-12-6".into();
        let err = rejected(doc);
        assert_eq!(
            err.to_string(),
            "seat id \"104-12-6\" is used twice: at sections[0] \"104\" / rows[0] \"12\" / \
             seats[1] \"104-12-6\" and at sections[1] \"105\" / rows[0] \"1\" / seats[0] \"104-12-6\""
        );
    }

    #[test]
    fn duplicate_section_and_row_ids_are_refused() {
        let mut doc = example_doc();
        doc.sections[1].id = "104".into();
        assert!(matches!(
            rejected(doc),
            MapError::DuplicateSectionId {
                first: 0,
                second: 1,
                ..
            }
        ));
        let mut doc = example_doc();
        doc.sections[0].rows[1].id = "12".into();
        assert!(matches!(rejected(doc), MapError::DuplicateRowId { row, .. } if row == "12"));
        // The same row id in two sections is fine.
        let mut doc = example_doc();
        doc.sections[1].rows[0].id = "12".into();
        assert!(SeatMap::from_document(doc).is_ok());
        let mut doc = example_doc();
        doc.categories[1].id = "cat1".into();
        assert!(matches!(
            rejected(doc),
            MapError::DuplicateCategoryId { .. }
        ));
    }

    #[test]
    fn unknown_categories_are_named() {
        let mut doc = example_doc();
        doc.sections[0].rows[1].seats[0].category = "vip".into();
        let err = rejected(doc);
        assert!(
            matches!(&err, MapError::UnknownCategory { path, category }
                if category == "vip" && path.ends_with("seats[0] \"104-13-1\"")),
            "{err}"
        );
        let mut doc = example_doc();
        doc.areas[0].category = "cat9".into();
        assert!(
            matches!(rejected(doc), MapError::UnknownCategory { path, .. } if path.starts_with("areas[0]"))
        );
    }

    #[test]
    fn empty_and_bad_labels_are_refused() {
        let mut doc = example_doc();
        doc.sections[0].rows[0].seats[2].number = " ".into();
        let err = rejected(doc);
        assert!(
            matches!(&err, MapError::EmptyLabel { field: "number", path } if path.contains("104-12-7"))
        );
        let mut doc = example_doc();
        doc.sections[0].name = String::new();
        assert!(matches!(
            rejected(doc),
            MapError::EmptyLabel { field: "name", .. }
        ));
        let mut doc = example_doc();
        doc.sections[0].rows[0].seats[0].id = "a\tb".into();
        assert!(matches!(
            rejected(doc),
            MapError::ControlCharacter { field: "id", .. }
        ));
        let mut doc = example_doc();
        doc.sections[0].rows[0].id = "r".repeat(65);
        assert!(matches!(
            rejected(doc),
            MapError::IdTooLong { chars: 65, .. }
        ));
        let mut doc = example_doc();
        doc.categories[0].color = "red".into();
        assert!(matches!(rejected(doc), MapError::InvalidColor { .. }));
    }

    #[test]
    fn coordinates_must_be_finite() {
        let mut doc = example_doc();
        doc.sections[0].rows[0].seats[1].y = f64::NAN;
        let err = rejected(doc);
        assert!(
            matches!(&err, MapError::NonFiniteCoordinate { field: "y", path } if path.contains("104-12-6"))
        );
        let mut doc = example_doc();
        doc.focal_point.x = f64::INFINITY;
        assert!(matches!(
            rejected(doc),
            MapError::NonFiniteCoordinate { .. }
        ));
        let mut doc = example_doc();
        doc.size.width = 0.0;
        assert!(matches!(rejected(doc), MapError::NotPositive { .. }));
        // JSON cannot spell infinity; a huge literal is refused by the parser.
        let json = EXAMPLE.replace("120.5, \"y\": 320", "1e999, \"y\": 320");
        assert!(matches!(SeatMap::parse(&json), Err(MapError::Json { .. })));
    }

    #[test]
    fn limits_are_enforced() {
        let mut doc = example_doc();
        let seat = doc.sections[0].rows[1].seats[0].clone();
        doc.sections[0].rows[1].seats = (0..501)
            .map(|i| SeatDoc {
                id: format!("s{i}"),
                ..seat.clone()
            })
            .collect();
        let err = rejected(doc);
        assert!(
            matches!(
                &err,
                MapError::TooMany {
                    what: "seats",
                    count: 501,
                    max: 500,
                    ..
                }
            ),
            "{err}"
        );
        let mut doc = example_doc();
        let section = doc.sections[1].clone();
        doc.sections = (0..2001)
            .map(|i| SectionDoc {
                id: format!("s{i}"),
                rows: vec![RowDoc {
                    seats: vec![SeatDoc {
                        id: format!("seat{i}"),
                        ..section.rows[0].seats[0].clone()
                    }],
                    ..section.rows[0].clone()
                }],
                ..section.clone()
            })
            .collect();
        assert!(matches!(
            rejected(doc),
            MapError::TooMany {
                what: "sections",
                ..
            }
        ));
        let huge = " ".repeat(MAX_JSON_BYTES + 1);
        assert!(matches!(
            SeatMap::parse(&huge),
            Err(MapError::TooLarge { .. })
        ));
    }

    #[test]
    fn empty_rows_and_sections_are_refused() {
        let mut doc = example_doc();
        doc.sections[0].rows[1].seats.clear();
        assert!(matches!(
            rejected(doc),
            MapError::Empty { what: "seats", .. }
        ));
        let mut doc = example_doc();
        doc.sections[1].rows.clear();
        assert!(matches!(
            rejected(doc),
            MapError::Empty { what: "rows", .. }
        ));
    }

    #[test]
    fn the_format_must_be_ours() {
        let json = EXAMPLE.replace(FORMAT, "lineup.seatmap/2");
        assert!(matches!(
            SeatMap::parse(&json),
            Err(MapError::WrongFormat { found: Some(f) }) if f == "lineup.seatmap/2"
        ));
        let pretix = r#"{"name": "Hall", "zones": [], "categories": []}"#;
        assert!(matches!(
            SeatMap::parse(pretix),
            Err(MapError::WrongFormat { found: None })
        ));
        let broken = EXAMPLE.replace("\"gap_before\": true}", "\"gap_before\": true,}");
        assert!(matches!(
            SeatMap::parse(&broken),
            Err(MapError::Json { .. })
        ));
        let misspelt = EXAMPLE.replacen("\"gap_before\"", "\"gap_befor\"", 1);
        assert!(
            matches!(SeatMap::parse(&misspelt), Err(MapError::Json { message, .. }) if message.contains("gap_befor"))
        );
    }

    #[test]
    fn conflicting_flags_are_refused() {
        let mut doc = example_doc();
        doc.sections[0].rows[0].seats[0].flags = vec![Flag::Companion, Flag::Wheelchair];
        assert!(matches!(rejected(doc), MapError::ConflictingFlags { .. }));
    }

    #[test]
    fn parsing_fifty_thousand_seats_is_fast() {
        let json = super::super::generate::stadium(50_000, 7).to_json();
        let start = Instant::now();
        let map = SeatMap::parse(&json).expect("generated map is valid");
        let parsed = start.elapsed();
        let start = Instant::now();
        let out = map.to_json();
        let serialised = start.elapsed();
        assert_eq!(map.seat_count(), 50_000);
        println!(
            "parse 50,000 seats ({} bytes): {:.1} ms; to_json: {:.1} ms ({} bytes)",
            json.len(),
            parsed.as_secs_f64() * 1e3,
            serialised.as_secs_f64() * 1e3,
            out.len()
        );
    }
}
