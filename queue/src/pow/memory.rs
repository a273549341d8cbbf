//! The memory-hard proof of work: ALTCHA PoW v2's Argon2id in its
//! deterministic effort mode, chosen per drop by the operator
//! (`pow_algorithm: "ARGON2ID"`).
//!
//! A challenge: `{"parameters": {"algorithm": "ARGON2ID", "cost",
//! "data": {"drop", "max", "user"}, "expiresAt", "keyLength", "keyPrefix",
//! "keySignature", "memoryCost", "nonce", "parallelism", "salt"},
//! "signature"}`. The queue picks a secret `counter` in `max/2..=max`,
//! derives `key = Argon2id(password = nonce || counter as u32 big-endian,
//! salt, t = cost, m = memoryCost KiB, p = parallelism)`, publishes the
//! first 8 bytes as `keyPrefix` and `keySignature = HMAC(key-signing key,
//! key)`, and signs the parameters (canonical JSON: keys sorted, no spaces;
//! the struct's fields are declared in that order) with HMAC-SHA256.
//! The client derives keys for counters 0, 1, ... until one starts with
//! the prefix, and sends base64 of `{"challenge": {...}, "solution":
//! {"counter", "derivedKey"}}`.
//!
//! What it costs: issuing a challenge is one Argon2id derivation (the
//! server's only memory-hard work, run off the async threads); verifying is
//! two HMACs (the parameters' signature and the key's), no derivation; a
//! fan derives `0.75 max` keys on average. The figures are in README
//! ("Bot defence").

use super::{decode_hex, user_tag, Keyed, PowError};
use admission::contract::PowAlgorithm;
use argon2::{Algorithm, Argon2, Block, Params, Version};
use base64::Engine;
use hmac::Mac;
use serde::{Deserialize, Serialize};

/// The algorithm's name, as in ALTCHA PoW v2 and in `drop_access`.
pub const ARGON2ID: &str = PowAlgorithm::Argon2id.as_str();
/// Bytes of a derived key.
const KEY_LENGTH: u32 = 32;
/// Bytes of the key published as its prefix (16 hex digits: a false match
/// among a few hundred counters has odds of 1 in 10^16).
const PREFIX_BYTES: usize = 8;

/// Argon2id's cost, set per deployment (`POW_ARGON2_*`); parallelism is 1
/// (a browser's solver is single-threaded, so more lanes would not speed
/// a fan up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Cost {
    /// Passes over the memory (`t`).
    pub iterations: u32,
    /// Memory per derivation, KiB (`m`).
    pub memory_kib: u32,
    /// Largest secret counter at rest (a fan derives `0.75 max` keys on
    /// average); it rises with the join rate as the SHA-256 one does.
    pub base_max: u64,
}

impl Default for Argon2Cost {
    fn default() -> Self {
        Self {
            iterations: 1,
            memory_kib: 8 * 1024,
            base_max: 8,
        }
    }
}

impl Argon2Cost {
    fn params(&self) -> Option<Params> {
        Params::new(
            self.memory_kib,
            self.iterations,
            1,
            Some(KEY_LENGTH as usize),
        )
        .ok()
    }

    /// Why these settings cannot derive keys, if they cannot.
    pub fn check(&self) -> Result<(), String> {
        match self.params() {
            Some(_) if self.base_max >= 1 && self.base_max <= u64::from(u32::MAX) => Ok(()),
            Some(_) => Err("the Argon2id counter's maximum must be 1 .. 2^32-1".into()),
            None => Err("Argon2id needs memory ≥ 8 KiB and at least one iteration".into()),
        }
    }
}

/// What binds a challenge to one join (ALTCHA's `data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    pub drop: String,
    pub max: u64,
    pub user: String,
}

/// A challenge's parameters; fields in the order of canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Parameters {
    pub algorithm: String,
    pub cost: u32,
    pub data: Binding,
    pub expires_at: u64,
    pub key_length: u32,
    pub key_prefix: String,
    pub key_signature: String,
    pub memory_cost: u32,
    pub nonce: String,
    pub parallelism: u32,
    pub salt: String,
}

/// A memory-hard challenge, as sent to the client (which may add fields
/// around it, e.g. the queue's `"required"`; the parameters take none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HardChallenge {
    pub parameters: Parameters,
    pub signature: String,
}

/// What the client found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Found {
    pub counter: u32,
    pub derived_key: String,
}

/// A solution, as the client sends it (base64 JSON).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HardSolution {
    pub challenge: HardChallenge,
    pub solution: Found,
}

/// The password of a try: the nonce's bytes, then the counter (u32 BE).
fn password(nonce: &[u8], counter: u32) -> Vec<u8> {
    let mut password = Vec::with_capacity(nonce.len() + 4);
    password.extend_from_slice(nonce);
    password.extend_from_slice(&counter.to_be_bytes());
    password
}

/// Derives keys for one challenge's salt and cost, reusing its memory.
pub struct Deriver {
    argon2: Argon2<'static>,
    blocks: Vec<Block>,
}

impl Deriver {
    pub fn new(iterations: u32, memory_kib: u32) -> Option<Self> {
        let params = Params::new(memory_kib, iterations, 1, Some(KEY_LENGTH as usize)).ok()?;
        let blocks = vec![Block::default(); params.block_count()];
        Some(Self {
            argon2: Argon2::new(Algorithm::Argon2id, Version::V0x13, params),
            blocks,
        })
    }

    pub fn derive(&mut self, nonce: &[u8], salt: &[u8], counter: u32) -> Option<[u8; 32]> {
        let mut key = [0u8; KEY_LENGTH as usize];
        self.argon2
            .hash_password_into_with_memory(
                &password(nonce, counter),
                salt,
                &mut key,
                &mut self.blocks,
            )
            .ok()?;
        Some(key)
    }
}

fn canonical(parameters: &Parameters) -> Vec<u8> {
    serde_json::to_vec(parameters).unwrap_or_default()
}

/// The signing side: what the `Challenger` holds for this function.
#[derive(Clone)]
pub(super) struct Hard {
    pub cost: Argon2Cost,
    /// Signs derived keys (ALTCHA's `hmacKeySignatureSecret`, derived
    /// from the challenge key so one secret is configured).
    key_signer: Keyed,
}

impl Hard {
    /// Its key-signing key derived with `signer` (the challenges' key).
    pub fn new(signer: &Keyed, cost: Argon2Cost) -> Self {
        let key_signing = signer.mac(b"altcha-key-signature").finalize().into_bytes();
        Self {
            cost,
            key_signer: Keyed::new(&key_signing),
        }
    }

    /// A new challenge; `None` only when the cost cannot derive (checked
    /// at start).
    pub fn challenge(
        &self,
        signer: &Keyed,
        binding: Binding,
        expires_at: u64,
    ) -> Option<HardChallenge> {
        use rand::Rng;
        let mut rng = rand::thread_rng();
        let nonce: [u8; 16] = rng.gen();
        let salt: [u8; 16] = rng.gen();
        let max = binding.max.clamp(1, u64::from(u32::MAX));
        let counter = u32::try_from(rng.gen_range(max / 2..=max)).unwrap_or(u32::MAX);
        let derived = Deriver::new(self.cost.iterations, self.cost.memory_kib)?
            .derive(&nonce, &salt, counter)?;
        let parameters = Parameters {
            algorithm: ARGON2ID.into(),
            cost: self.cost.iterations,
            data: binding,
            expires_at,
            key_length: KEY_LENGTH,
            key_prefix: hex::encode(&derived[..PREFIX_BYTES]),
            key_signature: hex::encode(self.key_signer.mac(&derived).finalize().into_bytes()),
            memory_cost: self.cost.memory_kib,
            nonce: hex::encode(nonce),
            parallelism: 1,
            salt: hex::encode(salt),
        };
        let signature = hex::encode(signer.mac(&canonical(&parameters)).finalize().into_bytes());
        Some(HardChallenge {
            parameters,
            signature,
        })
    }

    /// Checks a decoded solution (no Redis, no derivation): the
    /// parameters' signature, the binding, expiry, the cost, the key's
    /// signature. The nonce (what is spent) when good.
    pub fn verify(
        &self,
        signer: &Keyed,
        solution: &HardSolution,
        drop: &str,
        user: &str,
        now_s: u64,
    ) -> Result<String, PowError> {
        let p = &solution.challenge.parameters;
        if p.algorithm != ARGON2ID || p.nonce.len() != 32 {
            return Err(PowError::Malformed);
        }
        let signature = decode_hex(&solution.challenge.signature).ok_or(PowError::Forged)?;
        signer
            .mac(&canonical(p))
            .verify_slice(&signature)
            .map_err(|_| PowError::Forged)?;
        if p.data.drop != drop || p.data.user != user_tag(user) {
            return Err(PowError::OtherDrop);
        }
        if p.expires_at <= now_s {
            return Err(PowError::Expired);
        }
        if p.cost != self.cost.iterations
            || p.memory_cost != self.cost.memory_kib
            || p.parallelism != 1
            || p.key_length != KEY_LENGTH
            || p.data.max < self.cost.base_max
        {
            return Err(PowError::WrongDifficulty);
        }
        let derived = decode_hex(&solution.solution.derived_key)
            .filter(|k| k.len() == KEY_LENGTH as usize)
            .ok_or(PowError::Unsolved)?;
        let key_signature = decode_hex(&p.key_signature).ok_or(PowError::Forged)?;
        self.key_signer
            .mac(&derived)
            .verify_slice(&key_signature)
            .map_err(|_| PowError::Unsolved)?;
        Ok(p.nonce.clone())
    }
}

/// Solves a memory-hard challenge as a native solver does (tests, the
/// load generator's fans and bots): counters from 0, one block of memory
/// reused for every try. The solution, and how many keys it derived.
pub fn solve_hard(challenge: &HardChallenge) -> Option<(HardSolution, u32)> {
    let p = &challenge.parameters;
    let nonce = decode_hex(&p.nonce)?;
    let salt = decode_hex(&p.salt)?;
    let prefix = decode_hex(&p.key_prefix)?;
    let mut deriver = Deriver::new(p.cost, p.memory_cost)?;
    let top = u32::try_from(p.data.max).unwrap_or(u32::MAX);
    (0..=top).find_map(|counter| {
        let key = deriver.derive(&nonce, &salt, counter)?;
        key.starts_with(&prefix).then(|| {
            (
                HardSolution {
                    challenge: challenge.clone(),
                    solution: Found {
                        counter,
                        derived_key: hex::encode(key),
                    },
                },
                counter.saturating_add(1),
            )
        })
    })
}

/// A memory-hard solution as the client sends it (base64 JSON).
pub fn encode_hard(solution: &HardSolution) -> String {
    base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(solution).unwrap_or_default())
}
