//! Time, injectable: the service asks a [`Clock`], tests move a [`ManualClock`].
//! And a time as the API writes it: [`rfc3339`], for the hot answers.

use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Arc::new(Mutex::new(start)))
    }

    pub fn advance(&self, by: chrono::Duration) {
        let mut now = self.0.lock().unwrap_or_else(|e| e.into_inner());
        *now += by;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Serializes a time exactly as chrono's own `Serialize` does (RFC 3339,
/// `Z`, as many fraction digits as it needs: 0, 3, 6 or 9), but formatted
/// into one string first and written once. chrono's goes through serde's
/// `collect_str`, which hands serde_json one character at a time and has
/// each escaped on its own: 8,600 instructions for an order's three times
/// (`loadtest/sitting/instructions`), a tenth of the order's answer.
/// Use with `#[serde(serialize_with = "crate::clock::rfc3339::utc")]`.
pub mod rfc3339 {
    use chrono::{DateTime, SecondsFormat, Utc};
    use serde::Serializer;

    pub fn utc<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&at.to_rfc3339_opts(SecondsFormat::AutoSi, true))
    }

    pub fn utc_option<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => utc(at, serializer),
            None => serializer.serialize_none(),
        }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, TimeZone, Utc};
    use serde::Serialize;

    #[derive(Serialize)]
    struct Ours {
        #[serde(serialize_with = "super::rfc3339::utc")]
        at: DateTime<Utc>,
        #[serde(serialize_with = "super::rfc3339::utc_option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Serialize)]
    struct Chronos {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    #[test]
    fn times_are_written_as_chrono_writes_them() {
        let whole = Utc.with_ymd_and_hms(2026, 12, 6, 0, 24, 14).single();
        let whole = whole.expect("a valid time");
        for nanos in [
            0,
            120_000_000,
            123_000_000,
            123_456_000,
            123_456_789,
            1,
            999_999_999,
        ] {
            let at = whole + chrono::Duration::nanoseconds(nanos);
            for maybe in [None, Some(at), Some(whole)] {
                let ours = serde_json::to_string(&Ours { at, maybe }).expect("serializes");
                let chronos = serde_json::to_string(&Chronos { at, maybe }).expect("serializes");
                assert_eq!(ours, chronos, "at {at:?}");
            }
        }
    }
}
