#![allow(clippy::unwrap_used)]

use super::*;
use crate::seating::doc::{Shape, FORMAT};
use std::time::Instant;

/// The spec's example, grown a little (also shown in the README).
const EXAMPLE: &str = include_str!("../fixtures/example-map.json");

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
    assert!(matches!(&doc.drawing[0], Shape::Rectangle { fill: Some(f), .. } if f == "#1f2937"));
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
