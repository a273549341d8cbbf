//! The conversion's walk: categories, zones into sections, pretix rows merged
//! into our rows with seats in physical order and gaps where they are.

use super::areas::{area_centre, area_text, names_a_stage};
use super::plan::{Plan, PlanCategory, PlanRow, PlanSeat, Position, Zone};
use super::{Converter, GAP_FACTOR, PALETTE};
use crate::seating::doc::{CategoryDoc, Flag, RowDoc, SeatDoc, SectionDoc, FORMAT};
use crate::seating::geometry::{distance, lower_median, principal_direction};
use crate::seating::validate::is_valid_color;
use crate::seating::Document;
use std::collections::{HashMap, HashSet};

/// One seat on its way into a row, with where it came from.
pub(super) struct PlacedSeat<'a> {
    pub(super) at: (f64, f64),
    /// Which pretix row of the merged row it came from.
    pub(super) part: usize,
    pub(super) seat: &'a PlanSeat,
    pub(super) label: Option<String>,
}

impl Converter<'_> {
    pub(super) fn document(&mut self, plan: &Plan) -> Document {
        let categories = self.categories(&plan.categories);
        let sections = self.sections(&plan.zones);
        let mut drawing = Vec::new();
        let mut stage = None;
        for zone in &plan.zones {
            for area in &zone.areas {
                let origin = zone.position.plus(area.position.unwrap_or_default());
                drawing.extend(self.shapes(area, origin));
                if stage.is_none() && names_a_stage(area) {
                    stage = Some((area_centre(area, origin), area_text(area)));
                }
            }
        }
        let size = self.size(plan.size.as_ref(), &sections, &drawing);
        let focal_point = self.focal_point(stage, size);
        Document {
            format: FORMAT.into(),
            name: plan.name.clone().filter(|n| !n.trim().is_empty()),
            size,
            focal_point,
            categories,
            sections,
            areas: Vec::new(),
            drawing,
        }
    }

    pub(super) fn categories(&mut self, categories: &[PlanCategory]) -> Vec<CategoryDoc> {
        categories
            .iter()
            .enumerate()
            .map(|(i, category)| {
                let color = match &category.color {
                    Some(color) if is_valid_color(color) => color.clone(),
                    other => {
                        let assigned = PALETTE[i % PALETTE.len()];
                        let had = other
                            .as_ref()
                            .map_or("no color".to_string(), |c| format!("color {c:?}"));
                        self.notes.push(format!(
                            "category {:?} had {had}; {assigned} assigned",
                            category.name
                        ));
                        assigned.to_string()
                    }
                };
                CategoryDoc {
                    id: category.name.clone(),
                    name: category.name.clone(),
                    color,
                }
            })
            .collect()
    }

    pub(super) fn sections(&mut self, zones: &[Zone]) -> Vec<SectionDoc> {
        let mut used_ids = HashSet::new();
        let mut sections = Vec::new();
        for (i, zone) in zones.iter().enumerate() {
            if zone.rows.iter().all(|r| r.seats.is_empty()) {
                continue;
            }
            let base = [&zone.zone_id, &zone.name]
                .into_iter()
                .flatten()
                .find(|s| !s.trim().is_empty())
                .cloned()
                .unwrap_or_else(|| format!("zone-{}", i + 1));
            let id = unique_id(&base, &mut used_ids);
            if id != base {
                self.notes.push(format!(
                    "zone {base:?} is not the only one of that id or name; its section is {id:?}"
                ));
            }
            let name = zone
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| id.clone());
            let rows = self.rows(zone, &name);
            sections.push(SectionDoc {
                id,
                name,
                outline: None,
                rows,
            });
        }
        sections
    }

    /// The zone's rows, pretix rows of one `row_number` merged, in order of
    /// first appearance.
    pub(super) fn rows(&mut self, zone: &Zone, zone_name: &str) -> Vec<RowDoc> {
        let mut groups: Vec<(&str, Vec<&PlanRow>)> = Vec::new();
        let mut group_of: HashMap<&str, usize> = HashMap::new();
        for row in zone.rows.iter().filter(|r| !r.seats.is_empty()) {
            let index = *group_of.entry(&row.row_number).or_insert_with(|| {
                groups.push((&row.row_number, Vec::new()));
                groups.len() - 1
            });
            groups[index].1.push(row);
        }
        groups
            .into_iter()
            .map(|(number, parts)| {
                if parts.len() > 1 {
                    self.notes.push(format!(
                        "zone {zone_name:?}: {} rows numbered {number:?} merged into one, with a gap between their parts",
                        parts.len()
                    ));
                }
                self.row(zone.position, number, &parts)
            })
            .collect()
    }

    pub(super) fn row(
        &mut self,
        zone_position: Position,
        number: &str,
        parts: &[&PlanRow],
    ) -> RowDoc {
        let mut placed: Vec<PlacedSeat<'_>> = Vec::new();
        for (part, row) in parts.iter().enumerate() {
            let origin = zone_position.plus(row.position.unwrap_or_default());
            for seat in &row.seats {
                placed.push(PlacedSeat {
                    at: origin.plus(seat.position).pair(),
                    part,
                    seat,
                    label: row
                        .seat_label
                        .as_ref()
                        .filter(|l| !l.trim().is_empty())
                        .map(|l| l.replace("%s", &seat.seat_number)),
                });
            }
        }
        sort_along_row(&mut placed);
        let gaps = gaps_before(&placed);
        self.gaps_found += gaps
            .iter()
            .zip(placed.iter().zip(placed.iter().skip(1)))
            .filter(|(gap, (a, b))| **gap && a.part == b.part)
            .count();
        let seats = placed
            .into_iter()
            .zip(std::iter::once(false).chain(gaps))
            .map(|(placed, gap_before)| SeatDoc {
                id: placed.seat.seat_guid.clone(),
                number: placed.seat.seat_number.clone(),
                x: placed.at.0,
                y: placed.at.1,
                category: placed.seat.category.clone(),
                flags: self.flags(&placed.seat.category),
                gap_before,
                label: placed.label,
            })
            .collect();
        let label = parts
            .iter()
            .filter_map(|r| r.row_label.as_ref())
            .find(|l| !l.trim().is_empty())
            .map(|l| l.replace("%s", number));
        RowDoc {
            id: number.to_string(),
            name: number.to_string(),
            label,
            seats,
        }
    }

    pub(super) fn flags(&self, category: &str) -> Vec<Flag> {
        let named = |list: &[String]| list.iter().any(|c| c == category);
        if named(&self.options.wheelchair_categories) {
            vec![Flag::Wheelchair]
        } else if named(&self.options.companion_categories) {
            vec![Flag::Companion]
        } else {
            Vec::new()
        }
    }
}

/// `base`, or `base-2`, `base-3`, … whichever is not taken yet.
pub(super) fn unique_id(base: &str, used: &mut HashSet<String>) -> String {
    let mut candidate = base.to_string();
    let mut n = 2;
    while used.contains(&candidate) {
        candidate = format!("{base}-{n}");
        n += 1;
    }
    used.insert(candidate.clone());
    candidate
}

/// Sorts seats along the row's principal direction (stable for ties).
pub(super) fn sort_along_row(seats: &mut [PlacedSeat<'_>]) {
    let points: Vec<(f64, f64)> = seats.iter().map(|s| s.at).collect();
    let (dx, dy) = principal_direction(&points);
    seats.sort_by(|a, b| {
        let along = |s: &PlacedSeat<'_>| s.at.0 * dx + s.at.1 * dy;
        along(a).total_cmp(&along(b))
    });
}

/// For each seat after the first: is it *not* next to the one before?
pub(super) fn gaps_before(seats: &[PlacedSeat<'_>]) -> Vec<bool> {
    let spacing: Vec<f64> = seats
        .windows(2)
        .map(|w| distance(w[0].at, w[1].at))
        .collect();
    let within_parts: Vec<f64> = seats
        .windows(2)
        .zip(&spacing)
        .filter(|(w, _)| w[0].part == w[1].part)
        .map(|(_, d)| *d)
        .collect();
    let typical = lower_median(&within_parts).unwrap_or(0.0);
    seats
        .windows(2)
        .zip(&spacing)
        .map(|(w, d)| w[0].part != w[1].part || (typical > 0.0 && *d > GAP_FACTOR * typical))
        .collect()
}
