//! The queue's one time source: wall time for timestamps kept in Redis and
//! monotonic time for the admission governor, both movable by hand in tests.

use admission::governor::PumpClock;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone)]
pub struct QueueClock {
    base_ms: i64,
    pump: PumpClock,
    manual: bool,
}

impl QueueClock {
    pub fn real() -> Self {
        Self {
            base_ms: 0,
            pump: PumpClock::real(),
            manual: false,
        }
    }

    /// Starts at the current wall time and moves only by [`Self::advance`].
    pub fn manual() -> Self {
        Self {
            base_ms: Utc::now().timestamp_millis(),
            pump: PumpClock::manual(),
            manual: true,
        }
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.pump.advance(by);
    }

    pub fn pump_clock(&self) -> PumpClock {
        self.pump.clone()
    }

    pub fn now_ms(&self) -> i64 {
        if self.manual {
            self.base_ms + self.pump.elapsed().as_millis() as i64
        } else {
            Utc::now().timestamp_millis()
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_else(Utc::now)
    }
}
