//! Proof of work on joining, in ALTCHA's wire format (the classic SHA-256
//! scheme its widget and libraries speak): the queue hands out a challenge
//! signed with HMAC-SHA256, bound to the user and the drop and short-lived;
//! the client finds the number; verifying is one SHA-256 and one HMAC.
//!
//! A challenge: `{"algorithm": "SHA-256", "challenge", "maxnumber", "salt",
//! "signature"}` where `salt = <random hex>?drop=<drop>&user=<user tag>&
//! expires=<unix s>&max=<maxnumber>`, `challenge = hex(SHA-256(salt ||
//! decimal(number)))` for a secret number in `0..=maxnumber`, and
//! `signature = hex(HMAC-SHA256(key, challenge))`. The salt's parameters are
//! covered by the signature (through the challenge), so none can be changed.
//! A solution: base64 of `{"algorithm", "challenge", "number", "salt",
//! "signature"}`, sent as `X-Pow` (HTTP join, WebSocket upgrade) or as
//! `"pow"` in the WebSocket's first message.
//!
//! The libraries do not remember used challenges: [`ProofOfWork::spend`]
//! does, with `SET NX PX` under the drop's hash tag until the challenge
//! expires, so a solution joins once.
//!
//! Difficulty (`maxnumber`, the expected work being half of it) starts at
//! the operator's base (`POW_BASE_MAXNUMBER`) and rises with the join rate
//! of the drop and of the client's address on this node (see [`Heat`]),
//! up to 64 times the base. The fan sees none of it beyond "checking your
//! browser". A drop can be exempted (`proof_of_work: false`).

use crate::spent::spend_once;
use admission::contract::DropKeys;
use base64::Engine;
use hmac::{Hmac, Mac};
use runtime::redis::Redis;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

type HmacSha256 = Hmac<Sha256>;

/// Largest solution accepted (base64 of a small JSON object).
pub const MAX_SOLUTION_BYTES: usize = 1024;
/// The difficulty never rises above this multiple of the base.
const MAX_FACTOR: u64 = 64;

/// A challenge, as sent to the client (ALTCHA's shape).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Challenge {
    pub algorithm: String,
    pub challenge: String,
    pub maxnumber: u64,
    pub salt: String,
    pub signature: String,
}

/// A solution, as the client sends it (base64 JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Solution {
    pub algorithm: String,
    pub challenge: String,
    pub number: u64,
    pub salt: String,
    pub signature: String,
}

/// Why a solution was refused (each a 4xx; nothing changes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PowError {
    #[error(
        "joining this line needs a solved challenge (X-Pow); get one from .../queue/challenge"
    )]
    Missing,
    #[error("the challenge solution is malformed")]
    Malformed,
    #[error("the challenge was not issued by this queue")]
    Forged,
    #[error("the challenge has expired; get a new one")]
    Expired,
    #[error("the challenge was issued for another drop or user")]
    OtherDrop,
    #[error("the challenge's difficulty is not the one asked for")]
    WrongDifficulty,
    #[error("the number does not solve the challenge")]
    Unsolved,
    #[error("this challenge was used already; get a new one")]
    Reused,
}

impl PowError {
    pub fn code(self) -> &'static str {
        match self {
            Self::Missing => "pow_required",
            Self::Malformed => "pow_malformed",
            Self::Forged => "pow_forged",
            Self::Expired => "pow_expired",
            Self::OtherDrop => "pow_other_drop",
            Self::WrongDifficulty => "pow_wrong_difficulty",
            Self::Unsolved => "pow_unsolved",
            Self::Reused => "pow_reused",
        }
    }
}

/// The user as the salt names them: a short hash (ids may hold any text).
fn user_tag(user: &str) -> String {
    hex(&Sha256::digest(user.as_bytes())[..12])
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 15)]));
    }
    out
}

fn challenge_of(salt: &str, number: u64) -> String {
    let mut digest = Sha256::new();
    digest.update(salt.as_bytes());
    digest.update(number.to_string().as_bytes());
    hex(&digest.finalize())
}

/// Recent joins per drop and per address on this node, over 10 s windows.
#[derive(Default)]
pub struct Heat {
    windows: Mutex<HashMap<String, (Instant, u64)>>,
}

impl Heat {
    const WINDOW: Duration = Duration::from_secs(10);
    const MAX_KEYS: usize = 200_000;

    /// Counts one event for `key`; the count in its current window.
    pub fn bump(&self, key: String) -> u64 {
        let now = Instant::now();
        let mut windows = self.windows.lock().unwrap_or_else(|e| e.into_inner());
        if windows.len() >= Self::MAX_KEYS {
            windows.retain(|_, (start, _)| now.duration_since(*start) < Self::WINDOW);
        }
        let entry = windows.entry(key).or_insert((now, 0));
        if now.duration_since(entry.0) >= Self::WINDOW {
            *entry = (now, 0);
        }
        entry.1 += 1;
        entry.1
    }
}

/// Making and checking challenges: pure (no I/O), so verifying is measured
/// on its own.
#[derive(Clone)]
pub struct Challenger {
    key: Arc<[u8]>,
    /// `maxnumber` at rest; 0 turns proof of work off on this node.
    pub base: u64,
    ttl: Duration,
}

/// Challenges, their verification and the replay store; cheap to clone.
#[derive(Clone)]
pub struct ProofOfWork {
    pub challenger: Challenger,
    /// Joins per drop per second above which the difficulty doubles, and
    /// again for each further multiple.
    drop_knee: u64,
    /// Likewise per client address.
    address_knee: u64,
    heat: Arc<Heat>,
    redis: Redis,
    prefix: Arc<str>,
}

impl ProofOfWork {
    pub fn new(key: &[u8], base: u64, ttl: Duration, redis: Redis, prefix: &str) -> Self {
        Self {
            challenger: Challenger::new(key, base, ttl),
            drop_knee: 200,
            address_knee: 2,
            heat: Arc::default(),
            redis,
            prefix: prefix.into(),
        }
    }

    /// True when joins of a drop with `drop_wants` need a solution here.
    pub fn required(&self, drop_wants: bool) -> bool {
        self.challenger.base > 0 && drop_wants
    }

    /// The difficulty for the next challenge of `drop` asked from `ip`:
    /// the base, doubled per multiple of the knee in the drop's and the
    /// address's join rates, at most 64 times the base.
    pub fn difficulty(&self, drop: &str, ip: IpAddr) -> u64 {
        let window = Heat::WINDOW.as_secs().max(1);
        let drop_rate = self.heat.bump(format!("d:{drop}")) / window;
        let addr_rate = self
            .heat
            .bump(format!("a:{}", runtime::client_ip::network_of(ip)))
            / window;
        let steps = drop_rate / self.drop_knee + addr_rate / self.address_knee;
        let factor = 1u64
            .checked_shl(u32::try_from(steps).unwrap_or(u32::MAX).min(6))
            .unwrap_or(MAX_FACTOR)
            .min(MAX_FACTOR);
        self.challenger.base.saturating_mul(factor)
    }

    /// Marks a verified solution's challenge used (until it would have
    /// expired); `Reused` when it was used before.
    pub async fn spend(&self, drop: &str, solution: &Solution) -> Result<(), SpendError> {
        let key =
            DropKeys::new(&self.prefix, drop).key(&format!("pow:{}", &solution.challenge[..32]));
        let ttl = self.challenger.ttl + Duration::from_secs(1);
        if spend_once(&self.redis, key, ttl)
            .await
            .map_err(SpendError::Redis)?
        {
            Ok(())
        } else {
            Err(SpendError::Refused(PowError::Reused))
        }
    }
}

impl Challenger {
    pub fn new(key: &[u8], base: u64, ttl: Duration) -> Self {
        Self {
            key: key.into(),
            base,
            ttl,
        }
    }

    fn sign(&self, challenge: &str) -> String {
        let mut mac = HmacSha256::new_from_slice(&self.key).unwrap_or_else(|_| {
            // HMAC takes a key of any length; this branch is unreachable.
            HmacSha256::new_from_slice(b"-").unwrap_or_else(|_| unreachable!())
        });
        mac.update(challenge.as_bytes());
        hex(&mac.finalize().into_bytes())
    }

    /// A new challenge for `user` joining `drop`, at `maxnumber`.
    pub fn challenge(&self, drop: &str, user: &str, maxnumber: u64, now_s: u64) -> Challenge {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let nonce: [u8; 12] = rng.gen();
        let expires = now_s + self.ttl.as_secs();
        let salt = format!(
            "{}?drop={drop}&user={}&expires={expires}&max={maxnumber}",
            hex(&nonce),
            user_tag(user)
        );
        let number = rng.gen_range(0..=maxnumber);
        let challenge = challenge_of(&salt, number);
        Challenge {
            algorithm: "SHA-256".into(),
            signature: self.sign(&challenge),
            challenge,
            maxnumber,
            salt,
        }
    }

    /// Checks a solution (no Redis): signature, binding, expiry, difficulty,
    /// the work. The caller then [`ProofOfWork::spend`]s it.
    pub fn verify(
        &self,
        encoded: &str,
        drop: &str,
        user: &str,
        now_s: u64,
    ) -> Result<Solution, PowError> {
        if encoded.is_empty() {
            return Err(PowError::Missing);
        }
        if encoded.len() > MAX_SOLUTION_BYTES {
            return Err(PowError::Malformed);
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded.trim())
            .map_err(|_| PowError::Malformed)?;
        let solution: Solution = serde_json::from_slice(&bytes).map_err(|_| PowError::Malformed)?;
        if solution.algorithm != "SHA-256" || solution.challenge.len() != 64 {
            return Err(PowError::Malformed);
        }
        let mut mac = HmacSha256::new_from_slice(&self.key).map_err(|_| PowError::Forged)?;
        mac.update(solution.challenge.as_bytes());
        let signature = decode_hex(&solution.signature).ok_or(PowError::Forged)?;
        mac.verify_slice(&signature).map_err(|_| PowError::Forged)?;
        // The challenge is ours; its salt must be the one it was made from.
        if challenge_of(&solution.salt, solution.number) != solution.challenge {
            return Err(PowError::Unsolved);
        }
        let params = salt_params(&solution.salt).ok_or(PowError::Malformed)?;
        if params.drop != drop || params.user != user_tag(user) {
            return Err(PowError::OtherDrop);
        }
        if params.expires <= now_s {
            return Err(PowError::Expired);
        }
        if solution.number > params.max || params.max < self.base {
            return Err(PowError::WrongDifficulty);
        }
        Ok(solution)
    }
}

/// Why spending a solution failed.
#[derive(Debug, thiserror::Error)]
pub enum SpendError {
    #[error(transparent)]
    Refused(PowError),
    #[error(transparent)]
    Redis(redis::RedisError),
}

struct SaltParams {
    drop: String,
    user: String,
    expires: u64,
    max: u64,
}

fn salt_params(salt: &str) -> Option<SaltParams> {
    let (_, query) = salt.split_once('?')?;
    let mut params = SaltParams {
        drop: String::new(),
        user: String::new(),
        expires: 0,
        max: 0,
    };
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=')?;
        match name {
            "drop" => params.drop = value.to_string(),
            "user" => params.user = value.to_string(),
            "expires" => params.expires = value.parse().ok()?,
            "max" => params.max = value.parse().ok()?,
            _ => {}
        }
    }
    Some(params)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || text.len() > 128 {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

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

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn challenger() -> Challenger {
        Challenger::new(
            b"test-pow-key-0123456789abcdef0123",
            1_000,
            Duration::from_secs(60),
        )
    }

    #[test]
    fn the_tuned_solver_finds_what_the_plain_one_does() {
        // Base 0: the easy challenges below verify too.
        let pow = Challenger::new(
            b"test-pow-key-0123456789abcdef0123",
            0,
            Duration::from_secs(60),
        );
        for max in [0, 9, 10, 99, 1_000, 20_000] {
            let challenge = pow.challenge("a-drop-with-a-rather-long-name", "bob", max, 1);
            let plain = solve(&challenge).unwrap();
            let tuned = solve_fast(&challenge).unwrap();
            assert_eq!(tuned.number, plain.number);
            assert!(pow
                .verify(&encode(&tuned), "a-drop-with-a-rather-long-name", "bob", 1)
                .is_ok());
        }
    }

    #[test]
    fn salt_params_parse() {
        let p = salt_params("ab?drop=d&user=u&expires=9&max=5").unwrap();
        assert_eq!(
            (p.drop.as_str(), p.user.as_str(), p.expires, p.max),
            ("d", "u", 9, 5)
        );
        assert!(salt_params("no-query").is_none());
        assert!(salt_params("x?expires=soon").is_none());
    }

    #[test]
    fn a_solved_challenge_verifies_and_every_bad_one_is_named() {
        let pow = challenger();
        let now = 1_000_000;
        let challenge = pow.challenge("d1", "alice", 1_000, now);
        let solution = solve(&challenge).unwrap();
        let good = encode(&solution);
        assert!(pow.verify(&good, "d1", "alice", now).is_ok());
        assert_eq!(
            pow.verify("", "d1", "alice", now).unwrap_err(),
            PowError::Missing
        );
        assert_eq!(
            pow.verify("!!", "d1", "alice", now).unwrap_err(),
            PowError::Malformed
        );
        assert_eq!(
            pow.verify(&good, "d2", "alice", now).unwrap_err(),
            PowError::OtherDrop
        );
        assert_eq!(
            pow.verify(&good, "d1", "bob", now).unwrap_err(),
            PowError::OtherDrop
        );
        assert_eq!(
            pow.verify(&good, "d1", "alice", now + 61).unwrap_err(),
            PowError::Expired
        );
        let mut wrong = solution.clone();
        wrong.number = (wrong.number + 1) % 1_001;
        assert_eq!(
            pow.verify(&encode(&wrong), "d1", "alice", now).unwrap_err(),
            PowError::Unsolved
        );
        // A challenge signed with another key, or one made easier.
        let other = Challenger::new(
            b"another-key-0123456789abcdef01234",
            1_000,
            Duration::from_secs(60),
        );
        let forged = solve(&other.challenge("d1", "alice", 1_000, now)).unwrap();
        assert_eq!(
            pow.verify(&encode(&forged), "d1", "alice", now)
                .unwrap_err(),
            PowError::Forged
        );
        let easy = solve(&pow.challenge("d1", "alice", 10, now)).unwrap();
        assert_eq!(
            pow.verify(&encode(&easy), "d1", "alice", now).unwrap_err(),
            PowError::WrongDifficulty
        );
    }

    /// Verification cost, printed (`cargo test -p queue --release --lib pow
    /// -- --nocapture`); bounded loosely here so a slow debug build passes.
    #[test]
    fn verifying_takes_microseconds() {
        let pow = challenger();
        let solution = encode(&solve(&pow.challenge("d1", "alice", 1_000, 1)).unwrap());
        let n = 20_000;
        let started = Instant::now();
        for _ in 0..n {
            assert!(pow.verify(&solution, "d1", "alice", 1).is_ok());
        }
        let each = started.elapsed() / n;
        println!("pow verify: {each:?} each ({n} runs)");
        // What a native solver pays: hashes per second on one core.
        let hard = pow.challenge("d1", "alice", 300_000, 1);
        let started = Instant::now();
        let found = solve(&hard).unwrap();
        let rate = (found.number + 1) as f64 / started.elapsed().as_secs_f64();
        println!("pow native solve: {:.2} MH/s", rate / 1e6);
        let started = Instant::now();
        let tuned = solve_fast(&hard).unwrap();
        let rate = (tuned.number + 1) as f64 / started.elapsed().as_secs_f64();
        println!("pow native solve, tuned (midstate): {:.2} MH/s", rate / 1e6);
        assert_eq!(tuned.number, found.number);
        assert!(each < Duration::from_millis(1));
    }
}
