//! The rush as it goes: a ticker that takes one [`Sample`] a second for the
//! report's plot (joins, admissions, orders, the line, Redis's memory, order
//! latency) and keeps the progress line on the terminal up to date.

use super::shared::{Sample, Shared};
use crate::idle::RedisWatch;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The running ticker; [`Ticker::stop`] ends it and clears the progress line.
pub(crate) struct Ticker {
    task: tokio::task::JoinHandle<()>,
    progress: indicatif::ProgressBar,
}

impl Ticker {
    /// Starts ticking every 250 ms (a sample every fourth tick).
    pub fn start(
        shared: Arc<Mutex<Shared>>,
        watch: Arc<RedisWatch>,
        idle_loaded: Arc<AtomicU64>,
        started: Instant,
        progress: indicatif::ProgressBar,
    ) -> Self {
        let bar = progress.clone();
        let task = tokio::spawn(async move {
            let mut tick = 0u64;
            loop {
                tokio::time::sleep(Duration::from_millis(250)).await;
                tick += 1;
                if let Ok(mut s) = shared.lock() {
                    if tick.is_multiple_of(4) {
                        let sample = sample(&mut s, &watch, started);
                        s.samples.push(sample);
                    }
                    show(&bar, &s, &watch, &idle_loaded);
                }
            }
        });
        Self { task, progress }
    }

    pub fn stop(self) {
        self.task.abort();
        self.progress.finish_and_clear();
    }
}

/// This second's sample (and the order latency sum started afresh).
fn sample(s: &mut Shared, watch: &RedisWatch, started: Instant) -> Sample {
    let abandoned = s.abandoned() as u64;
    let (sum, n) = std::mem::take(&mut s.order_ms);
    Sample {
        second: started.elapsed().as_secs_f64(),
        joined: s.joined,
        admitted: s.admitted,
        orders: s.orders,
        waiting: s.joined.saturating_sub(s.admitted + abandoned),
        line: watch.line.load(Ordering::Relaxed),
        redis_mib: mib(watch.used_bytes.load(Ordering::Relaxed)),
        order_ms: if n > 0 { sum / n as f64 } else { 0.0 },
    }
}

fn show(bar: &indicatif::ProgressBar, s: &Shared, watch: &RedisWatch, idle: &AtomicU64) {
    bar.set_position(s.joined);
    bar.set_message(format!(
        "admitted {} · orders {} · paid {} · errors {} · idle {} · line {} · Redis {:.0} MiB",
        s.admitted,
        s.orders,
        s.paid,
        s.errors.values().sum::<u64>(),
        idle.load(Ordering::Relaxed),
        watch.line.load(Ordering::Relaxed),
        mib(watch.used_bytes.load(Ordering::Relaxed)),
    ));
}

/// A progress line for `total` fans joining, or a hidden one.
pub(crate) fn progress_bar(show: bool, total: u64) -> indicatif::ProgressBar {
    if !show {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(total);
    if let Ok(style) =
        indicatif::ProgressStyle::with_template("{elapsed_precise} joined {pos}/{len} · {msg}")
    {
        bar.set_style(style);
    }
    bar
}

pub(crate) fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
