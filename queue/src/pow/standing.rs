//! A fan's standing: how much more proof of work a young account pays.
//!
//! A farm spread one account per network pays the base like a fan, and a
//! tuned native solver does that work a few times cheaper than the fan
//! page (README, "Bot defence"). What such a farm cannot fake cheaply is
//! its accounts' age: when the site's identity provider says when an
//! account was made (`account_created_at` in the user token), an account
//! younger than `POW_NEW_ACCOUNT_DAYS` is asked `POW_NEW_ACCOUNT_FACTOR`
//! times the work. A token without the claim is priced as an old account
//! (the provider does not say), so a deployment whose provider sends
//! nothing sees no change.

use std::time::Duration;

/// The most a young account's work is multiplied by.
pub const MAX_NEW_ACCOUNT_FACTOR: u64 = 64;

/// Which accounts are young, and what they pay.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewAccounts {
    /// An account made less than this long ago is young.
    pub younger_than: Duration,
    /// The base is multiplied by this for a young account (1: off).
    pub factor: u64,
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

    /// The factor for an account made at `created_at` (Unix seconds, if
    /// known), at `now_s`. An account "made" in the future (a clock ahead
    /// of ours) is young.
    pub fn factor(&self, created_at: Option<u64>, now_s: u64) -> u64 {
        match created_at {
            Some(created) if now_s.saturating_sub(created) < self.younger_than.as_secs() => {
                self.factor
            }
            _ => 1,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_800_000_000;

    #[test]
    fn a_young_account_pays_the_factor_and_an_old_or_unknown_one_the_base() {
        let accounts = NewAccounts::new(30, 4);
        assert_eq!(accounts.factor(Some(NOW - DAY), NOW), 4);
        assert_eq!(accounts.factor(Some(NOW - 30 * DAY + 1), NOW), 4);
        assert_eq!(accounts.factor(Some(NOW - 30 * DAY), NOW), 1);
        assert_eq!(accounts.factor(Some(NOW - 400 * DAY), NOW), 1);
        assert_eq!(accounts.factor(None, NOW), 1);
        assert_eq!(
            accounts.factor(Some(NOW + DAY), NOW),
            4,
            "made in the future"
        );
    }

    #[test]
    fn a_factor_of_one_or_no_days_turns_it_off_and_the_factor_is_bounded() {
        assert_eq!(NewAccounts::new(30, 1).factor(Some(NOW), NOW), 1);
        assert_eq!(NewAccounts::new(30, 0).factor(Some(NOW), NOW), 1);
        assert_eq!(NewAccounts::new(0, 4).factor(Some(NOW), NOW), 1);
        assert_eq!(NewAccounts::default().factor(Some(NOW), NOW), 1);
        assert_eq!(
            NewAccounts::new(30, 1_000).factor(Some(NOW), NOW),
            MAX_NEW_ACCOUNT_FACTOR
        );
        assert_eq!(NewAccounts::new(u64::MAX, 2).factor(Some(0), NOW), 2);
    }
}
