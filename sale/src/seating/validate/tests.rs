use super::fields::{check_coordinate, check_id, check_label};
use super::*;

#[test]
fn colors_are_strict_hex() {
    for good in ["#fff", "#1D4ED8", "#000000"] {
        assert!(is_valid_color(good), "{good}");
    }
    for bad in ["fff", "#ffff", "red", "#12345g", "url(x)", "#1d4ed8;x", ""] {
        assert!(!is_valid_color(bad), "{bad}");
    }
    assert_eq!(normalise_color("#AbC"), "#aabbcc");
    assert_eq!(normalise_color("#1D4ED8"), "#1d4ed8");
}

#[test]
fn ids_are_checked_for_length_and_control_characters() {
    let path = || "here".to_string();
    assert!(check_id(path, "104-12-5").is_ok());
    assert!(matches!(check_id(path, ""), Err(MapError::EmptyId { .. })));
    let long = "x".repeat(MAX_ID_CHARS + 1);
    assert!(matches!(
        check_id(path, &long),
        Err(MapError::IdTooLong { chars: 65, .. })
    ));
    assert!(check_id(path, &"é".repeat(MAX_ID_CHARS)).is_ok());
    assert!(matches!(
        check_id(path, "a\u{7}b"),
        Err(MapError::ControlCharacter { .. })
    ));
    assert!(check_id(path, "row 12").is_ok());
    for padded in [" 12", "12 ", "  "] {
        assert!(
            matches!(check_id(path, padded), Err(MapError::IdWhitespace { .. })),
            "{padded:?}"
        );
    }
}

#[test]
fn labels_must_not_be_blank() {
    let path = || "here".to_string();
    assert!(matches!(
        check_label(path, "name", "  "),
        Err(MapError::EmptyLabel { field: "name", .. })
    ));
    assert!(matches!(
        check_label(path, "name", "a\nb"),
        Err(MapError::ControlCharacter { .. })
    ));
}

#[test]
fn coordinates_must_be_finite_and_bounded() {
    let path = || "here".to_string();
    assert!(check_coordinate(path, "x", -5.5).is_ok());
    assert!(matches!(
        check_coordinate(path, "x", f64::NAN),
        Err(MapError::NonFiniteCoordinate { field: "x", .. })
    ));
    assert!(matches!(
        check_coordinate(path, "y", f64::INFINITY),
        Err(MapError::NonFiniteCoordinate { field: "y", .. })
    ));
    assert!(matches!(
        check_coordinate(path, "y", 1e12),
        Err(MapError::CoordinateOutOfRange { .. })
    ));
}
