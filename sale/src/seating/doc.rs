//! The `lineup.seatmap/1` document exactly as it is stored and served: plain
//! serde types and nothing else. They carry no guarantees of their own;
//! [`SeatMap`](super::map::SeatMap) is what checks and normalises one.
//!
//! Unknown fields are refused (`deny_unknown_fields`): a misspelt
//! `gap_befor` silently accepted would sell seats across an aisle as "together".
//! A new field therefore means a new reader first, or a new `format` version.

use serde::{Deserialize, Serialize};

/// The value of `format` this crate reads and writes.
pub const FORMAT: &str = "lineup.seatmap/1";

/// A whole seat map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Document {
    pub format: String,
    /// The map's name for operators (e.g. the venue and layout), optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub size: Size,
    /// What "close to the stage" is measured against.
    pub focal_point: Point,
    pub categories: Vec<CategoryDoc>,
    pub sections: Vec<SectionDoc>,
    /// General-admission areas: a capacity, no seats.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub areas: Vec<AreaDoc>,
    /// Shapes drawn under the seats (stage, mixing desk, labels); never sold.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drawing: Vec<Shape>,
}

/// The drawing's extent in drawing units (y grows down).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Size {
    pub width: f64,
    pub height: f64,
}

/// A point in drawing units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Point {
    pub x: f64,
    pub y: f64,
}

/// A polygon as `[[x, y], ...]`.
pub type Outline = Vec<[f64; 2]>;

/// A price category (what a sale puts a price on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryDoc {
    pub id: String,
    pub name: String,
    /// `#rgb` or `#rrggbb`; normalised to lowercase `#rrggbb`.
    pub color: String,
}

/// A section: a named group of rows drawn as one shape at overview zoom.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SectionDoc {
    pub id: String,
    pub name: String,
    /// Absent on input means "a padded bounding box of the seats"; the
    /// normalised document always has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outline: Option<Outline>,
    pub rows: Vec<RowDoc>,
}

/// A row: seats in physical order (left to right as drawn).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RowDoc {
    pub id: String,
    /// The printed row label ("12", "AA").
    pub name: String,
    /// A longer wording for tickets ("Balcony left, row 3"), when the venue
    /// has one (pretix's `row_label`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub seats: Vec<SeatDoc>,
}

/// One seat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeatDoc {
    /// The seat's identity in orders (unique in the map).
    pub id: String,
    /// The printed seat number.
    pub number: String,
    pub x: f64,
    pub y: f64,
    pub category: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<Flag>,
    /// Not next to the previous seat of the row (aisle, pillar, step).
    #[serde(default, skip_serializing_if = "is_false")]
    pub gap_before: bool,
    /// A longer wording for tickets (pretix's `seat_label`), optional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
}

/// What a seat is besides a seat.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Flag {
    /// A wheelchair space.
    Wheelchair,
    /// A seat for a wheelchair user's companion.
    Companion,
    RestrictedView,
    /// On an aisle (informational).
    Aisle,
}

/// A general-admission area.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AreaDoc {
    pub id: String,
    pub name: String,
    /// A declared category, like a seat's.
    pub category: String,
    pub capacity: u32,
    pub outline: Outline,
}

/// A shape of the drawing, in absolute drawing units.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "shape", rename_all = "snake_case", deny_unknown_fields)]
pub enum Shape {
    /// `x`, `y` is the top-left corner; `rotation` is in degrees clockwise
    /// around that corner.
    Rectangle {
        x: f64,
        y: f64,
        width: f64,
        height: f64,
        #[serde(default, skip_serializing_if = "is_zero")]
        rotation: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stroke: Option<String>,
    },
    /// Centre `x`, `y`, radii `rx`, `ry`, rotated clockwise around the centre.
    Ellipse {
        x: f64,
        y: f64,
        rx: f64,
        ry: f64,
        #[serde(default, skip_serializing_if = "is_zero")]
        rotation: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stroke: Option<String>,
    },
    Polygon {
        points: Outline,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        fill: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stroke: Option<String>,
    },
    /// Text centred on `x`, `y`; `size` in drawing units.
    Text {
        x: f64,
        y: f64,
        text: String,
        size: f64,
        #[serde(default, skip_serializing_if = "is_zero")]
        rotation: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        color: Option<String>,
    },
}

impl Document {
    /// Compact JSON of the document as it stands (not validated).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("seat map documents always serialise")
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn is_zero(value: &f64) -> bool {
    *value == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn optional_fields_are_left_out_when_empty() {
        let seat = SeatDoc {
            id: "a".into(),
            number: "1".into(),
            x: 1.0,
            y: 2.5,
            category: "c".into(),
            flags: vec![],
            gap_before: false,
            label: None,
        };
        let json = serde_json::to_string(&seat).expect("serialises");
        assert_eq!(
            json,
            r#"{"id":"a","number":"1","x":1.0,"y":2.5,"category":"c"}"#
        );
    }

    #[test]
    fn unknown_fields_are_refused() {
        let json = r#"{"id":"a","number":"1","x":1,"y":2,"category":"c","gap_befor":true}"#;
        let err = serde_json::from_str::<SeatDoc>(json).expect_err("misspelt field refused");
        assert!(err.to_string().contains("gap_befor"), "{err}");
    }

    #[test]
    fn shapes_are_tagged_by_their_kind() {
        let json = r##"{"shape":"rectangle","x":1,"y":2,"width":3,"height":4,"fill":"#000000"}"##;
        let shape: Shape = serde_json::from_str(json).expect("parses");
        assert!(matches!(shape, Shape::Rectangle { rotation, .. } if rotation == 0.0));
        let bad = r#"{"shape":"rectangle","x":1,"y":2,"width":3,"height":4,"colour":"red"}"#;
        assert!(serde_json::from_str::<Shape>(bad).is_err());
    }

    #[test]
    fn flags_use_snake_case() {
        let flags: Vec<Flag> =
            serde_json::from_str(r#"["wheelchair","restricted_view"]"#).expect("parses");
        assert_eq!(flags, vec![Flag::Wheelchair, Flag::RestrictedView]);
    }
}
