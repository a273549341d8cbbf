//! Small plane geometry shared by the map (outlines, distances along a row)
//! and the pretix import (the direction of a row, typical seat spacing).

/// Euclidean distance between two points.
pub fn distance(a: (f64, f64), b: (f64, f64)) -> f64 {
    (a.0 - b.0).hypot(a.1 - b.1)
}

/// The lower median of `values` (the middle one, or the smaller of the two
/// middle ones), or `None` when empty. The lower median keeps one wide gap
/// in a short row from raising the "typical" spacing it is compared with.
pub fn lower_median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    Some(sorted[(sorted.len() - 1) / 2])
}

/// The unit direction along which `points` spread the most (the principal
/// axis), oriented left to right as drawn (positive x; straight down when
/// vertical). For a straight row this is the row; for a curved row it is the
/// chord, along which the seats of any arc under 180° stay in order.
/// `(1, 0)` when the points do not spread at all.
pub fn principal_direction(points: &[(f64, f64)]) -> (f64, f64) {
    if points.len() < 2 {
        return (1.0, 0.0);
    }
    let n = points.len() as f64;
    let (mx, my) = points
        .iter()
        .fold((0.0, 0.0), |(sx, sy), p| (sx + p.0 / n, sy + p.1 / n));
    let (mut sxx, mut syy, mut sxy) = (0.0, 0.0, 0.0);
    for p in points {
        let (dx, dy) = (p.0 - mx, p.1 - my);
        sxx += dx * dx;
        syy += dy * dy;
        sxy += dx * dy;
    }
    if sxx == 0.0 && syy == 0.0 {
        return (1.0, 0.0);
    }
    let angle = 0.5 * (2.0 * sxy).atan2(sxx - syy);
    let (dx, dy) = (angle.cos(), angle.sin());
    const VERTICAL: f64 = 1e-9;
    if dx < -VERTICAL || (dx.abs() <= VERTICAL && dy < 0.0) {
        (-dx, -dy)
    } else {
        (dx, dy)
    }
}

/// The axis-aligned bounding box `(min_x, min_y, max_x, max_y)` of `points`,
/// or `None` when empty.
pub fn bounding_box(points: impl IntoIterator<Item = (f64, f64)>) -> Option<(f64, f64, f64, f64)> {
    points.into_iter().fold(None, |acc, (x, y)| {
        Some(match acc {
            None => (x, y, x, y),
            Some((x0, y0, x1, y1)) => (x0.min(x), y0.min(y), x1.max(x), y1.max(y)),
        })
    })
}

/// Rotates `point` clockwise (y grows down) by `degrees` around `origin`.
pub fn rotate(point: (f64, f64), origin: (f64, f64), degrees: f64) -> (f64, f64) {
    if degrees == 0.0 {
        return point;
    }
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (dx, dy) = (point.0 - origin.0, point.1 - origin.1);
    (
        origin.0 + dx * cos - dy * sin,
        origin.1 + dx * sin + dy * cos,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: (f64, f64), b: (f64, f64)) -> bool {
        distance(a, b) < 1e-9
    }

    #[test]
    fn lower_median_prefers_the_smaller_middle() {
        assert_eq!(lower_median(&[]), None);
        assert_eq!(lower_median(&[3.0]), Some(3.0));
        assert_eq!(lower_median(&[10.0, 30.0]), Some(10.0));
        assert_eq!(lower_median(&[10.0, 10.0, 25.0, 10.0]), Some(10.0));
    }

    #[test]
    fn principal_direction_follows_the_row_left_to_right() {
        assert!(close(
            principal_direction(&[(5.0, 1.0), (1.0, 1.0)]),
            (1.0, 0.0)
        ));
        let diagonal = principal_direction(&[(0.0, 0.0), (1.0, 1.0), (2.0, 2.0)]);
        let s = 0.5f64.sqrt();
        assert!(close(diagonal, (s, s)));
        let rising = principal_direction(&[(0.0, 2.0), (1.0, 1.0), (2.0, 0.0)]);
        assert!(close(rising, (s, -s)));
        assert!(close(
            principal_direction(&[(0.0, 5.0), (0.0, 1.0)]),
            (0.0, 1.0)
        ));
        assert!(close(
            principal_direction(&[(3.0, 3.0), (3.0, 3.0)]),
            (1.0, 0.0)
        ));
    }

    #[test]
    fn a_curved_row_projects_in_order_on_its_chord() {
        let arc: Vec<(f64, f64)> = (0..9)
            .map(|i| {
                let a = (-60.0 + 15.0 * i as f64).to_radians();
                (100.0 * a.sin(), 100.0 * a.cos())
            })
            .collect();
        let d = principal_direction(&arc);
        let along: Vec<f64> = arc.iter().map(|p| p.0 * d.0 + p.1 * d.1).collect();
        assert!(along.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn rotation_is_clockwise_on_screen() {
        assert!(close(rotate((1.0, 0.0), (0.0, 0.0), 90.0), (0.0, 1.0)));
        assert!(close(rotate((2.0, 1.0), (1.0, 1.0), 180.0), (0.0, 1.0)));
    }

    #[test]
    fn bounding_box_spans_all_points() {
        assert_eq!(bounding_box(Vec::new()), None);
        assert_eq!(
            bounding_box(vec![(1.0, 5.0), (-2.0, 3.0)]),
            Some((-2.0, 3.0, 1.0, 5.0))
        );
    }
}
