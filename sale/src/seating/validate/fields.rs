//! Checks of single fields: counts against the limits, ids, labels, texts,
//! coordinates, sizes, outlines and colors.

use super::{MAX_COORDINATE, MAX_ID_CHARS, MAX_LABEL_CHARS, MAX_OUTLINE_POINTS};
use crate::seating::doc::Outline;
use crate::seating::MapError;

pub(super) fn check_count(
    path: impl Fn() -> String,
    what: &'static str,
    count: usize,
    max: usize,
) -> Result<(), MapError> {
    if count > max {
        return Err(MapError::TooMany {
            path: path(),
            what,
            count,
            max,
        });
    }
    Ok(())
}

pub(super) fn check_id(path: impl Fn() -> String, id: &str) -> Result<(), MapError> {
    let field = "id";
    if id.is_empty() {
        return Err(MapError::EmptyId {
            path: path(),
            field,
        });
    }
    let chars = id.chars().count();
    if chars > MAX_ID_CHARS {
        return Err(MapError::IdTooLong {
            path: path(),
            field,
            chars,
            max: MAX_ID_CHARS,
        });
    }
    if id.chars().any(char::is_control) {
        return Err(MapError::ControlCharacter {
            path: path(),
            field,
        });
    }
    if id.trim() != id {
        return Err(MapError::IdWhitespace {
            path: path(),
            field,
        });
    }
    Ok(())
}

pub(super) fn check_label(
    path: impl Fn() -> String,
    field: &'static str,
    text: &str,
) -> Result<(), MapError> {
    check_text(path, field, text, MAX_LABEL_CHARS)
}

pub(super) fn check_text(
    path: impl Fn() -> String,
    field: &'static str,
    text: &str,
    max: usize,
) -> Result<(), MapError> {
    if text.trim().is_empty() {
        return Err(MapError::EmptyLabel {
            path: path(),
            field,
        });
    }
    let chars = text.chars().count();
    if chars > max {
        return Err(MapError::LabelTooLong {
            path: path(),
            field,
            chars,
            max,
        });
    }
    if text.chars().any(char::is_control) {
        return Err(MapError::ControlCharacter {
            path: path(),
            field,
        });
    }
    Ok(())
}

pub(super) fn check_coordinate(
    path: impl Fn() -> String,
    field: &'static str,
    value: f64,
) -> Result<(), MapError> {
    if !value.is_finite() {
        return Err(MapError::NonFiniteCoordinate {
            path: path(),
            field,
        });
    }
    if value.abs() > MAX_COORDINATE {
        return Err(MapError::CoordinateOutOfRange {
            path: path(),
            field,
            value,
            max: MAX_COORDINATE,
        });
    }
    Ok(())
}

pub(super) fn check_positive(
    path: impl Fn() -> String,
    field: &'static str,
    value: f64,
) -> Result<(), MapError> {
    check_coordinate(&path, field, value)?;
    if value <= 0.0 {
        return Err(MapError::NotPositive {
            path: path(),
            field,
            value,
        });
    }
    Ok(())
}

pub(super) fn check_outline(path: impl Fn() -> String, outline: &Outline) -> Result<(), MapError> {
    if outline.len() < 3 {
        return Err(MapError::InvalidOutline {
            path: path(),
            points: outline.len(),
        });
    }
    check_count(&path, "outline points", outline.len(), MAX_OUTLINE_POINTS)?;
    for [x, y] in outline {
        check_coordinate(&path, "outline", *x)?;
        check_coordinate(&path, "outline", *y)?;
    }
    Ok(())
}

/// `#rgb` or `#rrggbb`, hex digits in either case. Colors end up in the
/// page's styles, so nothing else (no `url(...)`, no names) is let through.
pub fn is_valid_color(color: &str) -> bool {
    let Some(hex) = color.strip_prefix('#') else {
        return false;
    };
    matches!(hex.len(), 3 | 6) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

pub(super) fn check_color(path: impl Fn() -> String, color: &str) -> Result<(), MapError> {
    if !is_valid_color(color) {
        return Err(MapError::InvalidColor {
            path: path(),
            color: color.to_string(),
        });
    }
    Ok(())
}

/// A color in the normalised form: lowercase `#rrggbb`.
pub fn normalise_color(color: &str) -> String {
    let hex = color.trim_start_matches('#').to_ascii_lowercase();
    if hex.len() == 3 {
        hex.chars()
            .flat_map(|c| [c, c])
            .fold(String::from("#"), |mut s, c| {
                s.push(c);
                s
            })
    } else {
        format!("#{hex}")
    }
}
