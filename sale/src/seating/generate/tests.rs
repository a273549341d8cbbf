use super::document::row_letters;
use super::*;
use crate::seating::map::SeatMap;
use std::time::Instant;

fn map(doc: Document) -> SeatMap {
    SeatMap::from_document(doc).expect("generated maps are valid")
}

#[test]
fn stadium_has_exactly_the_seats_asked_for() {
    for seats in [0, 1, 7, 100, 999, 5_000, 19_999, 20_000, 33_333] {
        let doc = stadium(seats, 3);
        assert_eq!(map(doc).seat_count(), seats, "{seats}");
    }
}

#[test]
fn stadium_is_deterministic_and_depends_on_the_seed() {
    let a = stadium(12_000, 42).to_json();
    assert_eq!(a, stadium(12_000, 42).to_json());
    assert_ne!(a, stadium(12_000, 43).to_json());
}

#[test]
fn fifty_thousand_seats_are_quick_and_realistic() {
    let start = Instant::now();
    let doc = stadium(50_000, 1);
    let generated = start.elapsed();
    let map = map(doc);
    println!(
        "stadium(50,000): generated in {:.1} ms, {} sections, {} rows, {} blocks, {} bytes",
        generated.as_secs_f64() * 1e3,
        map.sections().len(),
        map.rows().len(),
        map.blocks().len(),
        map.to_json().len()
    );
    let summary = map.summary();
    assert_eq!(summary.seats, 50_000);
    assert!(summary.sections > 50, "{}", summary.sections);
    assert!(summary.blocks > summary.rows, "aisles split some rows");
    for category in &summary.categories {
        assert!(category.seats > 5_000, "{category:?}");
    }
    let wheelchair: u32 = summary.categories.iter().map(|c| c.wheelchair).sum();
    let companion: u32 = summary.categories.iter().map(|c| c.companion).sum();
    let restricted: u32 = summary.categories.iter().map(|c| c.restricted_view).sum();
    assert!(wheelchair >= summary.sections && companion >= summary.sections);
    assert!(restricted > 0);
    let doc = map.document();
    assert!(doc.sections.iter().any(|s| s.id == "A"), "a floor");
    assert!(doc.sections.iter().any(|s| s.id == "301"), "three tiers");
}

#[test]
fn a_hundred_thousand_seats_fit_the_format() {
    let doc = stadium(100_000, 9);
    let json = doc.to_json();
    let start = Instant::now();
    let map = SeatMap::parse(&json).expect("valid and within the size limit");
    println!(
        "stadium(100,000): {} bytes of JSON, parsed in {:.1} ms",
        json.len(),
        start.elapsed().as_secs_f64() * 1e3
    );
    assert_eq!(map.seat_count(), 100_000);
}

#[test]
fn closer_rows_get_better_categories() {
    let map = map(stadium(30_000, 5));
    let focal = map.focal_point();
    let mean_distance = |category: u16| {
        let seats: Vec<_> = map
            .seats()
            .iter()
            .filter(|s| s.category == category)
            .collect();
        seats
            .iter()
            .map(|s| (s.x - focal.x).hypot(s.y - focal.y))
            .sum::<f64>()
            / seats.len() as f64
    };
    let means: Vec<f64> = (0..4).map(mean_distance).collect();
    assert!(means.windows(2).all(|w| w[0] < w[1]), "{means:?}");
}

#[test]
fn seats_of_a_block_are_a_seat_apart() {
    let map = map(stadium(20_000, 11));
    for block in map.blocks() {
        for pair in map.seats()[block.seats().start as usize..block.seats().end as usize].windows(2)
        {
            let d = (pair[0].x - pair[1].x).hypot(pair[0].y - pair[1].y);
            assert!((d - SEAT_PITCH).abs() < 0.2, "{d}");
        }
    }
}

#[test]
fn small_hall_is_what_the_demo_expects() {
    let map = map(small_hall());
    let summary = map.summary();
    assert_eq!(summary.seats, 300);
    assert_eq!(
        (summary.sections, summary.rows, summary.blocks),
        (2, 13, 33)
    );
    let counts: Vec<u32> = summary.categories.iter().map(|c| c.seats).collect();
    assert_eq!(counts, [60, 120, 120]);
    let wheelchair: u32 = summary.categories.iter().map(|c| c.wheelchair).sum();
    assert_eq!(wheelchair, 4);
    assert_eq!(map.seat_id(0), Some("stalls-A-1"));
    assert_eq!(map.index_of("balcony-3-20"), Some(299));
}

#[test]
fn row_letters_skip_i_and_o() {
    let names: Vec<String> = [0, 7, 8, 23, 24, 25]
        .iter()
        .map(|i| row_letters(*i))
        .collect();
    assert_eq!(names, ["A", "H", "J", "Z", "AA", "AB"]);
}
