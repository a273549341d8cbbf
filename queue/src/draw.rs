//! The pre-queue draw: at opening, everyone who joined before `opens_at` is
//! placed in random order, and anyone can check it afterwards.
//!
//! The order is the users sorted by [`draw_score`]: the first 52 bits of
//! HMAC-SHA256(seed, user id) read as a big-endian integer, ties broken by
//! user id. The seed is secret until the drop opens (its SHA-256 is public
//! from creation, so it cannot be chosen afterwards); then
//! `GET /api/drops/{id}/draw` reveals it. Joining early or twice gives no
//! advantage: the score depends only on the seed and the user id.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Scores below this are pre-queue places; arrivals after opening get
/// `AFTER_OPENING + n`, so they all come after the pre-queue.
pub const AFTER_OPENING: u64 = 1 << 52;

/// A user's place in the pre-queue draw (lower goes first).
pub fn draw_score(seed: &str, user: &str) -> u64 {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(seed.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(user.as_bytes());
    let tag = mac.finalize().into_bytes();
    let mut first = [0u8; 8];
    first.copy_from_slice(&tag[..8]);
    u64::from_be_bytes(first) >> 12
}

/// The draw order of `users` under `seed`: what anyone can recompute.
pub fn draw_order(seed: &str, users: &[String]) -> Vec<String> {
    let mut scored: Vec<(u64, &String)> = users.iter().map(|u| (draw_score(seed, u), u)).collect();
    scored.sort();
    scored.into_iter().map(|(_, u)| u.clone()).collect()
}

/// The published commitment to a seed.
pub fn seed_hash(seed: &str) -> String {
    hex::encode(Sha256::digest(seed.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_fit_below_the_after_opening_range() {
        for user in ["a", "b", "someone-else", ""] {
            assert!(draw_score("seed", user) < AFTER_OPENING);
        }
    }

    #[test]
    fn the_order_depends_on_the_seed_only() {
        let users: Vec<String> = (0..50).map(|i| format!("u{i}")).collect();
        let mut shuffled = users.clone();
        shuffled.reverse();
        assert_eq!(draw_order("s1", &users), draw_order("s1", &shuffled));
        assert_ne!(draw_order("s1", &users), draw_order("s2", &users));
        assert_ne!(draw_order("s1", &users), users, "not join order");
    }
}
