#![allow(clippy::unwrap_used)]

use super::*;
use crate::seating::best::{Finder, Request, Rules};
use crate::seating::doc::{Shape, Size};

const THEATRE: &str = include_str!("../fixtures/pretix-small-theatre.json");

fn theatre() -> Imported {
    let options = ImportOptions {
        wheelchair_categories: vec!["Rollstuhl".into()],
        companion_categories: vec!["Begleitung".into()],
        ..ImportOptions::default()
    };
    import(THEATRE, &options).unwrap()
}

fn row_ids<'a>(map: &'a SeatMap, section: &str, row: &str) -> Vec<&'a str> {
    let section = map
        .document()
        .sections
        .iter()
        .find(|s| s.id == section)
        .unwrap();
    let row = section.rows.iter().find(|r| r.id == row).unwrap();
    row.seats.iter().map(|s| s.id.as_str()).collect()
}

fn gaps(map: &SeatMap, section: &str, row: &str) -> Vec<usize> {
    let section = map
        .document()
        .sections
        .iter()
        .find(|s| s.id == section)
        .unwrap();
    let row = section.rows.iter().find(|r| r.id == row).unwrap();
    row.seats
        .iter()
        .enumerate()
        .filter(|(_, s)| s.gap_before)
        .map(|(i, _)| i)
        .collect()
}

#[test]
fn zones_with_seats_become_sections() {
    let imported = theatre();
    let map = &imported.map;
    let ids: Vec<&str> = map
        .document()
        .sections
        .iter()
        .map(|s| s.id.as_str())
        .collect();
    assert_eq!(ids, ["parkett", "Balkon", "loge-links"]);
    assert_eq!(map.seat_count(), 38);
    assert_eq!(map.document().name.as_deref(), Some("Kleines Theater"));
    assert_eq!(
        map.document().size,
        Size {
            width: 800.0,
            height: 600.0
        }
    );
}

#[test]
fn positions_add_zone_and_row_offsets() {
    let map = theatre().map;
    let seat = map.seat(map.index_of("parkett-1-1").unwrap()).unwrap();
    assert_eq!((seat.x, seat.y), (250.0, 150.0));
    let seat = map.seat(map.index_of("parkett-2-5").unwrap()).unwrap();
    assert_eq!((seat.x, seat.y), (500.0, 180.0));
    let seat = map.seat(map.index_of("loge-l-4").unwrap()).unwrap();
    assert_eq!((seat.x, seat.y), (40.0, 275.0));
}

#[test]
fn rows_of_one_number_merge_with_a_gap_between_their_parts() {
    let imported = theatre();
    let map = &imported.map;
    let expected: Vec<String> = (1..=8).map(|n| format!("parkett-1-{n}")).collect();
    assert_eq!(row_ids(map, "parkett", "1"), expected);
    assert_eq!(gaps(map, "parkett", "1"), [4]);
    assert!(imported
        .notes
        .iter()
        .any(|n| n.contains("2 rows numbered \"1\" merged")));
}

#[test]
fn seats_are_sorted_along_the_row_and_wide_spacing_is_a_gap() {
    let map = theatre().map;
    assert_eq!(
        gaps(&map, "parkett", "2"),
        [4],
        "175 units apart against 25"
    );
    let expected: Vec<String> = (1..=8).map(|n| format!("parkett-3-{n}")).collect();
    assert_eq!(row_ids(&map, "parkett", "3"), expected, "a slanted row");
    assert!(gaps(&map, "parkett", "3").is_empty());
    let balcony: Vec<String> = (1..=10)
        .map(|n| format!("5d9a1b9e-1c1e-4a53-8e0e-{n:012}"))
        .collect();
    assert_eq!(row_ids(&map, "Balkon", "1"), balcony, "a curved row");
    assert!(gaps(&map, "Balkon", "1").is_empty());
    assert_eq!(
        row_ids(&map, "loge-links", "L"),
        ["loge-l-1", "loge-l-2", "loge-l-3", "loge-l-4"],
        "a vertical row, top to bottom"
    );
}

#[test]
fn labels_and_categories_carry_over() {
    let imported = theatre();
    let map = &imported.map;
    let location = map.location(map.index_of("parkett-1-4").unwrap()).unwrap();
    assert_eq!(location.row.label.as_deref(), Some("Reihe 1"));
    assert_eq!(location.seat.label.as_deref(), Some("Platz 4"));
    assert_eq!(location.seat.category, "Parkett");
    let location = map.location(map.index_of("parkett-3-1").unwrap()).unwrap();
    assert_eq!(location.seat.label, None);
    let categories = map.categories();
    assert_eq!(categories[0].color, "#1d4ed8");
    assert_eq!(
        categories[1].color, PALETTE[1],
        "\"red\" is not a color we let through"
    );
    assert!(imported
        .notes
        .iter()
        .any(|n| n.contains("\"Loge\" had color \"red\"")));
    assert!(imported
        .notes
        .iter()
        .any(|n| n.contains("\"Begleitung\" had no color")));
}

#[test]
fn accessibility_comes_from_the_options() {
    let map = theatre().map;
    let wheelchair = map.seat(map.index_of("parkett-2-1").unwrap()).unwrap();
    assert!(wheelchair.flags.wheelchair());
    let companion = map.seat(map.index_of("parkett-2-2").unwrap()).unwrap();
    assert!(companion.flags.companion());
    let plain = import(THEATRE, &ImportOptions::default()).unwrap().map;
    assert!(plain
        .seats()
        .iter()
        .all(|s| !s.flags.is_accessible_seating()));
}

#[test]
fn areas_become_drawing_and_the_stage_the_focal_point() {
    let imported = theatre();
    let doc = imported.map.document();
    assert_eq!(doc.focal_point, Point { x: 400.0, y: 50.0 });
    assert!(
        doc.areas.is_empty(),
        "pretix areas have no capacity to sell"
    );
    let kinds: Vec<&str> = doc
        .drawing
        .iter()
        .map(|s| match s {
            Shape::Rectangle { .. } => "rectangle",
            Shape::Ellipse { .. } => "ellipse",
            Shape::Polygon { .. } => "polygon",
            Shape::Text { .. } => "text",
        })
        .collect();
    assert_eq!(kinds, ["rectangle", "text", "polygon", "text", "ellipse"]);
    assert!(matches!(&doc.drawing[1], Shape::Text { x, y, text, .. }
        if (*x, *y) == (400.0, 50.0) && text == "Bühne"));
    // The polygon is rotated 90° clockwise around its position (400, 410).
    let Shape::Polygon { points, .. } = &doc.drawing[2] else {
        panic!("a polygon")
    };
    let first = points[0];
    assert!(
        (first[0] - 400.0).abs() < 1e-9 && (first[1] - 370.0).abs() < 1e-9,
        "{first:?}"
    );
    assert!(imported
        .notes
        .iter()
        .any(|n| n.contains("focal point: the centre of the area \"Bühne\"")));
}

#[test]
fn an_explicit_focal_point_wins() {
    let options = ImportOptions {
        focal_point: Some(Point { x: 1.0, y: 2.0 }),
        ..ImportOptions::default()
    };
    let map = import(THEATRE, &options).unwrap().map;
    assert_eq!(map.focal_point(), Point { x: 1.0, y: 2.0 });
}

#[test]
fn the_imported_map_serves_best_available() {
    let map = theatre().map;
    let finder = Finder::new(&map);
    let request = Request {
        quantity: 2,
        category: "Parkett",
        accessible: false,
        excluding: &[],
    };
    let choice = finder.find(&request, Rules::default(), &|_| true).unwrap();
    let ids: Vec<&str> = choice
        .seats
        .iter()
        .map(|s| map.seat_id(*s).unwrap())
        .collect();
    // Rows 1 and 2 have their middle in a wide central aisle, so their
    // best pairs are 100 units off it (score ≈ 132.9 + 50 and 156.7 + 50);
    // unbroken row 3 has a pair right at its middle (≈ 178.3 + 0).
    assert_eq!(ids, ["parkett-3-4", "parkett-3-5"]);
    let accessible = Request {
        accessible: true,
        category: "Rollstuhl",
        quantity: 1,
        ..request
    };
    let choice = finder
        .find(&accessible, Rules::default(), &|_| true)
        .unwrap();
    assert_eq!(map.seat_id(choice.seats[0]), Some("parkett-2-1"));
}

const MINIMAL: &str = r##"{
  "name": "Saal",
  "categories": [{"name": "Stalls", "color": "#33ffff"}],
  "zones": [
    {"name": "Main", "position": {"x": 0, "y": 0}, "rows": [
      {"row_number": "A", "position": {"x": 10, "y": 20}, "seats": [
        {"seat_guid": "a-1", "seat_number": "1", "position": {"x": 0, "y": 0}, "category": "Stalls"},
        {"seat_guid": "a-2", "seat_number": "2", "position": {"x": 30, "y": 0}, "category": "Stalls"}
      ]}
    ]},
    {"name": "Main", "position": {"x": 0, "y": 100}, "rows": [
      {"row_number": "A", "seats": [
        {"seat_guid": "b-1", "seat_number": "1", "position": {"x": 0, "y": 0}, "category": "Stalls"}
      ]}
    ]}
  ]
}"##;

#[test]
fn a_minimal_plan_without_size_or_stage_imports() {
    let imported = import(MINIMAL, &ImportOptions::default()).unwrap();
    let doc = imported.map.document();
    let ids: Vec<&str> = doc.sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        ["Main", "Main-2"],
        "repeated zone names get unique ids"
    );
    assert_eq!(
        doc.size,
        Size {
            width: 90.0,
            height: 150.0
        }
    );
    assert_eq!(doc.focal_point, Point { x: 45.0, y: 0.0 });
    assert!(imported.notes.iter().any(|n| n.contains("no stage area")));
    assert!(imported.notes.iter().any(|n| n.contains("no size")));
}

#[test]
fn broken_plans_are_refused_with_the_reason() {
    let duplicate = MINIMAL.replace("\"b-1\"", "\"a-1\"");
    let err = import(&duplicate, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, PretixError::Invalid(MapError::DuplicateSeatId { id, .. }) if id == "a-1"),
        "{err}"
    );
    let unknown = MINIMAL.replacen("\"category\": \"Stalls\"", "\"category\": \"VIP\"", 1);
    assert!(matches!(
        import(&unknown, &ImportOptions::default()),
        Err(PretixError::Invalid(MapError::UnknownCategory { .. }))
    ));
    let broken = MINIMAL.replace("\"zones\"", "\"zonez\"");
    let err = import(&broken, &ImportOptions::default()).unwrap_err();
    assert!(
        matches!(&err, PretixError::Json { message, .. } if message.contains("zones")),
        "{err}"
    );
    let blank = MINIMAL.replace("\"seat_number\": \"2\"", "\"seat_number\": \"\"");
    assert!(matches!(
        import(&blank, &ImportOptions::default()),
        Err(PretixError::Invalid(MapError::EmptyLabel {
            field: "number",
            ..
        }))
    ));
}
