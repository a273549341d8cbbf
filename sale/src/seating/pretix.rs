//! Import of a pretix seating plan (the JSON pretix's seating-plan editor
//! publishes, `seating-plan.schema.json`) into our format.
//!
//! | pretix | ours |
//! |---|---|
//! | `categories[].name` | category `id` and `name` |
//! | `categories[].color` | `color` when `#rgb`/`#rrggbb`, else a palette color (noted) |
//! | zone with seats | section: `id` from `zone_id`, else `name`, else `zone-N`; repeats get `-2`, `-3` |
//! | zone without seats | nothing but its areas |
//! | rows of a zone with one `row_number` | one row (`id` and `name` = `row_number`); parts of several pretix rows are never adjacent to each other |
//! | `row_label` (`%s` = `row_number`) | row `label` |
//! | `seat_guid`, `seat_number` | seat `id`, `number` |
//! | `seat_label` of the row (`%s` = `seat_number`) | seat `label` |
//! | zone + row + seat `position` | seat `x`, `y` (the offsets added as pretix does) |
//! | areas | `drawing` shapes (never sold: pretix areas have no capacity) |
//! | `size` | `size` (a padded bounding box when absent) |
//! | an area whose text names a stage (`Bühne`, `stage`, …) | `focal_point`, its centre; else the top middle |
//!
//! **Physical order**: pretix lists seats in editing order, so a row's seats
//! are sorted along the row's principal direction (left to right as drawn,
//! top to bottom for a vertical row) and a `gap_before` is put where the
//! distance to the previous seat exceeds [`GAP_FACTOR`] × the row's typical
//! (lower median) spacing, or where the seat comes from another pretix row.
//!
//! **Assumption** (the schema does not say): area positions are relative to
//! their zone, polygon points and area texts relative to the area's position
//! (the nesting seats follow); rectangles are placed by their top-left
//! corner, circles and ellipses by their centre.
//!
//! pretix has no accessibility flags; [`ImportOptions`] names the categories
//! whose seats are wheelchair spaces or companion seats.

use super::doc::{
    CategoryDoc, Document, Flag, Point, RowDoc, SeatDoc, SectionDoc, Shape, Size, FORMAT,
};
use super::geometry::{bounding_box, distance, lower_median, principal_direction, rotate};
use super::map::SeatMap;
use super::validate::{is_valid_color, MapError};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use thiserror::Error;

/// A seat further than this many typical spacings from the previous one is
/// not next to it.
pub const GAP_FACTOR: f64 = 1.6;

/// Largest accepted pretix plan, in bytes (pretix plans are indented JSON
/// and about three times the size of ours).
pub const MAX_PRETIX_JSON_BYTES: usize = 48 * 1024 * 1024;

/// Colors for categories without a usable one.
const PALETTE: [&str; 8] = [
    "#1d4ed8", "#15803d", "#b45309", "#7c3aed", "#be123c", "#0f766e", "#a16207", "#4338ca",
];

/// Words that mark an area as the stage, lowercase.
const STAGE_WORDS: [&str; 10] = [
    "stage",
    "bühne",
    "buehne",
    "scene",
    "scène",
    "podium",
    "screen",
    "leinwand",
    "palco",
    "escenario",
];

/// What pretix's format cannot say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportOptions {
    /// Overrides the stage found among the areas.
    pub focal_point: Option<Point>,
    /// pretix category names whose seats are wheelchair spaces.
    pub wheelchair_categories: Vec<String>,
    /// pretix category names whose seats are companion seats.
    pub companion_categories: Vec<String>,
}

/// A converted plan and what the conversion decided on the operator's behalf.
#[derive(Debug, Clone)]
pub struct Imported {
    pub map: SeatMap,
    /// One sentence per decision worth showing to the operator.
    pub notes: Vec<String>,
}

/// Why a pretix plan could not be imported.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum PretixError {
    #[error("the plan is {size} bytes; at most {limit} are accepted")]
    TooLarge { size: usize, limit: usize },
    #[error("not a pretix seating plan at line {line}, column {column}: {message}")]
    Json {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("the converted plan is not a valid seat map: {0}")]
    Invalid(#[from] MapError),
}

/// Converts and validates a pretix plan.
pub fn import(json: &str, options: &ImportOptions) -> Result<Imported, PretixError> {
    let (document, notes) = convert(json, options)?;
    Ok(Imported {
        map: SeatMap::from_document(document)?,
        notes,
    })
}

/// Converts a pretix plan to our document without validating the result.
pub fn convert(
    json: &str,
    options: &ImportOptions,
) -> Result<(Document, Vec<String>), PretixError> {
    if json.len() > MAX_PRETIX_JSON_BYTES {
        return Err(PretixError::TooLarge {
            size: json.len(),
            limit: MAX_PRETIX_JSON_BYTES,
        });
    }
    let plan: Plan = serde_json::from_str(json).map_err(|err| PretixError::Json {
        line: err.line(),
        column: err.column(),
        message: err.to_string(),
    })?;
    let mut converter = Converter {
        options,
        notes: Vec::new(),
        gaps_found: 0,
    };
    let document = converter.document(&plan);
    if converter.gaps_found > 0 {
        converter.notes.push(format!(
            "{} gap(s) put where seats of a row are more than {GAP_FACTOR}× its usual spacing apart",
            converter.gaps_found
        ));
    }
    Ok((document, converter.notes))
}

// pretix's types: only what we read, lenient about the rest.

#[derive(Deserialize)]
struct Plan {
    #[serde(default)]
    name: Option<String>,
    zones: Vec<Zone>,
    categories: Vec<PlanCategory>,
    #[serde(default)]
    size: Option<PlanSize>,
}

#[derive(Deserialize)]
struct PlanCategory {
    name: String,
    #[serde(default)]
    color: Option<String>,
}

#[derive(Deserialize)]
struct PlanSize {
    width: f64,
    height: f64,
}

#[derive(Deserialize)]
struct Zone {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    zone_id: Option<String>,
    position: Position,
    #[serde(default)]
    rows: Vec<PlanRow>,
    #[serde(default)]
    areas: Vec<Area>,
}

#[derive(Deserialize)]
struct PlanRow {
    row_number: String,
    #[serde(default)]
    row_label: Option<String>,
    #[serde(default)]
    seat_label: Option<String>,
    seats: Vec<PlanSeat>,
    #[serde(default)]
    position: Option<Position>,
}

#[derive(Deserialize)]
struct PlanSeat {
    seat_guid: String,
    seat_number: String,
    position: Position,
    category: String,
}

#[derive(Deserialize, Clone, Copy, Default)]
struct Position {
    x: f64,
    y: f64,
}

impl Position {
    fn plus(self, other: Position) -> Position {
        Position {
            x: self.x + other.x,
            y: self.y + other.y,
        }
    }

    fn pair(self) -> (f64, f64) {
        (self.x, self.y)
    }
}

#[derive(Deserialize)]
struct Area {
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    border_color: Option<String>,
    #[serde(default)]
    rotation: Option<f64>,
    #[serde(default)]
    position: Option<Position>,
    #[serde(default)]
    shape: Option<String>,
    #[serde(default)]
    polygon: Option<Polygon>,
    #[serde(default)]
    rectangle: Option<RectangleSize>,
    #[serde(default)]
    ellipse: Option<EllipseRadii>,
    #[serde(default)]
    circle: Option<CircleRadius>,
    #[serde(default)]
    text: Option<AreaText>,
}

#[derive(Deserialize)]
struct Polygon {
    points: Vec<Position>,
}

#[derive(Deserialize)]
struct RectangleSize {
    width: f64,
    height: f64,
}

#[derive(Deserialize)]
struct EllipseRadii {
    radius: Position,
}

#[derive(Deserialize)]
struct CircleRadius {
    radius: f64,
}

#[derive(Deserialize)]
struct AreaText {
    text: String,
    #[serde(default)]
    color: Option<String>,
    #[serde(default)]
    size: Option<f64>,
    #[serde(default)]
    position: Option<Position>,
}

/// One seat on its way into a row, with where it came from.
struct PlacedSeat<'a> {
    at: (f64, f64),
    /// Which pretix row of the merged row it came from.
    part: usize,
    seat: &'a PlanSeat,
    label: Option<String>,
}

/// Carries the options and collects notes through one conversion.
struct Converter<'a> {
    options: &'a ImportOptions,
    notes: Vec<String>,
    gaps_found: usize,
}

impl Converter<'_> {
    fn document(&mut self, plan: &Plan) -> Document {
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

    fn categories(&mut self, categories: &[PlanCategory]) -> Vec<CategoryDoc> {
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

    fn sections(&mut self, zones: &[Zone]) -> Vec<SectionDoc> {
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
    fn rows(&mut self, zone: &Zone, zone_name: &str) -> Vec<RowDoc> {
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

    fn row(&mut self, zone_position: Position, number: &str, parts: &[&PlanRow]) -> RowDoc {
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

    fn flags(&self, category: &str) -> Vec<Flag> {
        let named = |list: &[String]| list.iter().any(|c| c == category);
        if named(&self.options.wheelchair_categories) {
            vec![Flag::Wheelchair]
        } else if named(&self.options.companion_categories) {
            vec![Flag::Companion]
        } else {
            Vec::new()
        }
    }

    /// The drawing shapes of one area (its geometry, then its text).
    fn shapes(&mut self, area: &Area, origin: Position) -> Vec<Shape> {
        let rotation = area.rotation.unwrap_or(0.0);
        let fill = area.color.clone().filter(|c| is_valid_color(c));
        let stroke = area.border_color.clone().filter(|c| is_valid_color(c));
        let mut shapes = Vec::new();
        let geometry = match area.shape.as_deref() {
            Some("rectangle") => area.rectangle.as_ref().map(|r| Shape::Rectangle {
                x: origin.x,
                y: origin.y,
                width: r.width,
                height: r.height,
                rotation,
                fill: fill.clone(),
                stroke: stroke.clone(),
            }),
            Some("circle") => area.circle.as_ref().map(|c| Shape::Ellipse {
                x: origin.x,
                y: origin.y,
                rx: c.radius,
                ry: c.radius,
                rotation,
                fill: fill.clone(),
                stroke: stroke.clone(),
            }),
            Some("ellipse") => area.ellipse.as_ref().map(|e| Shape::Ellipse {
                x: origin.x,
                y: origin.y,
                rx: e.radius.x,
                ry: e.radius.y,
                rotation,
                fill: fill.clone(),
                stroke: stroke.clone(),
            }),
            Some("polygon") => area.polygon.as_ref().map(|p| Shape::Polygon {
                points: p
                    .points
                    .iter()
                    .map(|point| {
                        let (x, y) = rotate(origin.plus(*point).pair(), origin.pair(), rotation);
                        [x, y]
                    })
                    .collect(),
                fill: fill.clone(),
                stroke: stroke.clone(),
            }),
            Some("text") | None => None,
            Some(other) => {
                self.notes
                    .push(format!("an area of unknown shape {other:?} was left out"));
                None
            }
        };
        if let Some(shape) = geometry.filter(shape_is_drawable) {
            shapes.push(shape);
        }
        if let Some(text) = area.text.as_ref().filter(|t| !t.text.trim().is_empty()) {
            let at = origin.plus(text.position.unwrap_or_default());
            shapes.push(Shape::Text {
                x: at.x,
                y: at.y,
                text: text.text.clone(),
                size: text.size.filter(|s| *s > 0.0).unwrap_or(16.0),
                rotation,
                color: text.color.clone().filter(|c| is_valid_color(c)),
            });
        }
        shapes
    }

    fn focal_point(&mut self, stage: Option<((f64, f64), String)>, size: Size) -> Point {
        if let Some(point) = self.options.focal_point {
            return point;
        }
        if let Some(((x, y), text)) = stage {
            self.notes
                .push(format!("focal point: the centre of the area {text:?}"));
            return Point { x, y };
        }
        self.notes
            .push("no stage area found; focal point at the top middle of the plan".into());
        Point {
            x: size.width / 2.0,
            y: 0.0,
        }
    }

    fn size(
        &mut self,
        size: Option<&PlanSize>,
        sections: &[SectionDoc],
        drawing: &[Shape],
    ) -> Size {
        if let Some(size) = size.filter(|s| s.width > 0.0 && s.height > 0.0) {
            return Size {
                width: size.width,
                height: size.height,
            };
        }
        let seats = sections
            .iter()
            .flat_map(|s| &s.rows)
            .flat_map(|r| &r.seats)
            .map(|s| (s.x, s.y));
        let shapes = drawing.iter().filter_map(|shape| match shape {
            Shape::Rectangle { x, y, .. }
            | Shape::Ellipse { x, y, .. }
            | Shape::Text { x, y, .. } => Some((*x, *y)),
            Shape::Polygon { points, .. } => points.first().map(|p| (p[0], p[1])),
        });
        let (_, _, x1, y1) = bounding_box(seats.chain(shapes)).unwrap_or((0.0, 0.0, 100.0, 100.0));
        self.notes
            .push("the plan has no size; sized to its content".into());
        Size {
            width: (x1 + 50.0).max(1.0),
            height: (y1 + 50.0).max(1.0),
        }
    }
}

/// `base`, or `base-2`, `base-3`, … whichever is not taken yet.
fn unique_id(base: &str, used: &mut HashSet<String>) -> String {
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
fn sort_along_row(seats: &mut [PlacedSeat<'_>]) {
    let points: Vec<(f64, f64)> = seats.iter().map(|s| s.at).collect();
    let (dx, dy) = principal_direction(&points);
    seats.sort_by(|a, b| {
        let along = |s: &PlacedSeat<'_>| s.at.0 * dx + s.at.1 * dy;
        along(a).total_cmp(&along(b))
    });
}

/// For each seat after the first: is it *not* next to the one before?
fn gaps_before(seats: &[PlacedSeat<'_>]) -> Vec<bool> {
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

fn area_text(area: &Area) -> String {
    area.text
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

fn names_a_stage(area: &Area) -> bool {
    let text = area_text(area).to_lowercase();
    STAGE_WORDS.iter().any(|word| text.contains(word))
}

/// The middle of an area's geometry (its text's position when it has none).
fn area_centre(area: &Area, origin: Position) -> (f64, f64) {
    let rotation = area.rotation.unwrap_or(0.0);
    match area.shape.as_deref() {
        Some("rectangle") => {
            if let Some(r) = &area.rectangle {
                let centre = (origin.x + r.width / 2.0, origin.y + r.height / 2.0);
                return rotate(centre, origin.pair(), rotation);
            }
        }
        Some("circle") | Some("ellipse") => return origin.pair(),
        Some("polygon") => {
            if let Some(p) = area.polygon.as_ref().filter(|p| !p.points.is_empty()) {
                let n = p.points.len() as f64;
                let mean = p
                    .points
                    .iter()
                    .fold((0.0, 0.0), |(sx, sy), q| (sx + q.x / n, sy + q.y / n));
                let centre = (origin.x + mean.0, origin.y + mean.1);
                return rotate(centre, origin.pair(), rotation);
            }
        }
        _ => {}
    }
    let text_at = area
        .text
        .as_ref()
        .and_then(|t| t.position)
        .unwrap_or_default();
    origin.plus(text_at).pair()
}

/// Shapes with a non-positive extent or too few points are left out rather
/// than failing the import.
fn shape_is_drawable(shape: &Shape) -> bool {
    match shape {
        Shape::Rectangle { width, height, .. } => *width > 0.0 && *height > 0.0,
        Shape::Ellipse { rx, ry, .. } => *rx > 0.0 && *ry > 0.0,
        Shape::Polygon { points, .. } => points.len() >= 3,
        Shape::Text { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::super::best::{Finder, Request, Rules};
    use super::*;

    const THEATRE: &str = include_str!("fixtures/pretix-small-theatre.json");

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
}
