//! Everything a rush measured ([`RushReport`]), and the report's forms: JSON
//! (serde), Markdown (a summary table, latency per endpoint, errors by
//! code) and the SVG plot (see `plot`), written side by side.

use super::invariants::InvariantReport;
use super::shared::Sample;
use super::thresholds::{RunFailure, Thresholds};
use crate::tally::LatencyReport;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;

/// Everything a rush measured.
#[derive(Debug, Clone, Serialize)]
pub struct RushReport {
    pub drop: String,
    pub fans: usize,
    /// Idle fans joined (see `crate::idle`), and at what rate.
    pub idle_fans: u64,
    pub idle_joins_per_sec: f64,
    /// Redis `used_memory` before the run and at its peak, with the line's
    /// length at that peak; their difference per fan in the line.
    pub redis_before_mib: f64,
    pub redis_peak_mib: f64,
    pub line_at_peak: u64,
    pub redis_bytes_per_waiting_fan: f64,
    pub duration_secs: f64,
    pub joined: u64,
    pub joins_per_sec: f64,
    pub websocket_fans: usize,
    pub abandoned: usize,
    pub admitted: u64,
    pub admission_rate_configured: f64,
    /// Admissions per second in the busiest 10 s of the run.
    pub admission_rate_achieved: f64,
    /// Pairs admitted against join order (after opening).
    pub fifo_inversions: u64,
    /// Pairs admitted against the published draw (pre-queue).
    pub draw_inversions: u64,
    pub draw_verified: Option<bool>,
    pub orders_acknowledged: u64,
    pub orders_per_sec: f64,
    pub paid: u64,
    pub declined: u64,
    /// Requests sent (WebSocket and HTTP joins, polls, orders, payments),
    /// those that failed (errors but `409 sold_out`), and their share.
    pub requests: u64,
    pub failed_requests: u64,
    pub error_share: f64,
    /// The thresholds the run was judged by, and each one it breached.
    pub thresholds: Thresholds,
    pub breaches: Vec<String>,
    pub errors: BTreeMap<String, u64>,
    pub latency: BTreeMap<String, LatencyReport>,
    pub invariants: InvariantReport,
    /// One sample per second: joins, admissions, orders, the line, latency.
    pub timeline: Vec<Sample>,
}

impl RushReport {
    /// Whether the run passed: no invariant broken, no threshold breached.
    pub fn check(&self) -> Result<(), RunFailure> {
        if self.invariants.holds() && self.breaches.is_empty() {
            return Ok(());
        }
        Err(RunFailure {
            invariants: self.invariants.broken.clone(),
            thresholds: self.breaches.clone(),
        })
    }

    /// The report as Markdown; it ends with a FAILED line naming what broke
    /// when the run failed.
    pub fn markdown(&self) -> String {
        let mut md = self.summary_table();
        md.push_str("| endpoint | count | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |\n|---|---|---|---|---|---|---|\n");
        for (endpoint, l) in &self.latency {
            md.push_str(&format!(
                "| {endpoint} | {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} |\n",
                l.count, l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms
            ));
        }
        if !self.errors.is_empty() {
            md.push_str("\n| error | count |\n|---|---|\n");
            for (code, n) in &self.errors {
                md.push_str(&format!("| {code} | {n} |\n"));
            }
        }
        md.push_str(&match self.check() {
            Ok(()) => "\nPASSED: invariants hold, thresholds met.\n".to_string(),
            Err(failure) => format!("\n**{failure}**\n"),
        });
        md
    }

    fn summary_table(&self) -> String {
        format!(
            "# Rush report: drop `{}`\n\n| measure | value |\n|---|---|\n\
             | fans | {} ({} on WebSockets, {} abandoned) |\n| run | {:.1} s |\n\
             | joins | {} ({:.0}/s) |\n| admitted | {}; {:.2}/s in the busiest 10 s (configured {:.2}/s) |\n\
             | fairness | {} FIFO inversions, {} draw inversions, draw verified: {} |\n\
             | orders acknowledged | {} ({:.1}/s); paid {}, declined {} |\n\
             | idle fans | {} joined behind the live ones ({:.0}/s) |\n\
             | Redis | {:.0} MiB before, {:.0} MiB at peak with {} in line: {:.0} bytes per waiting fan |\n\
             | requests | {}; {} failed ({:.1} %; `409 sold_out` not counted) |\n\
             | thresholds | {}: {} |\n\
             | invariants | {} |\n\n",
            self.drop,
            self.fans,
            self.websocket_fans,
            self.abandoned,
            self.duration_secs,
            self.joined,
            self.joins_per_sec,
            self.admitted,
            self.admission_rate_achieved,
            self.admission_rate_configured,
            self.fifo_inversions,
            self.draw_inversions,
            self.draw_verified
                .map_or("n/a".to_string(), |v| v.to_string()),
            self.orders_acknowledged,
            self.orders_per_sec,
            self.paid,
            self.declined,
            self.idle_fans,
            self.idle_joins_per_sec,
            self.redis_before_mib,
            self.redis_peak_mib,
            self.line_at_peak,
            self.redis_bytes_per_waiting_fan,
            self.requests,
            self.failed_requests,
            self.error_share * 100.0,
            self.thresholds.describe(),
            if self.breaches.is_empty() {
                "met".to_string()
            } else {
                self.breaches.join("; ")
            },
            if self.invariants.holds() {
                "hold".to_string()
            } else {
                self.invariants.broken.join("; ")
            },
        )
    }

    /// Writes `report.json`, `report.md` and `report.svg` into `out`.
    pub fn write(&self, out: &Path) -> anyhow::Result<()> {
        std::fs::create_dir_all(out)?;
        std::fs::write(out.join("report.json"), serde_json::to_string_pretty(self)?)?;
        std::fs::write(out.join("report.md"), self.markdown())?;
        std::fs::write(out.join("report.svg"), self.svg())?;
        Ok(())
    }
}
