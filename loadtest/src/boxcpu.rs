//! The whole machine's CPU per operation and where it went: everything
//! (busy time of all cores from `/proc/stat`), the service under test, the
//! generator itself, and the deployment's Redis and PostgreSQL (found by the
//! ports of their URLs: the `redis-server` serving that port, the
//! `postgres` started with `-p <port>` and its backends). On a box where
//! everything shares the cores the generator's share is taken from what it
//! measures, so it is printed next to the rest. Linux only; what cannot be
//! found is left out, never guessed.

use crate::procfs::cpu_time;
use serde::Serialize;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Which processes to count besides the machine as a whole.
#[derive(Debug, Clone, Default)]
pub struct Parts {
    /// The service under test.
    pub service: Option<u32>,
    pub redis_url: Option<String>,
    pub database_url: Option<String>,
}

/// CPU over a window, started with [`BoxMeter::start`].
pub struct BoxMeter {
    parts: Parts,
    started: Instant,
    busy: Option<Duration>,
    counted: HashMap<&'static str, HashMap<u32, Duration>>,
}

/// CPU seconds over a window, by part.
#[derive(Debug, Clone, Serialize)]
pub struct BoxUse {
    pub wall_secs: f64,
    /// Every core's busy time (user, system, interrupts), seconds.
    pub machine_secs: Option<f64>,
    pub service_secs: Option<f64>,
    pub generator_secs: Option<f64>,
    pub redis_secs: Option<f64>,
    pub postgres_secs: Option<f64>,
    /// The 1-minute load average at the end.
    pub load_average: Option<f64>,
}

impl BoxMeter {
    pub fn start(parts: Parts) -> Self {
        let mut meter = Self {
            parts,
            started: Instant::now(),
            busy: machine_busy(),
            counted: HashMap::new(),
        };
        meter.counted = meter.snapshot();
        meter.started = Instant::now();
        meter
    }

    fn snapshot(&self) -> HashMap<&'static str, HashMap<u32, Duration>> {
        let mut all = HashMap::new();
        let times = |pids: Vec<u32>| {
            pids.into_iter()
                .filter_map(|pid| cpu_time(pid).ok().map(|t| (pid, t)))
                .collect::<HashMap<_, _>>()
        };
        if let Some(pid) = self.parts.service {
            all.insert("service", times(vec![pid]));
        }
        all.insert("generator", times(vec![std::process::id()]));
        if let Some(port) = self.parts.redis_url.as_deref().and_then(url_port) {
            all.insert("redis", times(redis_pids(port)));
        }
        if let Some(port) = self.parts.database_url.as_deref().and_then(url_port) {
            all.insert("postgres", times(postgres_pids(port)));
        }
        all
    }

    /// The CPU used by each part since `start`.
    pub fn stop(&self) -> BoxUse {
        let wall_secs = self.started.elapsed().as_secs_f64();
        let machine_secs = match (self.busy, machine_busy()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before).as_secs_f64()),
            _ => None,
        };
        let now = self.snapshot();
        let part = |name: &str| -> Option<f64> {
            let after = now.get(name)?;
            if after.is_empty() {
                return None;
            }
            let before = self.counted.get(name);
            let used: Duration = after
                .iter()
                .map(|(pid, t)| {
                    let was = before.and_then(|b| b.get(pid)).copied().unwrap_or_default();
                    t.saturating_sub(was)
                })
                .sum();
            Some(used.as_secs_f64())
        };
        BoxUse {
            wall_secs,
            machine_secs,
            service_secs: part("service"),
            generator_secs: part("generator"),
            redis_secs: part("redis"),
            postgres_secs: part("postgres"),
            load_average: std::fs::read_to_string("/proc/loadavg")
                .ok()
                .and_then(|l| l.split_whitespace().next()?.parse().ok()),
        }
    }
}

impl BoxUse {
    /// One line: microseconds per `unit` for each part measured, and the
    /// load average.
    pub fn describe(&self, service: &str, unit: &str, units: u64) -> String {
        let us = |secs: Option<f64>| match (secs, units) {
            (Some(s), u) if u > 0 => format!("{:.0} µs", s * 1e6 / u as f64),
            _ => "n/a".into(),
        };
        format!(
            "CPU per {unit}: machine {} = {service} {} + generator {} + Redis {} + PostgreSQL {} + rest; load average {}",
            us(self.machine_secs),
            us(self.service_secs),
            us(self.generator_secs),
            us(self.redis_secs),
            us(self.postgres_secs),
            self.load_average.map_or("n/a".into(), |l| format!("{l:.2}")),
        )
    }
}

/// Busy time of every core so far (`/proc/stat`'s first line, all but
/// idle and iowait), at 100 ticks a second.
fn machine_busy() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?.strip_prefix("cpu ")?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .filter_map(|t| t.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal (guest is in user).
    let busy: u64 = ticks
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, t)| t)
        .sum();
    Some(Duration::from_millis(busy * 10))
}

/// The port of `scheme://[user@]host:port[/db]`.
fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://")?.1;
    let host_port = rest.split('/').next()?;
    let host_port = host_port.rsplit('@').next()?;
    host_port.rsplit_once(':')?.1.parse().ok()
}

/// Every process: (pid, parent, command name, command line).
fn processes() -> Vec<(u32, u32, String, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let (open, close) = (stat.find('(')?, stat.rfind(')')?);
            let comm = stat.get(open + 1..close)?.to_string();
            let ppid = stat
                .get(close + 1..)?
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            Some((pid, ppid, comm, cmdline))
        })
        .collect()
}

/// The `redis-server` listening on `port` (its title names the address).
fn redis_pids(port: u16) -> Vec<u32> {
    let suffix = format!(":{port}");
    processes()
        .into_iter()
        .filter(|(_, _, comm, cmdline)| {
            comm.starts_with("redis-server") && cmdline.trim_end().ends_with(&suffix)
        })
        .map(|(pid, ..)| pid)
        .collect()
}

/// The PostgreSQL postmaster started with `-p <port>` and its children.
fn postgres_pids(port: u16) -> Vec<u32> {
    let all = processes();
    let flag = format!("-p {port} ");
    let Some(postmaster) = all
        .iter()
        .find(|(_, _, comm, cmdline)| comm == "postgres" && format!("{cmdline} ").contains(&flag))
        .map(|(pid, ..)| *pid)
    else {
        return Vec::new();
    };
    all.iter()
        .filter(|(pid, ppid, ..)| *pid == postmaster || *ppid == postmaster)
        .map(|(pid, ..)| *pid)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn ports_come_from_urls() {
        assert_eq!(super::url_port("redis://127.0.0.1:6379"), Some(6379));
        assert_eq!(
            super::url_port("postgres://postgres@127.0.0.1:5433/lineup"),
            Some(5433)
        );
        assert_eq!(super::url_port("redis://localhost"), None);
    }

    #[test]
    fn the_machine_and_this_process_are_counted() {
        let meter = super::BoxMeter::start(super::Parts::default());
        let spin = std::time::Instant::now();
        while spin.elapsed() < std::time::Duration::from_millis(50) {}
        let used = meter.stop();
        assert!(used.machine_secs.is_some_and(|s| s > 0.0));
        assert!(used.generator_secs.is_some());
        assert!(used.redis_secs.is_none() && used.service_secs.is_none());
    }
}
