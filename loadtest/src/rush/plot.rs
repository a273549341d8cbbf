//! The rush over time as an SVG, one panel under the other: throughput
//! (joins, admissions and orders per second), the waiting line (live fans
//! and the whole line in Redis), Redis's memory, and mean order latency.

use super::report::RushReport;
use super::shared::Sample;

/// One line of the plot: name, colour, (second, value) points.
type Line = (&'static str, &'static str, Vec<(f64, f64)>);

/// A titled panel of lines.
type Panel = (&'static str, Vec<Line>);

const WIDTH: f64 = 720.0;
const HEIGHT: f64 = 140.0;
const PAD: f64 = 30.0;

impl RushReport {
    /// The run over time as an SVG: throughput (joins, admissions and orders
    /// per second), the waiting line, and mean order latency.
    pub fn svg(&self) -> String {
        let t_max = self.timeline.last().map_or(1.0, |s| s.second.max(1.0));
        let panels = panels(&self.timeline);
        let mut svg = format!(
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{}\" font-family=\"sans-serif\" font-size=\"11\">",
            (HEIGHT + PAD) * panels.len() as f64
        );
        for (i, panel) in panels.iter().enumerate() {
            draw_panel(&mut svg, i as f64 * (HEIGHT + PAD) + PAD, panel, t_max);
        }
        svg.push_str("</svg>");
        svg
    }
}

fn panels(timeline: &[Sample]) -> Vec<Panel> {
    let rate = |f: fn(&Sample) -> u64| -> Vec<(f64, f64)> {
        timeline
            .windows(2)
            .map(|p| {
                let dt = (p[1].second - p[0].second).max(0.001);
                (p[1].second, f(&p[1]).saturating_sub(f(&p[0])) as f64 / dt)
            })
            .collect()
    };
    let level = |f: fn(&Sample) -> f64| -> Vec<(f64, f64)> {
        timeline.iter().map(|s| (s.second, f(s))).collect()
    };
    vec![
        (
            "per second",
            vec![
                ("joins", "#1d4ed8", rate(|s| s.joined)),
                ("admitted", "#16a34a", rate(|s| s.admitted)),
                ("orders", "#dc2626", rate(|s| s.orders)),
            ],
        ),
        (
            "waiting",
            vec![
                ("live fans", "#7c3aed", level(|s| s.waiting as f64)),
                ("line (Redis)", "#0891b2", level(|s| s.line as f64)),
            ],
        ),
        (
            "Redis used_memory, MiB",
            vec![("used", "#475569", level(|s| s.redis_mib))],
        ),
        (
            "order latency, ms",
            vec![("mean", "#ea580c", level(|s| s.order_ms))],
        ),
    ]
}

/// Draws one panel whose frame starts at `top`; time runs to `t_max`.
fn draw_panel(svg: &mut String, top: f64, (title, lines): &Panel, t_max: f64) {
    let (w, h) = (WIDTH, HEIGHT);
    let y_max = lines
        .iter()
        .flat_map(|l| l.2.iter().map(|p| p.1))
        .fold(1.0, f64::max);
    svg.push_str(&format!(
        "<text x=\"4\" y=\"{}\">{title} (max {y_max:.0})</text><rect x=\"40\" y=\"{top}\" width=\"{}\" height=\"{h}\" fill=\"none\" stroke=\"#ccc\"/>",
        top - 8.0,
        w - 50.0
    ));
    for (j, (name, color, points)) in lines.iter().enumerate() {
        let path: Vec<String> = points
            .iter()
            .map(|(t, v)| {
                format!(
                    "{:.1},{:.1}",
                    40.0 + (w - 50.0) * t / t_max,
                    top + h - h * v / y_max
                )
            })
            .collect();
        svg.push_str(&format!(
            "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"1.5\" points=\"{}\"/><text x=\"{}\" y=\"{}\" fill=\"{color}\">{name}</text>",
            path.join(" "),
            w - 200.0 + j as f64 * 60.0,
            top - 8.0
        ));
    }
}
