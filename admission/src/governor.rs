//! The admission governor: how many fans the pump may let in right now.
//!
//! Three limits, the smallest wins:
//! - the rate (`admission_rate_per_sec`), enforced by a `governor` GCRA limiter
//!   that may hold up to one second's worth, so a pump tick delayed by a busy
//!   machine catches up instead of losing admissions; a new limiter starts
//!   empty, so a new pump holder (after a failover) cannot burst;
//! - `max_active` minus the shoppers admitted and still active;
//! - the units left minus the active shoppers (each may buy at least one):
//!   never more shoppers than the stock could serve.
//!
//! Time is a [`PumpClock`]: the real monotonic clock, or a manual one that
//! tests move, so rate tests are exact and fast.

use governor::clock::Clock;
use governor::middleware::NoOpMiddleware;
use governor::nanos::Nanos;
use governor::state::{InMemoryState, NotKeyed};
use governor::{Quota, RateLimiter};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The pump's clock: real, or moved by hand.
#[derive(Debug, Clone)]
pub enum PumpClock {
    Real(Instant),
    Manual(Arc<AtomicU64>),
}

impl PumpClock {
    pub fn real() -> Self {
        Self::Real(Instant::now())
    }

    pub fn manual() -> Self {
        Self::Manual(Arc::new(AtomicU64::new(0)))
    }

    /// Moves a manual clock forward (no effect on the real one).
    pub fn advance(&self, by: Duration) {
        if let Self::Manual(nanos) = self {
            nanos.fetch_add(by.as_nanos() as u64, Ordering::SeqCst);
        }
    }

    pub fn elapsed(&self) -> Duration {
        match self {
            Self::Real(start) => start.elapsed(),
            Self::Manual(nanos) => Duration::from_nanos(nanos.load(Ordering::SeqCst)),
        }
    }
}

impl Clock for PumpClock {
    type Instant = Nanos;
    fn now(&self) -> Nanos {
        Nanos::from(self.elapsed())
    }
}

type Limiter = RateLimiter<NotKeyed, InMemoryState, PumpClock, NoOpMiddleware<Nanos>>;

/// Decides each tick how many fans to admit.
pub struct AdmissionGovernor {
    clock: PumpClock,
    rate: f64,
    limiter: Limiter,
    burst: u32,
}

fn limiter(rate: f64, clock: &PumpClock) -> (Limiter, u32) {
    let rate = rate.clamp(0.001, 1_000_000.0);
    let burst = (rate.ceil() as u32).max(1);
    let quota = Quota::with_period(Duration::from_secs_f64(1.0 / rate))
        .unwrap_or_else(|| Quota::per_second(NonZeroU32::MIN))
        .allow_burst(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
    (RateLimiter::direct_with_clock(quota, clock.clone()), burst)
}

impl AdmissionGovernor {
    pub fn new(rate_per_sec: f64, clock: PumpClock) -> Self {
        let (limiter, burst) = limiter(rate_per_sec, &clock);
        // A fresh limiter starts full; drain it, so a new pump holder starts
        // at the rate rather than with a burst.
        let _ = limiter.check_n(NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN));
        Self {
            clock,
            rate: rate_per_sec,
            limiter,
            burst,
        }
    }

    /// Applies an operator's new rate (from the next tick on).
    pub fn set_rate(&mut self, rate_per_sec: f64) {
        if (rate_per_sec - self.rate).abs() > f64::EPSILON {
            *self = Self::new(rate_per_sec, self.clock.clone());
        }
    }

    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// How many to admit now, taking that many permits from the rate limiter.
    /// `active`: shoppers admitted and still within their token's validity.
    pub fn budget(&mut self, active: u64, max_active: u64, units_left: i64) -> u64 {
        let by_active = max_active.saturating_sub(active);
        let by_stock = u64::try_from(units_left)
            .unwrap_or(0)
            .saturating_sub(active);
        let wanted = by_active.min(by_stock).min(u64::from(self.burst));
        let mut granted = 0u64;
        let mut try_n = wanted;
        while try_n > 0 && granted < wanted {
            let n = NonZeroU32::new(try_n as u32).unwrap_or(NonZeroU32::MIN);
            match self.limiter.check_n(n) {
                Ok(Ok(())) => {
                    granted += try_n;
                    try_n = try_n.min(wanted - granted);
                }
                _ => try_n /= 2,
            }
        }
        granted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(governor: &mut AdmissionGovernor, clock: &PumpClock, seconds: u64) -> u64 {
        let mut admitted = 0;
        for _ in 0..seconds * 10 {
            clock.advance(Duration::from_millis(100));
            admitted += governor.budget(0, u64::MAX, i64::MAX);
        }
        admitted
    }

    #[test]
    fn admits_at_the_rate_within_one_percent() {
        for rate in [0.5, 7.0, 50.0, 1000.0] {
            let clock = PumpClock::manual();
            let mut governor = AdmissionGovernor::new(rate, clock.clone());
            let admitted = run(&mut governor, &clock, 100) as f64;
            let expected = rate * 100.0;
            assert!(
                (admitted - expected).abs() <= expected * 0.01 + 1.0,
                "rate {rate}: {admitted} admitted, expected {expected}"
            );
        }
    }

    #[test]
    fn max_active_and_stock_bound_the_budget() {
        let clock = PumpClock::manual();
        let mut governor = AdmissionGovernor::new(1000.0, clock.clone());
        clock.advance(Duration::from_secs(1));
        assert_eq!(governor.budget(95, 100, 1_000), 5);
        assert_eq!(governor.budget(0, 100, 3), 3);
        assert_eq!(
            governor.budget(10, 100, 3),
            0,
            "active shoppers may use the stock"
        );
        assert_eq!(governor.budget(0, 0, 10), 0);
    }

    #[test]
    fn a_new_governor_does_not_burst() {
        let clock = PumpClock::manual();
        let mut governor = AdmissionGovernor::new(100.0, clock.clone());
        assert_eq!(governor.budget(0, u64::MAX, i64::MAX), 0);
        clock.advance(Duration::from_millis(100));
        assert_eq!(governor.budget(0, u64::MAX, i64::MAX), 10);
    }
}
