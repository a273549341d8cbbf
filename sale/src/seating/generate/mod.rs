//! Generated venues: [`stadium`] for big, realistic test and load-test maps,
//! [`small_hall`] for tests and the demo. Both return a document in our
//! format (pass it to [`SeatMap::from_document`](super::map::SeatMap::from_document)),
//! deterministically: the same arguments always give the same document.
//!
//! The stadium is a horseshoe bowl facing a stage at its open end, with an
//! optional floor of straight rows in front of the stage:
//! - **floor** (from 20,000 seats on, 12 % of them): sections A–C, rows
//!   A, B, … of straight rows;
//! - **tiers** 100s, 200s, … of wedge-shaped sections, each row an arc around
//!   the bowl's centre; sections are separated by radial aisles and rows
//!   wider than 26 seats are split in two blocks by a central aisle;
//! - **categories** `cat1`–`cat4` by the distance of each row's middle to the
//!   stage (nearest 15 % of seats, then 30 %, 35 %, 20 %);
//! - **accessible seating**: at one end of each section's first row,
//!   companion, wheelchair, wheelchair, companion;
//! - **pillars** (upper tiers, about one section in five, placed by the
//!   seed): the first four rows lose the seat behind the pillar (a gap) and
//!   the two seats on each side of it have a restricted view.
//!
//! The bowl grows ring by ring (one row across all sections of a tier) until
//! the count is reached; the last ring is trimmed evenly from its rows' ends
//! so the map has exactly the seats asked for.
//!
//! Inside: `specs` (building blocks, seeded random numbers), `bowl` (the
//! stadium's geometry), `document` (the output document), `tests`.

use super::doc::{CategoryDoc, Document, Flag, Size};
use bowl::{assign_categories_by_distance, bowl, floor};
use document::build_document;
use specs::{RowSpec, SeatSpec, SectionSpec, SplitMix64, Stage};

mod bowl;
mod document;
mod specs;
#[cfg(test)]
mod tests;

/// Distance between neighbouring seats of a row (drawing units; 1 unit ≈ 5 cm).
const SEAT_PITCH: f64 = 10.0;
/// Distance between rows.
const ROW_PITCH: f64 = 16.0;
/// Rows per tier before the next tier starts behind a concourse.
const ROWS_PER_TIER: usize = 25;
/// The concourse between tiers.
const CONCOURSE: f64 = 60.0;
/// The bowl spans ±this many degrees around the axis facing the stage.
const BOWL_HALF_ANGLE_DEG: f64 = 140.0;
/// Sections are about this many seats wide at their front row.
const SECTION_SEATS: f64 = 24.0;
/// Radial aisle between two sections, in seat pitches.
const SECTION_AISLE_SEATS: f64 = 2.0;
/// Rows wider than this get a central aisle.
const MAX_BLOCK_SEATS: usize = 26;
/// Maps this big or bigger get a floor in front of the stage.
const FLOOR_FROM_SEATS: usize = 20_000;
const FLOOR_SHARE_PERCENT: usize = 12;
const FLOOR_SECTIONS: usize = 3;
/// Space kept around everything when the drawing is sized.
const MARGIN: f64 = 100.0;
/// Category shares of the seats by distance to the stage, in percent.
const CATEGORY_SHARES: [(&str, &str, &str, usize); 4] = [
    ("cat1", "Category 1", "#1d4ed8", 15),
    ("cat2", "Category 2", "#15803d", 30),
    ("cat3", "Category 3", "#b45309", 35),
    ("cat4", "Category 4", "#7c3aed", 20),
];

/// A stadium of exactly `seats` seats (at most what the format allows is
/// the caller's business: more than 100,000 will not validate).
pub fn stadium(seats: usize, seed: u64) -> Document {
    let mut rng = SplitMix64(seed);
    let inner_radius = (4.0 * (seats as f64).sqrt()).max(200.0);
    let floor_target = if seats >= FLOOR_FROM_SEATS {
        seats * FLOOR_SHARE_PERCENT / 100
    } else {
        0
    };
    let mut sections = floor(floor_target, inner_radius, &mut rng);
    sections.extend(bowl(seats - floor_target, inner_radius, &mut rng));
    let focal = (0.0, 0.0);
    assign_categories_by_distance(&mut sections, focal);
    let stage = Stage {
        x: -0.25 * inner_radius,
        y: -0.15 * inner_radius,
        width: 0.5 * inner_radius,
        height: 0.15 * inner_radius,
    };
    build_document(
        format!("Generated stadium ({seats} seats, seed {seed})"),
        sections,
        focal,
        stage,
        categories(),
    )
}

/// A ~300-seat hall: stalls A–J of three blocks each (6 + 12 + 6), two
/// wheelchair spaces with companions at each end of row J, and a curved
/// three-row balcony whose outer front seats have a restricted view.
pub fn small_hall() -> Document {
    let pitch = 30.0;
    let mut stalls = SectionSpec::new("stalls", "Stalls");
    for (r, name) in ["A", "B", "C", "D", "E", "F", "G", "H", "I", "J"]
        .iter()
        .enumerate()
    {
        let y = 200.0 + 40.0 * r as f64;
        let mut row = RowSpec::new(name);
        for k in 0..24usize {
            // Blocks of 6, 12 and 6 with an aisle (one seat wide) between them.
            let aisles_before = usize::from(k >= 6) + usize::from(k >= 18);
            let x = 500.0 + pitch * ((k + aisles_before) as f64 - 12.5);
            let mut seat = SeatSpec::at(x, y);
            seat.gap_before = k == 6 || k == 18;
            let centre = (6..18).contains(&k);
            seat.category = Some(match (r < 5, centre) {
                (true, true) => 0,
                (true, false) | (false, true) => 1,
                (false, false) => 2,
            });
            if *name == "J" {
                seat.flags = match k {
                    0 | 23 => vec![Flag::Companion],
                    1 | 2 | 21 | 22 => vec![Flag::Wheelchair],
                    3 | 20 => vec![Flag::Companion],
                    _ => vec![],
                };
            }
            row.seats.push(seat);
        }
        stalls.rows.push(row);
    }
    let mut balcony = SectionSpec::new("balcony", "Balcony");
    for r in 0..3usize {
        let radius = 590.0 + 40.0 * r as f64;
        let mut row = RowSpec::new(&(r + 1).to_string());
        for k in 0..20usize {
            let angle = (k as f64 - 9.5) * pitch / radius;
            let mut seat = SeatSpec::at(500.0 + radius * angle.sin(), 110.0 + radius * angle.cos());
            seat.category = Some(2);
            if r == 0 && !(2..18).contains(&k) {
                seat.flags = vec![Flag::RestrictedView];
            }
            row.seats.push(seat);
        }
        balcony.rows.push(row);
    }
    let stage = Stage {
        x: 300.0,
        y: 50.0,
        width: 400.0,
        height: 60.0,
    };
    let mut doc = build_document(
        "Small hall".into(),
        vec![stalls, balcony],
        (500.0, 110.0),
        stage,
        categories()[..3].to_vec(),
    );
    // The hall is drawn at its own coordinates, not shifted to a margin.
    doc.size = Size {
        width: 1000.0,
        height: 820.0,
    };
    doc
}

fn categories() -> Vec<CategoryDoc> {
    CATEGORY_SHARES
        .iter()
        .map(|(id, name, color, _)| CategoryDoc {
            id: (*id).into(),
            name: (*name).into(),
            color: (*color).into(),
        })
        .collect()
}
