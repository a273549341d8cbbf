//! The stadium's geometry: the floor in front of the stage, tiers of wedges
//! around it, rows along each wedge's arc, accessible groups, trimming to the
//! exact seat count and categories by distance to the stage.

use super::document::row_letters;
use super::specs::{RowSpec, SeatSpec, SectionSpec, SplitMix64};
use super::{
    BOWL_HALF_ANGLE_DEG, CATEGORY_SHARES, CONCOURSE, FLOOR_SECTIONS, MAX_BLOCK_SEATS,
    ROWS_PER_TIER, ROW_PITCH, SEAT_PITCH, SECTION_AISLE_SEATS, SECTION_SEATS,
};
use crate::seating::doc::{Flag, Outline};

/// Floor sections A–C of straight rows between the stage and the bowl.
pub(super) fn floor(target: usize, inner_radius: f64, rng: &mut SplitMix64) -> Vec<SectionSpec> {
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
pub(super) struct Wedge {
    /// Angle of the wedge's middle, radians from the axis facing the stage.
    pub(super) middle: f64,
    /// Angular width, radians.
    pub(super) width: f64,
    /// Angle of a pillar in front of the first rows, if any.
    pub(super) pillar: Option<f64>,
    pub(super) accessible_left: bool,
}

/// Tiers of wedge sections around the bowl's centre until `target` seats.
pub(super) fn bowl(target: usize, inner_radius: f64, rng: &mut SplitMix64) -> Vec<SectionSpec> {
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
pub(super) fn tier_wedges(tier: usize, radius: f64, rng: &mut SplitMix64) -> Vec<Wedge> {
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
pub(super) fn wedge_row(centre: (f64, f64), wedge: &Wedge, r: usize, radius: f64) -> RowSpec {
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
pub(super) fn add_accessible_group(seats: &mut [SeatSpec], left: bool) {
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
pub(super) fn wedge_outline(
    centre: (f64, f64),
    wedge: &Wedge,
    radius: f64,
    rows: usize,
) -> Outline {
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
pub(super) fn trim_last_ring(sections: &mut [SectionSpec], mut excess: usize) {
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
pub(super) fn assign_categories_by_distance(sections: &mut [SectionSpec], focal: (f64, f64)) {
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
