//! pretix areas into drawing shapes, the stage found among them, and the
//! plan's size.

use super::plan::{Area, PlanSize, Position};
use super::{Converter, STAGE_WORDS};
use crate::seating::doc::{Point, SectionDoc, Shape, Size};
use crate::seating::geometry::{bounding_box, rotate};
use crate::seating::validate::is_valid_color;

impl Converter<'_> {
    /// The drawing shapes of one area (its geometry, then its text).
    pub(super) fn shapes(&mut self, area: &Area, origin: Position) -> Vec<Shape> {
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

    pub(super) fn focal_point(&mut self, stage: Option<((f64, f64), String)>, size: Size) -> Point {
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

    pub(super) fn size(
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
pub(super) fn area_text(area: &Area) -> String {
    area.text
        .as_ref()
        .map(|t| t.text.clone())
        .unwrap_or_default()
}

pub(super) fn names_a_stage(area: &Area) -> bool {
    let text = area_text(area).to_lowercase();
    STAGE_WORDS.iter().any(|word| text.contains(word))
}

/// The middle of an area's geometry (its text's position when it has none).
pub(super) fn area_centre(area: &Area, origin: Position) -> (f64, f64) {
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
pub(super) fn shape_is_drawable(shape: &Shape) -> bool {
    match shape {
        Shape::Rectangle { width, height, .. } => *width > 0.0 && *height > 0.0,
        Shape::Ellipse { rx, ry, .. } => *rx > 0.0 && *ry > 0.0,
        Shape::Polygon { points, .. } => points.len() >= 3,
        Shape::Text { .. } => true,
    }
}
