//! A process's cost read from `/proc` (so it must run on this machine): its
//! resident memory, and the CPU time it used over a measured window
//! ([`CpuMeter`]: user + system time of all its threads, from
//! `/proc/<pid>/stat`, in clock ticks of 10 ms); and the calling thread's
//! own CPU time to the nanosecond ([`thread_cpu_time`]).

use anyhow::Context;
use serde::Serialize;
use std::time::{Duration, Instant};

/// Resident memory of process `pid`, KiB (`VmRSS` in `/proc/<pid>/status`).
pub fn rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .with_context(|| format!("reading /proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .context("no VmRSS")
}

/// Clock ticks per second of `/proc/<pid>/stat` times (Linux's `USER_HZ`,
/// 100 on every architecture this runs on; `getconf CLK_TCK` says so).
const TICKS_PER_SEC: u64 = 100;

/// CPU time (user + system, all threads) process `pid` has used so far.
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .with_context(|| format!("reading /proc/{pid}/stat"))?;
    let ticks = parse_cpu_ticks(&stat).with_context(|| format!("parsing /proc/{pid}/stat"))?;
    Ok(Duration::from_millis(ticks * 1000 / TICKS_PER_SEC))
}

/// The CPU time the calling thread has run so far
/// (`CLOCK_THREAD_CPUTIME_ID`, brought up to date when read, unlike
/// `/proc/thread-self/schedstat`, which lags by up to a scheduler tick);
/// None where the clock cannot be read.
pub fn thread_cpu_time() -> Option<Duration> {
    let now = nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID).ok()?;
    Some(Duration::from(now))
}

/// utime + stime (fields 14 and 15) of a `/proc/<pid>/stat` line. The
/// command name (field 2) is in parentheses and may hold spaces and
/// parentheses itself, so fields are counted after its last `)`.
fn parse_cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // fields[0] is field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Measures one process's CPU time over a window: [`CpuMeter::start`]
/// before it, [`CpuMeter::stop`] after it.
pub struct CpuMeter {
    pid: u32,
    before: Duration,
    started: Instant,
}

impl CpuMeter {
    pub fn start(pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            pid,
            before: cpu_time(pid)?,
            started: Instant::now(),
        })
    }

    /// The CPU time used since `start`, with the wall time it took.
    pub fn stop(&self) -> anyhow::Result<CpuUse> {
        let cpu = cpu_time(self.pid)?.saturating_sub(self.before);
        Ok(CpuUse {
            pid: self.pid,
            cpu_secs: cpu.as_secs_f64(),
            wall_secs: self.started.elapsed().as_secs_f64(),
        })
    }
}

/// CPU a process used over a measured window.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CpuUse {
    pub pid: u32,
    /// User + system CPU time, seconds (10 ms resolution).
    pub cpu_secs: f64,
    /// The window's length, seconds.
    pub wall_secs: f64,
}

impl CpuUse {
    /// Cores busy on average over the window.
    pub fn cores(&self) -> f64 {
        self.cpu_secs / self.wall_secs.max(1e-9)
    }

    /// CPU per unit of work (`units` of them in the window), microseconds;
    /// `None` with no unit done.
    pub fn per_unit_us(&self, units: u64) -> Option<f64> {
        (units > 0).then(|| self.cpu_secs * 1e6 / units as f64)
    }

    /// One line: `<what> CPU per <unit>: N µs (pid P: C s CPU in W s = K cores)`,
    /// or that it was not measured and which flag measures it.
    pub fn describe(use_: Option<&Self>, what: &str, unit: &str, units: u64, flag: &str) -> String {
        match use_ {
            None => format!("{what} CPU per {unit}: not measured (give {flag})"),
            Some(cpu) => format!(
                "{what} CPU per {unit}: {} (pid {}: {:.2} s CPU in {:.1} s = {:.2} cores, {units} {unit}s)",
                cpu.per_unit_us(units)
                    .map_or("n/a".to_string(), |us| format!("{us:.0} µs")),
                cpu.pid,
                cpu.cpu_secs,
                cpu.wall_secs,
                cpu.cores()
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn cpu_ticks_are_read_after_the_command_name() {
        let stat = "4242 (sale (v2) x) S 1 4242 4242 0 -1 4194560 9 0 0 0 250 37 0 0 20 0 9 0";
        assert_eq!(super::parse_cpu_ticks(stat), Some(287));
        assert_eq!(super::parse_cpu_ticks("4242 (sale) S 1"), None);
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(30) {}
        assert!(
            super::cpu_time(std::process::id()).expect("our own /proc/<pid>/stat")
                > std::time::Duration::ZERO
        );
    }

    #[test]
    fn cpu_per_unit_is_in_microseconds() {
        let cpu = super::CpuUse {
            pid: 1,
            cpu_secs: 8.0,
            wall_secs: 10.0,
        };
        assert_eq!(cpu.per_unit_us(50_000), Some(160.0));
        assert_eq!(cpu.per_unit_us(0), None);
        assert!((cpu.cores() - 0.8).abs() < 1e-12);
        let none = super::CpuUse::describe(None, "sale", "order", 5, "--sale-pid");
        assert_eq!(none, "sale CPU per order: not measured (give --sale-pid)");
    }
}
