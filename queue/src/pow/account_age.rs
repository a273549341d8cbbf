//! A fan's account age: how much more proof of work a young account pays.
//!
//! A farm spread one account per network pays the base like a fan, and a
//! tuned native solver does that work a few times cheaper than the fan
//! page (README, "Bot defence"). What such a farm cannot fake cheaply is
//! its accounts' age: when the site's identity provider says when an
//! account was made (`account_created_at` in the user token), an account
//! younger than `POW_NEW_ACCOUNT_DAYS` is asked `POW_NEW_ACCOUNT_FACTOR`
//! times the work. A token without the claim is priced as an old account
//! (the provider does not say), so a deployment whose provider sends
//! nothing sees no change; so is a time more than a day ahead of ours
//! (milliseconds sent for seconds, most likely), while one less than a
//! day ahead (a clock ahead of ours) is young.

use std::time::Duration;

/// The most a young account's work is multiplied by.
pub const MAX_NEW_ACCOUNT_FACTOR: u64 = 64;

/// How far ahead of our clock an account's creation may be and still be
/// read as a clock's error rather than a wrong unit.
const AHEAD_AT_MOST_SECS: u64 = 86_400;

/// Which accounts are young, and what they pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAccounts {
    /// An account made less than this long ago is young.
    younger_than: Duration,
    /// The base is multiplied by this for a young account (1: off).
    factor: u64,
}

/// What the user token says of the account's age.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountAge {
    Young,
    Old,
    /// No claim, or one that cannot be a creation time.
    Unsaid,
}

impl AccountAge {
    /// Its name in metrics.
    pub fn name(self) -> &'static str {
        match self {
            Self::Young => "young",
            Self::Old => "old",
            Self::Unsaid => "unsaid",
        }
    }
}

impl Default for NewAccounts {
    /// Off: every account pays the base.
    fn default() -> Self {
        Self {
            younger_than: Duration::ZERO,
            factor: 1,
        }
    }
}

impl NewAccounts {
    /// Accounts younger than `days` pay `factor` times the base (at most
    /// [`MAX_NEW_ACCOUNT_FACTOR`]; 0 and 1 turn it off).
    pub fn new(days: u64, factor: u64) -> Self {
        Self {
            younger_than: Duration::from_secs(days.saturating_mul(86_400)),
            factor: factor.clamp(1, MAX_NEW_ACCOUNT_FACTOR),
        }
    }

    /// What a token saying the account was made at `created_at` (Unix
    /// seconds, if it says) is, at `now_s`.
    pub fn age(&self, created_at: Option<u64>, now_s: u64) -> AccountAge {
        match created_at {
            None => AccountAge::Unsaid,
            Some(created) if created > now_s.saturating_add(AHEAD_AT_MOST_SECS) => {
                AccountAge::Unsaid
            }
            Some(created) if now_s.saturating_sub(created) < self.younger_than.as_secs() => {
                AccountAge::Young
            }
            Some(_) => AccountAge::Old,
        }
    }

    /// What the difficulty is multiplied by for an account of `age`.
    pub fn factor(&self, age: AccountAge) -> u64 {
        match age {
            AccountAge::Young => self.factor,
            AccountAge::Old | AccountAge::Unsaid => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_800_000_000;

    fn factor(accounts: NewAccounts, created_at: Option<u64>) -> u64 {
        accounts.factor(accounts.age(created_at, NOW))
    }

    #[test]
    fn a_young_account_pays_the_factor_and_an_old_or_unknown_one_the_base() {
        let accounts = NewAccounts::new(30, 4);
        assert_eq!(accounts.age(Some(NOW - DAY), NOW), AccountAge::Young);
        assert_eq!(factor(accounts, Some(NOW - DAY)), 4);
        assert_eq!(factor(accounts, Some(NOW - 30 * DAY + 1)), 4);
        assert_eq!(accounts.age(Some(NOW - 30 * DAY), NOW), AccountAge::Old);
        assert_eq!(factor(accounts, Some(NOW - 30 * DAY)), 1);
        assert_eq!(factor(accounts, Some(NOW - 400 * DAY)), 1);
        assert_eq!(accounts.age(None, NOW), AccountAge::Unsaid);
        assert_eq!(factor(accounts, None), 1);
    }

    #[test]
    fn a_clock_ahead_is_young_and_milliseconds_are_unsaid() {
        let accounts = NewAccounts::new(30, 4);
        assert_eq!(
            factor(accounts, Some(NOW + 3_600)),
            4,
            "a clock an hour ahead"
        );
        assert_eq!(factor(accounts, Some(NOW + DAY)), 4);
        assert_eq!(accounts.age(Some(NOW + DAY + 1), NOW), AccountAge::Unsaid);
        let millis = (NOW - DAY) * 1000;
        assert_eq!(accounts.age(Some(millis), NOW), AccountAge::Unsaid);
        assert_eq!(factor(accounts, Some(millis)), 1);
    }

    #[test]
    fn a_factor_of_one_or_no_days_turns_it_off_and_the_factor_is_bounded() {
        assert_eq!(factor(NewAccounts::new(30, 1), Some(NOW)), 1);
        assert_eq!(factor(NewAccounts::new(30, 0), Some(NOW)), 1);
        assert_eq!(factor(NewAccounts::new(0, 4), Some(NOW)), 1);
        assert_eq!(factor(NewAccounts::default(), Some(NOW)), 1);
        assert_eq!(
            factor(NewAccounts::new(30, 1_000), Some(NOW)),
            MAX_NEW_ACCOUNT_FACTOR
        );
        assert_eq!(factor(NewAccounts::new(u64::MAX, 2), Some(0)), 2);
    }
}
