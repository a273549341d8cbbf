//! The client's side of a challenge: solving it by brute force (plain, and
//! tuned the way a bot would) and encoding the solution. Used by tests, the
//! load generator's fans and bots; the service itself only verifies.

use super::{challenge_of, decode_hex, Challenge, Solution};
use base64::Engine;
use sha2::{Digest, Sha256};

/// Solves a challenge by brute force (tests, the load generator's honest
/// solvers): the number, and how many hashes it took.
pub fn solve(challenge: &Challenge) -> Option<Solution> {
    (0..=challenge.maxnumber)
        .find(|n| challenge_of(&challenge.salt, *n) == challenge.challenge)
        .map(|number| Solution {
            algorithm: challenge.algorithm.clone(),
            challenge: challenge.challenge.clone(),
            number,
            salt: challenge.salt.clone(),
            signature: challenge.signature.clone(),
        })
}

/// Solves a challenge as a tuned native solver does (what a bot farm
/// runs, and the load generator's solvers): the salt is hashed once (its
/// whole blocks compressed, the SHA-256 state kept), each try clones that
/// state and hashes only the number's digits, written without a string,
/// and compares bytes, not hex. With SHA-NI (`sha2` uses it when the CPU
/// has it) several times faster than [`solve`]; the figures are in README
/// ("Bot defence").
pub fn solve_fast(challenge: &Challenge) -> Option<Solution> {
    let target = decode_hex(&challenge.challenge)?;
    let salted = Sha256::new_with_prefix(challenge.salt.as_bytes());
    let mut digits = [0u8; 20];
    let number = (0..=challenge.maxnumber).find(|n| {
        let mut at = digits.len();
        let mut rest = *n;
        loop {
            at -= 1;
            digits[at] = b'0' + (rest % 10) as u8;
            rest /= 10;
            if rest == 0 {
                break;
            }
        }
        let mut digest = salted.clone();
        digest.update(&digits[at..]);
        digest.finalize()[..] == target[..]
    })?;
    Some(Solution {
        algorithm: challenge.algorithm.clone(),
        challenge: challenge.challenge.clone(),
        number,
        salt: challenge.salt.clone(),
        signature: challenge.signature.clone(),
    })
}

/// A solution as the client sends it (base64 JSON).
pub fn encode(solution: &Solution) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(solution).unwrap_or_default())
}
