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

use super::doc::{
    CategoryDoc, Document, Flag, Outline, Point, RowDoc, SeatDoc, SectionDoc, Shape, Size, FORMAT,
};
use super::geometry::bounding_box;

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

/// A seat before numbering: where it is and what it is.
#[derive(Debug, Clone)]
struct SeatSpec {
    x: f64,
    y: f64,
    gap_before: bool,
    flags: Vec<Flag>,
    /// Index into the category list; `None` means "the row's".
    category: Option<usize>,
}

impl SeatSpec {
    fn at(x: f64, y: f64) -> Self {
        Self {
            x,
            y,
            gap_before: false,
            flags: Vec::new(),
            category: None,
        }
    }
}

#[derive(Debug, Clone)]
struct RowSpec {
    name: String,
    seats: Vec<SeatSpec>,
    category: usize,
}

impl RowSpec {
    fn new(name: &str) -> Self {
        Self {
            name: name.into(),
            seats: Vec::new(),
            category: 0,
        }
    }
}

#[derive(Debug, Clone)]
struct SectionSpec {
    id: String,
    name: String,
    outline: Option<Outline>,
    rows: Vec<RowSpec>,
}

impl SectionSpec {
    fn new(id: &str, name: &str) -> Self {
        Self {
            id: id.into(),
            name: name.into(),
            outline: None,
            rows: Vec::new(),
        }
    }
}

/// The stage rectangle, in the same coordinates as the seats.
struct Stage {
    x: f64,
    y: f64,
    width: f64,
    height: f64,
}

/// Floor sections A–C of straight rows between the stage and the bowl.
fn floor(target: usize, inner_radius: f64, rng: &mut SplitMix64) -> Vec<SectionSpec> {
    if target == 0 {
        return Vec::new();
    }
    let aisle = SECTION_AISLE_SEATS * SEAT_PITCH;
    let width = 1.1 * inner_radius;
    let section_width = (width - aisle * (FLOOR_SECTIONS - 1) as f64) / FLOOR_SECTIONS as f64;
    let per_row = ((section_width / SEAT_PITCH).floor() as usize).max(1);
    let mut sections: Vec<SectionSpec> = ["A", "B", "C"]
        .iter()
        .map(|id| SectionSpec::new(id, &format!("Floor {id}")))
        .collect();
    let mut count = 0;
    let mut r = 0;
    while count < target {
        let y = 0.1 * inner_radius + r as f64 * ROW_PITCH;
        for (s, section) in sections.iter_mut().enumerate() {
            let left = -width / 2.0 + s as f64 * (section_width + aisle);
            let mut row = RowSpec::new(&row_letters(r));
            row.seats = (0..per_row)
                .map(|k| SeatSpec::at(left + (k as f64 + 0.5) * SEAT_PITCH, y))
                .collect();
            if r == 0 {
                add_accessible_group(&mut row.seats, rng.one_in(2));
            }
            count += row.seats.len();
            section.rows.push(row);
        }
        r += 1;
    }
    trim_last_ring(&mut sections, count - target);
    sections.retain(|s| !s.rows.is_empty());
    sections
}

/// One wedge-shaped section of a tier.
#[derive(Debug, Clone, Copy)]
struct Wedge {
    /// Angle of the wedge's middle, radians from the axis facing the stage.
    middle: f64,
    /// Angular width, radians.
    width: f64,
    /// Angle of a pillar in front of the first rows, if any.
    pillar: Option<f64>,
    accessible_left: bool,
}

/// Tiers of wedge sections around the bowl's centre until `target` seats.
fn bowl(target: usize, inner_radius: f64, rng: &mut SplitMix64) -> Vec<SectionSpec> {
    let centre = (0.0, 0.8 * inner_radius);
    let mut sections = Vec::new();
    let mut count = 0;
    let mut radius = inner_radius;
    let mut tier = 0;
    while count < target {
        let wedges = tier_wedges(tier, radius, rng);
        let first = sections.len();
        sections.extend((0..wedges.len()).map(|i| {
            let id = format!("{}", (tier + 1) * 100 + i + 1);
            SectionSpec::new(&id, &format!("Section {id}"))
        }));
        for r in 0..ROWS_PER_TIER {
            let row_radius = radius + r as f64 * ROW_PITCH;
            for (i, wedge) in wedges.iter().enumerate() {
                let row = wedge_row(centre, wedge, r, row_radius);
                count += row.seats.len();
                if !row.seats.is_empty() {
                    sections[first + i].rows.push(row);
                }
            }
            if count >= target {
                trim_last_ring(&mut sections[first..], count - target);
                break;
            }
        }
        for (section, wedge) in sections[first..].iter_mut().zip(&wedges) {
            section.outline = Some(wedge_outline(centre, wedge, radius, section.rows.len()));
        }
        radius += ROWS_PER_TIER as f64 * ROW_PITCH + CONCOURSE;
        tier += 1;
    }
    sections.retain(|s| !s.rows.is_empty());
    sections
}

/// The wedges of one tier: as many ~24-seat sections as fit its front row,
/// with a radial aisle between neighbours.
fn tier_wedges(tier: usize, radius: f64, rng: &mut SplitMix64) -> Vec<Wedge> {
    let span = 2.0 * BOWL_HALF_ANGLE_DEG.to_radians();
    let aisle = SECTION_AISLE_SEATS * SEAT_PITCH / radius;
    let per_section = SECTION_SEATS * SEAT_PITCH / radius + aisle;
    let count = ((span / per_section).round() as usize).clamp(1, 99);
    let width = (span - aisle * (count - 1) as f64) / count as f64;
    (0..count)
        .map(|i| {
            let start = -span / 2.0 + i as f64 * (width + aisle);
            let has_pillar = tier > 0 && rng.one_in(5);
            let offset = (rng.unit() - 0.5) * 0.6 * width;
            Wedge {
                middle: start + width / 2.0,
                width,
                pillar: has_pillar.then_some(start + width / 2.0 + offset),
                accessible_left: rng.one_in(2),
            }
        })
        .collect()
}

/// Row `r` of a wedge: seats on an arc of `radius`, centred in the wedge,
/// ordered by angle (left to right as drawn at the far end).
fn wedge_row(centre: (f64, f64), wedge: &Wedge, r: usize, radius: f64) -> RowSpec {
    let step = SEAT_PITCH / radius;
    let places = (wedge.width / step).floor() as usize;
    let angle_of = |k: usize| wedge.middle + (k as f64 - (places as f64 - 1.0) / 2.0) * step;
    let mut removed = Vec::new();
    if places > MAX_BLOCK_SEATS {
        removed.push(places / 2);
    }
    let mut restricted = Vec::new();
    if let (Some(pillar), true) = (wedge.pillar, r < 4) {
        let behind = ((pillar - angle_of(0)) / step)
            .round()
            .clamp(0.0, places as f64 - 1.0) as usize;
        removed.push(behind);
        restricted.extend((behind.saturating_sub(2)..=behind + 2).filter(|k| *k != behind));
    }
    let mut row = RowSpec::new(&(r + 1).to_string());
    let mut gap = false;
    for k in 0..places {
        if removed.contains(&k) {
            gap = true;
            continue;
        }
        let angle = angle_of(k);
        let mut seat = SeatSpec::at(
            centre.0 + radius * angle.sin(),
            centre.1 + radius * angle.cos(),
        );
        seat.gap_before = std::mem::take(&mut gap);
        if restricted.contains(&k) {
            seat.flags.push(Flag::RestrictedView);
        }
        row.seats.push(seat);
    }
    if r == 0 {
        add_accessible_group(&mut row.seats, wedge.accessible_left);
    }
    row
}

/// Companion, wheelchair, wheelchair, companion at one end of a row of at
/// least 8 seats whose end seats are next to each other.
fn add_accessible_group(seats: &mut [SeatSpec], left: bool) {
    if seats.len() < 8 {
        return;
    }
    let pattern = [
        Flag::Companion,
        Flag::Wheelchair,
        Flag::Wheelchair,
        Flag::Companion,
    ];
    let range = if left {
        0..4
    } else {
        seats.len() - 4..seats.len()
    };
    if seats[range.start + 1..range.end]
        .iter()
        .any(|s| s.gap_before)
    {
        return;
    }
    for (seat, flag) in seats[range].iter_mut().zip(pattern) {
        seat.flags = vec![flag];
    }
}

/// A wedge's outline around its `rows` rows: inner and outer arcs half a
/// row pitch beyond the first and last rows.
fn wedge_outline(centre: (f64, f64), wedge: &Wedge, radius: f64, rows: usize) -> Outline {
    let inner = radius - ROW_PITCH / 2.0;
    let outer = radius + (rows.max(1) as f64 - 0.5) * ROW_PITCH;
    let steps = 8;
    let angle = |i: usize| wedge.middle - wedge.width / 2.0 + wedge.width * i as f64 / steps as f64;
    let point = |r: f64, a: f64| [centre.0 + r * a.sin(), centre.1 + r * a.cos()];
    let mut outline: Outline = (0..=steps).map(|i| point(inner, angle(i))).collect();
    outline.extend((0..=steps).rev().map(|i| point(outer, angle(i))));
    outline
}

/// Removes `excess` seats from the ends of the sections' last rows, round
/// robin across sections and alternating ends, so the last ring shrinks
/// evenly; rows left empty are dropped.
fn trim_last_ring(sections: &mut [SectionSpec], mut excess: usize) {
    let mut from_left = false;
    while excess > 0 {
        let mut removed_any = false;
        for section in sections.iter_mut() {
            if excess == 0 {
                break;
            }
            let Some(row) = section.rows.last_mut() else {
                continue;
            };
            if row.seats.is_empty() {
                continue;
            }
            if from_left {
                row.seats.remove(0);
                if let Some(first) = row.seats.first_mut() {
                    first.gap_before = false;
                }
            } else {
                row.seats.pop();
            }
            excess -= 1;
            removed_any = true;
        }
        from_left = !from_left;
        if !removed_any {
            break;
        }
    }
    for section in sections.iter_mut() {
        if section.rows.last().is_some_and(|r| r.seats.is_empty()) {
            section.rows.pop();
        }
    }
}

/// Rows sorted by the distance of their middle seat to the stage get
/// categories by cumulative seat share ([`CATEGORY_SHARES`]).
fn assign_categories_by_distance(sections: &mut [SectionSpec], focal: (f64, f64)) {
    let mut rows: Vec<(f64, usize, usize)> = Vec::new();
    let mut total = 0;
    for (s, section) in sections.iter().enumerate() {
        for (r, row) in section.rows.iter().enumerate() {
            let middle = &row.seats[row.seats.len() / 2];
            rows.push(((middle.x - focal.0).hypot(middle.y - focal.1), s, r));
            total += row.seats.len();
        }
    }
    rows.sort_by(|a, b| a.0.total_cmp(&b.0).then((a.1, a.2).cmp(&(b.1, b.2))));
    let mut seen = 0;
    for (_, s, r) in rows {
        let row = &mut sections[s].rows[r];
        let share = seen * 100 / total.max(1);
        let mut limit = 0;
        row.category = CATEGORY_SHARES
            .iter()
            .position(|(.., percent)| {
                limit += percent;
                share < limit
            })
            .unwrap_or(CATEGORY_SHARES.len() - 1);
        seen += row.seats.len();
    }
}

/// Numbers the seats, names them, shifts everything into positive
/// coordinates and sizes the drawing.
fn build_document(
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

fn section_doc(
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
fn round2(value: f64) -> f64 {
    (value * 100.0).round() / 100.0
}

/// Row letters: A … Z, AA, AB, … (no I or O, which read as 1 and 0).
fn row_letters(index: usize) -> String {
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

/// A tiny deterministic generator (SplitMix64): the layout must not change
/// with a dependency's version.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// True with probability 1/`n`.
    fn one_in(&mut self, n: u64) -> bool {
        self.next().is_multiple_of(n)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::super::map::SeatMap;
    use super::*;
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
            for pair in
                map.seats()[block.seats().start as usize..block.seats().end as usize].windows(2)
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
}
