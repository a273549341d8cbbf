//! pretix's seating-plan types: only what the import reads, lenient about the rest.

use serde::Deserialize;

#[derive(Deserialize)]
pub(super) struct Plan {
    #[serde(default)]
    pub(super) name: Option<String>,
    pub(super) zones: Vec<Zone>,
    pub(super) categories: Vec<PlanCategory>,
    #[serde(default)]
    pub(super) size: Option<PlanSize>,
}

#[derive(Deserialize)]
pub(super) struct PlanCategory {
    pub(super) name: String,
    #[serde(default)]
    pub(super) color: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct PlanSize {
    pub(super) width: f64,
    pub(super) height: f64,
}

#[derive(Deserialize)]
pub(super) struct Zone {
    #[serde(default)]
    pub(super) name: Option<String>,
    #[serde(default)]
    pub(super) zone_id: Option<String>,
    pub(super) position: Position,
    #[serde(default)]
    pub(super) rows: Vec<PlanRow>,
    #[serde(default)]
    pub(super) areas: Vec<Area>,
}

#[derive(Deserialize)]
pub(super) struct PlanRow {
    pub(super) row_number: String,
    #[serde(default)]
    pub(super) row_label: Option<String>,
    #[serde(default)]
    pub(super) seat_label: Option<String>,
    pub(super) seats: Vec<PlanSeat>,
    #[serde(default)]
    pub(super) position: Option<Position>,
}

#[derive(Deserialize)]
pub(super) struct PlanSeat {
    pub(super) seat_guid: String,
    pub(super) seat_number: String,
    pub(super) position: Position,
    pub(super) category: String,
}

#[derive(Deserialize, Clone, Copy, Default)]
pub(super) struct Position {
    pub(super) x: f64,
    pub(super) y: f64,
}

impl Position {
    pub(super) fn plus(self, other: Position) -> Position {
        Position {
            x: self.x + other.x,
            y: self.y + other.y,
        }
    }

    pub(super) fn pair(self) -> (f64, f64) {
        (self.x, self.y)
    }
}

#[derive(Deserialize)]
pub(super) struct Area {
    #[serde(default)]
    pub(super) color: Option<String>,
    #[serde(default)]
    pub(super) border_color: Option<String>,
    #[serde(default)]
    pub(super) rotation: Option<f64>,
    #[serde(default)]
    pub(super) position: Option<Position>,
    #[serde(default)]
    pub(super) shape: Option<String>,
    #[serde(default)]
    pub(super) polygon: Option<Polygon>,
    #[serde(default)]
    pub(super) rectangle: Option<RectangleSize>,
    #[serde(default)]
    pub(super) ellipse: Option<EllipseRadii>,
    #[serde(default)]
    pub(super) circle: Option<CircleRadius>,
    #[serde(default)]
    pub(super) text: Option<AreaText>,
}

#[derive(Deserialize)]
pub(super) struct Polygon {
    pub(super) points: Vec<Position>,
}

#[derive(Deserialize)]
pub(super) struct RectangleSize {
    pub(super) width: f64,
    pub(super) height: f64,
}

#[derive(Deserialize)]
pub(super) struct EllipseRadii {
    pub(super) radius: Position,
}

#[derive(Deserialize)]
pub(super) struct CircleRadius {
    pub(super) radius: f64,
}

#[derive(Deserialize)]
pub(super) struct AreaText {
    pub(super) text: String,
    #[serde(default)]
    pub(super) color: Option<String>,
    #[serde(default)]
    pub(super) size: Option<f64>,
    #[serde(default)]
    pub(super) position: Option<Position>,
}
