//! Counting a run: [`Tally`] (successes, failures and one latency histogram,
//! for a closed or open loop of one kind of request) and [`Latencies`]
//! (one HDR histogram per endpoint, for the rush's mixed traffic).

use hdrhistogram::Histogram;
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Counts and latencies shared by the workers of one run.
pub struct Tally {
    ok: AtomicU64,
    failed: AtomicU64,
    latency_us: Mutex<Histogram<u64>>,
    /// Failures by what went wrong (an HTTP status, `timeout`, `send`).
    failures: Mutex<BTreeMap<String, u64>>,
}

/// A tally's figures at the end of a run.
#[derive(Debug, Clone, Serialize)]
pub struct TallySummary {
    pub ok: u64,
    pub failed: u64,
    pub failures: BTreeMap<String, u64>,
    pub seconds: f64,
    /// Successes per second.
    pub per_sec: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl Tally {
    pub fn new() -> anyhow::Result<Arc<Self>> {
        Ok(Arc::new(Self {
            ok: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            latency_us: Mutex::new(Histogram::new_with_bounds(1, 60_000_000, 3)?),
            failures: Mutex::default(),
        }))
    }

    /// One HTTP request sent at `started`: a success when answered with
    /// `expected`, else a failure counted under its status or error kind.
    pub fn record_http(
        &self,
        answer: &reqwest::Result<reqwest::Response>,
        expected: u16,
        started: Instant,
    ) {
        let failure = match answer {
            Ok(r) if r.status().as_u16() == expected => None,
            Ok(r) => Some(r.status().as_u16().to_string()),
            Err(e) if e.is_timeout() => Some("timeout".to_string()),
            Err(_) => Some("send".to_string()),
        };
        self.record(failure.is_none(), started);
        if let (Some(failure), Ok(mut failures)) = (failure, self.failures.lock()) {
            *failures.entry(failure).or_default() += 1;
        }
    }

    /// One request of the lean client ([`crate::wire`]) sent at
    /// `started`: its status (`None`: timed out) or the I/O error.
    pub fn record_status(
        &self,
        answer: &std::io::Result<Option<u16>>,
        expected: u16,
        started: Instant,
    ) {
        let failure = match answer {
            Ok(Some(status)) if *status == expected => None,
            Ok(Some(status)) => Some(status.to_string()),
            Ok(None) => Some("timeout".to_string()),
            Err(_) => Some("send".to_string()),
        };
        self.record(failure.is_none(), started);
        if let (Some(failure), Ok(mut failures)) = (failure, self.failures.lock()) {
            *failures.entry(failure).or_default() += 1;
        }
    }

    /// One request, sent at `started`, answered now.
    pub fn record(&self, ok: bool, started: Instant) {
        let counter = if ok { &self.ok } else { &self.failed };
        counter.fetch_add(1, Ordering::Relaxed);
        let micros = started.elapsed().as_micros().max(1) as u64;
        if let Ok(mut histogram) = self.latency_us.lock() {
            let _ = histogram.record(micros.min(60_000_000));
        }
    }

    /// The figures of a run that lasted `elapsed`.
    pub fn summary(&self, elapsed: Duration) -> TallySummary {
        let ok = self.ok.load(Ordering::Relaxed);
        let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let (p50_ms, p99_ms, p999_ms, max_ms) =
            self.latency_us.lock().map_or((0.0, 0.0, 0.0, 0.0), |h| {
                (
                    ms(&h, 0.5),
                    ms(&h, 0.99),
                    ms(&h, 0.999),
                    h.max() as f64 / 1000.0,
                )
            });
        TallySummary {
            ok,
            failed: self.failed.load(Ordering::Relaxed),
            failures: self.failures.lock().map(|f| f.clone()).unwrap_or_default(),
            seconds: elapsed.as_secs_f64(),
            per_sec: ok as f64 / elapsed.as_secs_f64(),
            p50_ms,
            p99_ms,
            p999_ms,
            max_ms,
        }
    }

    /// Prints one line about the run (`what`: ok, failed, rate, latency
    /// percentiles) and returns its figures.
    pub fn report(&self, what: &str, elapsed: Duration) -> TallySummary {
        let s = self.summary(elapsed);
        println!(
            "{what}: {} ok, {} failed in {:.1} s = {:.0}/s; latency ms p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2}",
            s.ok, s.failed, s.seconds, s.per_sec, s.p50_ms, s.p99_ms, s.p999_ms, s.max_ms,
        );
        if !s.failures.is_empty() {
            let by_kind: Vec<String> = s
                .failures
                .iter()
                .map(|(k, n)| format!("{k}: {n}"))
                .collect();
            println!("  failures by status: {}", by_kind.join(", "));
        }
        s
    }
}

/// Latency histograms per endpoint, microseconds (1 µs to 10 min).
#[derive(Default)]
pub struct Latencies(Mutex<HashMap<&'static str, Histogram<u64>>>);

impl Latencies {
    /// One request to `endpoint` that took `took`; with `expected_interval`
    /// (a client waiting on a schedule) the histogram is corrected for
    /// coordinated omission.
    pub fn record(
        &self,
        endpoint: &'static str,
        took: Duration,
        expected_interval: Option<Duration>,
    ) {
        let micros = (took.as_micros() as u64).clamp(1, 600_000_000);
        if let Ok(mut all) = self.0.lock() {
            let histogram = all.entry(endpoint).or_insert_with(|| {
                Histogram::new_with_bounds(1, 600_000_000, 3)
                    .unwrap_or_else(|_| Histogram::new(3).unwrap_or_else(|_| unreachable!()))
            });
            let _ = match expected_interval {
                Some(interval) => histogram.record_correct(micros, interval.as_micros() as u64),
                None => histogram.record(micros),
            };
        }
    }

    /// Percentiles of every endpoint seen.
    pub fn report(&self) -> BTreeMap<String, LatencyReport> {
        self.0
            .lock()
            .map(|all| {
                all.iter()
                    .map(|(endpoint, h)| (endpoint.to_string(), LatencyReport::of(h)))
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Percentiles of one endpoint, milliseconds.
#[derive(Debug, Clone, Serialize)]
pub struct LatencyReport {
    pub count: u64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
}

impl LatencyReport {
    fn of(h: &Histogram<u64>) -> Self {
        let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        Self {
            count: h.len(),
            p50_ms: ms(0.5),
            p90_ms: ms(0.9),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: h.max() as f64 / 1000.0,
        }
    }
}
