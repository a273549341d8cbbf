//! When a run counts as failed even though every invariant held: a rush
//! whose fans mostly got errors proves nothing about the deployment, so it
//! must not pass. [`Thresholds`] (flags of `rush` and `soak`) bound the share
//! of failed requests, the share of fans who got a place, and the number of
//! admissions; [`RunFailure`] is a failed run and its exit code (1: an
//! invariant broke, 2: only thresholds were breached).

use serde::Serialize;
use std::collections::BTreeMap;

/// Errors that are the deployment answering correctly, not failing: an
/// order refused because the stock is gone. Not counted as failures.
pub const NOT_FAILURES: &[&str] = &["order 409 sold_out"];

/// Exit code of a run that broke an invariant (also of a run that could
/// not be carried out at all).
pub const EXIT_INVARIANTS: u8 = 1;
/// Exit code of a run whose invariants held but whose thresholds did not.
pub const EXIT_THRESHOLDS: u8 = 2;

/// The bounds a run must stay within to pass.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Thresholds {
    /// Most failed requests over all requests (WebSocket joins, HTTP joins,
    /// polls, orders, payments); `order 409 sold_out` is not a failure.
    pub max_error_share: f64,
    /// Least share of the live fans that must get a place in the line.
    pub min_join_share: f64,
    /// Least admissions; `None`: at least one when there is stock.
    pub min_admitted: Option<u64>,
}

impl Default for Thresholds {
    fn default() -> Self {
        Self {
            max_error_share: 0.05,
            min_join_share: 0.95,
            min_admitted: None,
        }
    }
}

/// What the thresholds judge a run on.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    pub fans: usize,
    pub joined: u64,
    pub admitted: u64,
    pub stock: i64,
    pub requests: u64,
    /// Errors by code, as in the report.
    pub errors: BTreeMap<String, u64>,
}

impl Counts {
    /// Errors that count as failures (all but `NOT_FAILURES`).
    pub fn failures(&self) -> u64 {
        self.errors
            .iter()
            .filter(|(code, _)| !NOT_FAILURES.contains(&code.as_str()))
            .map(|(_, n)| n)
            .sum()
    }

    /// Failures over requests (0 when nothing was sent).
    pub fn error_share(&self) -> f64 {
        self.failures() as f64 / self.requests.max(1) as f64
    }

    /// Fans who got a place over the live fans (1 with no fans).
    pub fn join_share(&self) -> f64 {
        if self.fans == 0 {
            1.0
        } else {
            self.joined as f64 / self.fans as f64
        }
    }
}

impl Thresholds {
    /// The least admissions for a drop of `stock` units.
    pub fn min_admitted_for(&self, stock: i64) -> u64 {
        self.min_admitted.unwrap_or(u64::from(stock > 0))
    }

    /// Each threshold the run breached, in words naming its flag.
    pub fn breaches(&self, counts: &Counts) -> Vec<String> {
        let mut breached = Vec::new();
        let share = counts.error_share();
        if share > self.max_error_share {
            breached.push(format!(
                "errors: {} of {} requests failed = {:.1} % > {:.1} % (--max-error-share)",
                counts.failures(),
                counts.requests,
                share * 100.0,
                self.max_error_share * 100.0
            ));
        }
        let share = counts.join_share();
        if share < self.min_join_share {
            breached.push(format!(
                "joins: {} of {} fans got a place = {:.1} % < {:.1} % (--min-join-share)",
                counts.joined,
                counts.fans,
                share * 100.0,
                self.min_join_share * 100.0
            ));
        }
        let least = self.min_admitted_for(counts.stock);
        if counts.admitted < least {
            breached.push(format!(
                "admissions: {} admitted < {least} (--min-admitted)",
                counts.admitted
            ));
        }
        breached
    }

    /// The thresholds in words, for the report.
    pub fn describe(&self) -> String {
        format!(
            "failed requests ≤ {:.1} %, fans with a place ≥ {:.1} %, admitted ≥ {}",
            self.max_error_share * 100.0,
            self.min_join_share * 100.0,
            self.min_admitted
                .map_or("1 when there is stock".to_string(), |n| n.to_string())
        )
    }
}

/// A run that failed: the invariants it broke and the thresholds it
/// breached (either may be empty, not both).
#[derive(Debug, Clone, PartialEq)]
pub struct RunFailure {
    pub invariants: Vec<String>,
    pub thresholds: Vec<String>,
}

impl RunFailure {
    /// 1 when an invariant broke, else 2 (thresholds only).
    pub fn exit_code(&self) -> u8 {
        if self.invariants.is_empty() {
            EXIT_THRESHOLDS
        } else {
            EXIT_INVARIANTS
        }
    }
}

impl std::fmt::Display for RunFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FAILED:")?;
        if !self.invariants.is_empty() {
            write!(f, " invariants broken: {}.", self.invariants.join("; "))?;
        }
        if !self.thresholds.is_empty() {
            write!(f, " thresholds breached: {}.", self.thresholds.join("; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for RunFailure {}

#[cfg(test)]
mod tests {
    use super::*;

    fn healthy() -> Counts {
        Counts {
            fans: 2000,
            joined: 2000,
            admitted: 243,
            stock: 300,
            requests: 12_000,
            errors: [
                ("order 409 sold_out".to_string(), 27),
                ("order 503 unavailable".to_string(), 49),
            ]
            .into_iter()
            .collect(),
        }
    }

    #[test]
    fn a_healthy_run_breaches_nothing() {
        assert!(Thresholds::default().breaches(&healthy()).is_empty());
    }

    #[test]
    fn a_run_whose_fans_all_failed_breaches_every_threshold() {
        // What a rush against a queue that refuses everything reported
        // before thresholds existed: "invariants: hold", exit 0.
        let broken = Counts {
            fans: 2000,
            joined: 0,
            admitted: 0,
            stock: 300,
            requests: 2000,
            errors: [("wait: join 503 unavailable".to_string(), 2000)]
                .into_iter()
                .collect(),
        };
        let breaches = Thresholds::default().breaches(&broken);
        assert_eq!(breaches.len(), 3, "{breaches:?}");
        for flag in ["--max-error-share", "--min-join-share", "--min-admitted"] {
            assert!(
                breaches.iter().any(|b| b.contains(flag)),
                "{flag}: {breaches:?}"
            );
        }
        let failure = RunFailure {
            invariants: vec![],
            thresholds: breaches,
        };
        assert_eq!(failure.exit_code(), EXIT_THRESHOLDS);
        assert!(failure
            .to_string()
            .starts_with("FAILED: thresholds breached: errors: 2000 of 2000"));
    }

    #[test]
    fn sold_out_refusals_are_not_failures_and_the_bounds_are_inclusive() {
        let mut counts = healthy();
        counts.errors = [("order 409 sold_out".to_string(), 5_000)]
            .into_iter()
            .collect();
        assert_eq!(counts.failures(), 0);
        counts.errors = [("poll 503 unavailable".to_string(), 600)]
            .into_iter()
            .collect();
        counts.joined = 1900;
        assert_eq!(counts.error_share(), 0.05);
        assert!(
            Thresholds::default().breaches(&counts).is_empty(),
            "exactly at the bounds passes"
        );
        counts.joined = 1899;
        assert_eq!(Thresholds::default().breaches(&counts).len(), 1);
    }

    #[test]
    fn at_least_one_admission_is_asked_only_when_there_is_stock() {
        let none_left = Counts {
            stock: 0,
            ..healthy()
        };
        let mut counts = none_left.clone();
        counts.admitted = 0;
        assert!(Thresholds::default().breaches(&counts).is_empty());
        counts.stock = 1;
        assert_eq!(Thresholds::default().breaches(&counts).len(), 1);
        let strict = Thresholds {
            min_admitted: Some(500),
            ..Thresholds::default()
        };
        assert_eq!(strict.breaches(&healthy()).len(), 1);
    }

    #[test]
    fn a_broken_invariant_outranks_breached_thresholds() {
        let failure = RunFailure {
            invariants: vec!["oversold: 301 units held of 300".into()],
            thresholds: vec!["admissions: 0 admitted < 1 (--min-admitted)".into()],
        };
        assert_eq!(failure.exit_code(), EXIT_INVARIANTS);
        let text = failure.to_string();
        assert!(
            text.contains("invariants broken: oversold") && text.contains("thresholds breached")
        );
    }
}
