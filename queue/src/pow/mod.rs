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
//! the operator's base (`POW_BASE_MAXNUMBER`) and rises with the rate of
//! challenges asked for the drop and from the client's network, counted
//! across every queue node (see `heat`: counted here at once, shared
//! through Redis about once a second by a background task, so a node sees
//! the others' with about a second's lag), up to 64 times the base; the
//! knees are `POW_DROP_KNEE` and `POW_NETWORK_KNEE`; a young account pays
//! `POW_NEW_ACCOUNT_FACTOR` times that (see `account_age`; so at most 64
//! times that factor in all). The fan sees none of
//! it beyond "checking your browser". A drop can be exempted
//! (`proof_of_work: false`).
//!
//! The operator may instead ask a drop's fans for the memory-hard function
//! (`pow_algorithm: "ARGON2ID"`, ALTCHA PoW v2, see `memory`): a solution
//! of the other function is refused (`pow_wrong_algorithm`).
//!
//! Inside: `solve` (the client's side: solving, encoding), `memory` (the
//! Argon2id challenges), `heat` (the join rates, shared across nodes),
//! `account_age` (what a young account pays), `tests`.

use crate::spent::spend_once;
use admission::contract::{DropKeys, PowAlgorithm};
use base64::Engine;
use heat::{Heat, Subject};
use hmac::{Hmac, Mac};
use runtime::redis::Redis;
use runtime::shutdown::CancellationToken;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

mod account_age;
pub mod heat;
mod memory;
mod solve;
#[cfg(test)]
mod tests;

pub use account_age::{AccountAge, NewAccounts, MAX_NEW_ACCOUNT_FACTOR};
pub use memory::{
    encode_hard, solve_hard, Argon2Cost, Binding, Deriver, Found, HardChallenge, HardSolution,
    Parameters, ARGON2ID,
};
pub use solve::{encode, solve, solve_fast};

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed once: each signature clones the keyed state instead
/// of hashing the key's pads again.
#[derive(Clone)]
pub(crate) struct Keyed(HmacSha256);

impl Keyed {
    pub(crate) fn new(key: &[u8]) -> Self {
        Self(HmacSha256::new_from_slice(key).unwrap_or_else(|_| {
            // HMAC takes a key of any length; this branch is unreachable.
            HmacSha256::new_from_slice(b"-").unwrap_or_else(|_| unreachable!())
        }))
    }

    /// The MAC of `message`, to finalize or verify.
    pub(crate) fn mac(&self, message: &[u8]) -> HmacSha256 {
        let mut mac = self.0.clone();
        mac.update(message);
        mac
    }
}

/// Largest solution accepted (base64 of a small JSON object; a
/// memory-hard one is about 900 bytes).
pub const MAX_SOLUTION_BYTES: usize = 2048;
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
    #[error("this drop asks for another proof-of-work function; get a new challenge")]
    WrongAlgorithm,
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
            Self::WrongAlgorithm => "pow_wrong_algorithm",
        }
    }
}

/// The user as the salt names them: a short hash (ids may hold any text).
fn user_tag(user: &str) -> String {
    hex::encode(&Sha256::digest(user.as_bytes())[..12])
}

fn challenge_of(salt: &str, number: u64) -> String {
    let mut digest = Sha256::new();
    digest.update(salt.as_bytes());
    digest.update(number.to_string().as_bytes());
    hex::encode(digest.finalize())
}

/// Making and checking challenges: pure (no I/O), so verifying is measured
/// on its own.
#[derive(Clone)]
pub struct Challenger {
    /// Signs challenges with the proof-of-work key.
    signer: Keyed,
    /// `maxnumber` at rest; 0 turns proof of work off on this node.
    pub base: u64,
    ttl: Duration,
    /// The memory-hard function's cost and key-signing key.
    hard: memory::Hard,
}

/// Challenges, their verification and the replay store; cheap to clone.
#[derive(Clone)]
pub struct ProofOfWork {
    pub challenger: Challenger,
    /// Challenges asked per drop per second (on all nodes) at which the
    /// difficulty doubles, and again at each further multiple.
    drop_knee: u64,
    /// Likewise per client network (/24 or /64).
    network_knee: u64,
    /// What a young account pays.
    new_accounts: NewAccounts,
    heat: Arc<Heat>,
    redis: Redis,
    prefix: Arc<str>,
}

impl ProofOfWork {
    pub fn new(key: &[u8], base: u64, ttl: Duration, redis: Redis, prefix: &str) -> Self {
        Self {
            challenger: Challenger::new(key, base, ttl),
            drop_knee: 200,
            network_knee: 2,
            new_accounts: NewAccounts::default(),
            heat: Arc::default(),
            redis,
            prefix: prefix.into(),
        }
    }

    /// The same, with the memory-hard function's cost.
    pub fn with_argon2(mut self, cost: Argon2Cost) -> Self {
        self.challenger = self.challenger.with_argon2(cost);
        self
    }

    /// The same, with other knees (challenges a second per drop and per
    /// network at which the difficulty doubles: `POW_DROP_KNEE`,
    /// `POW_NETWORK_KNEE`).
    pub fn with_knees(mut self, drop_knee: u64, network_knee: u64) -> Self {
        self.drop_knee = drop_knee.max(1);
        self.network_knee = network_knee.max(1);
        self
    }

    /// The same, asking young accounts for more work
    /// (`POW_NEW_ACCOUNT_DAYS`, `POW_NEW_ACCOUNT_FACTOR`).
    pub fn with_new_accounts(mut self, new_accounts: NewAccounts) -> Self {
        self.new_accounts = new_accounts;
        self
    }

    /// How old an account made at `created_at` (the user token's
    /// `account_created_at`) is at `now_s`, and what the difficulty is
    /// multiplied by for it.
    pub fn account_factor(&self, created_at: Option<u64>, now_s: u64) -> (AccountAge, u64) {
        let age = self.new_accounts.age(created_at, now_s);
        (age, self.new_accounts.factor(age))
    }

    /// The join rates this node reads (counted here, shared by
    /// [`Self::share_heat`]).
    pub fn heat(&self) -> &Heat {
        &self.heat
    }

    /// Adds this node's counts since the last share to every node's in
    /// Redis and reads their totals back (one pipeline); see `heat`.
    pub async fn share_heat(&self) -> redis::RedisResult<()> {
        self.heat.share(&self.redis, &self.prefix).await
    }

    /// The background task sharing the counts every `every` until `stop`.
    pub fn sharing_heat(
        &self,
        every: Duration,
        stop: CancellationToken,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        heat::run(
            self.heat.clone(),
            self.redis.clone(),
            self.prefix.clone(),
            every,
            stop,
        )
    }

    /// True when joins of a drop with `drop_wants` need a solution here.
    pub fn required(&self, drop_wants: bool) -> bool {
        self.challenger.base > 0 && drop_wants
    }

    /// The difficulty for the next challenge of `drop` asked from `ip`:
    /// the base, doubled per multiple of the knee in the drop's and the
    /// network's rates of challenges asked (every node's, see `heat`), at
    /// most 64 times the base. No I/O.
    pub async fn difficulty(&self, drop: &str, ip: IpAddr) -> u64 {
        self.challenger
            .base
            .saturating_mul(self.heat_factor(drop, ip).await)
    }

    /// As [`Self::difficulty`] for the memory-hard function: the largest
    /// secret counter.
    pub async fn hard_difficulty(&self, drop: &str, ip: IpAddr) -> u64 {
        self.challenger
            .hard
            .cost
            .base_max
            .saturating_mul(self.heat_factor(drop, ip).await)
    }

    /// Counts a challenge asked for and gives the factor the base is
    /// multiplied by: 2 per multiple of the knees, at most 64. A warm
    /// network's challenge is shared at once (one Redis pipeline; see
    /// [`heat`]); every other one is counted in memory only.
    async fn heat_factor(&self, drop: &str, ip: IpAddr) -> u64 {
        let drop_rate = self.heat.count(Subject::Drop(drop.to_string()));
        let network = Subject::network_of(ip);
        let network_rate = if self.heat.is_warm(&network) {
            self.heat
                .count_shared(&self.redis, &self.prefix, network)
                .await
        } else {
            self.heat.count(network)
        };
        let steps = drop_rate / self.drop_knee + network_rate / self.network_knee;
        1u64.checked_shl(u32::try_from(steps).unwrap_or(u32::MAX).min(6))
            .unwrap_or(MAX_FACTOR)
            .min(MAX_FACTOR)
    }

    /// Marks a verified solution's challenge used (until it would have
    /// expired), by the id [`Challenger::verify_for`] returned; `Reused`
    /// when it was used before.
    pub async fn spend(&self, drop: &str, id: &str) -> Result<(), SpendError> {
        let key = DropKeys::new(&self.prefix, drop).key(&format!("pow:{id}"));
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
        let signer = Keyed::new(key);
        Self {
            hard: memory::Hard::new(&signer, Argon2Cost::default()),
            signer,
            base,
            ttl,
        }
    }

    /// The same, with the memory-hard function's cost.
    pub fn with_argon2(mut self, cost: Argon2Cost) -> Self {
        self.hard = memory::Hard::new(&self.signer, cost);
        self
    }

    /// The memory-hard function's cost.
    pub fn argon2(&self) -> Argon2Cost {
        self.hard.cost
    }

    /// A new memory-hard challenge for `user` joining `drop`, its secret
    /// counter at most `max`: one Argon2id derivation (run it off the
    /// async threads). `None` when the cost cannot derive (checked at
    /// start).
    pub fn hard_challenge(
        &self,
        drop: &str,
        user: &str,
        max: u64,
        now_s: u64,
    ) -> Option<HardChallenge> {
        let binding = Binding {
            drop: drop.to_string(),
            max,
            user: user_tag(user),
        };
        self.hard
            .challenge(&self.signer, binding, now_s + self.ttl.as_secs())
    }

    /// Checks a solution of the function `algorithm` (the drop's): the
    /// id to spend when good. A solution of the other function is
    /// `WrongAlgorithm`.
    pub fn verify_for(
        &self,
        encoded: &str,
        drop: &str,
        user: &str,
        now_s: u64,
        algorithm: PowAlgorithm,
    ) -> Result<String, PowError> {
        if algorithm != PowAlgorithm::Argon2id {
            return match self.verify(encoded, drop, user, now_s) {
                Ok(solution) => Ok(solution.challenge[..32].to_string()),
                Err(PowError::Malformed) if decode(encoded).is_ok_and(|b| is_hard(&b)) => {
                    Err(PowError::WrongAlgorithm)
                }
                Err(why) => Err(why),
            };
        }
        let bytes = decode(encoded)?;
        match serde_json::from_slice::<HardSolution>(&bytes) {
            Ok(solution) => self.hard.verify(&self.signer, &solution, drop, user, now_s),
            Err(_) if serde_json::from_slice::<Solution>(&bytes).is_ok() => {
                Err(PowError::WrongAlgorithm)
            }
            Err(_) => Err(PowError::Malformed),
        }
    }

    fn sign(&self, challenge: &str) -> String {
        hex::encode(
            self.signer
                .mac(challenge.as_bytes())
                .finalize()
                .into_bytes(),
        )
    }

    /// A new challenge for `user` joining `drop`, at `maxnumber`.
    pub fn challenge(&self, drop: &str, user: &str, maxnumber: u64, now_s: u64) -> Challenge {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let nonce: [u8; 12] = rng.gen();
        let expires = now_s + self.ttl.as_secs();
        let salt = format!(
            "{}?drop={drop}&user={}&expires={expires}&max={maxnumber}",
            hex::encode(nonce),
            user_tag(user)
        );
        let number = rng.gen_range(0..=maxnumber);
        let challenge = challenge_of(&salt, number);
        Challenge {
            algorithm: PowAlgorithm::Sha256.as_str().into(),
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
        let bytes = decode(encoded)?;
        let solution: Solution = serde_json::from_slice(&bytes).map_err(|_| PowError::Malformed)?;
        if solution.algorithm != PowAlgorithm::Sha256.as_str() || solution.challenge.len() != 64 {
            return Err(PowError::Malformed);
        }
        let signature = decode_hex(&solution.signature).ok_or(PowError::Forged)?;
        self.signer
            .mac(solution.challenge.as_bytes())
            .verify_slice(&signature)
            .map_err(|_| PowError::Forged)?;
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

/// The JSON a solution carries (`Missing` when there is none).
fn decode(encoded: &str) -> Result<Vec<u8>, PowError> {
    if encoded.is_empty() {
        return Err(PowError::Missing);
    }
    if encoded.len() > MAX_SOLUTION_BYTES {
        return Err(PowError::Malformed);
    }
    base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| PowError::Malformed)
}

/// True when the JSON is a memory-hard solution.
fn is_hard(bytes: &[u8]) -> bool {
    serde_json::from_slice::<HardSolution>(bytes).is_ok()
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

/// Hex of at most 64 bytes (a digest is 32).
fn decode_hex(text: &str) -> Option<Vec<u8>> {
    (text.len() <= 128)
        .then(|| hex::decode(text).ok())
        .flatten()
}
