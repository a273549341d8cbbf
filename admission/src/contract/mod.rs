//! The contract between `queue` and `sale`: everything one service writes
//! and the other reads, named once.
//!
//! - [`DropState`]: the state an operator sets on a drop (open, paused,
//!   closed), as PostgreSQL and Redis store it and both services read it.
//! - [`keys`]: the Redis keys both services touch (the drop's gate hash, the
//!   line, the shopping set, the pump's progress); each service names its
//!   own private keys on top of them.
//! - [`drops_changed_channel`]: where the sale announces a new or changed
//!   drop so every queue node reloads it at once.
//! - [`PowAlgorithm`]: the proof-of-work function an operator picks for a
//!   drop's joins, as the sale stores it and the queue asks for it.
//! - [`ContractSettings`]: the admission token lifetime, which the queue
//!   signs tokens for and the sale counts active shoppers by.
//!
//! Changing anything here changes both services: deploy them together.

pub mod keys;

pub use keys::{access_code_hash, DropKeys};

use serde::{Deserialize, Serialize};

/// The proof-of-work function an operator picks for a drop's joins, named
/// as `drop_access.pow_algorithm` stores it and ALTCHA names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[sqlx(type_name = "text")]
pub enum PowAlgorithm {
    /// Classic ALTCHA: SHA-256 with a difficulty.
    #[default]
    #[serde(rename = "SHA-256")]
    #[sqlx(rename = "SHA-256")]
    Sha256,
    /// ALTCHA PoW v2's memory-hard Argon2id.
    #[serde(rename = "ARGON2ID")]
    #[sqlx(rename = "ARGON2ID")]
    Argon2id,
}

impl PowAlgorithm {
    /// As stored and as ALTCHA names it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA-256",
            Self::Argon2id => "ARGON2ID",
        }
    }

    /// The function of this name; `None` for any other.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Sha256, Self::Argon2id]
            .into_iter()
            .find(|a| a.as_str() == name)
    }
}

/// The state an operator sets on a drop. `closed` is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, sqlx::Type)]
#[serde(rename_all = "snake_case")]
#[sqlx(type_name = "text", rename_all = "snake_case")]
pub enum DropState {
    /// Selling (once `opens_at` has passed).
    Open,
    /// Admission and orders held until resumed; places are kept.
    Paused,
    /// Nothing more is sold; the line is freed.
    Closed,
}

impl DropState {
    /// As stored in PostgreSQL's `drops.state` and Redis's drop hash.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Paused => "paused",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "open" => Some(Self::Open),
            "paused" => Some(Self::Paused),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

impl std::fmt::Display for DropState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The Redis pub/sub channel on which the sale announces a drop it created
/// or changed (the message is the drop id).
pub fn drops_changed_channel(prefix: &str) -> String {
    format!("{prefix}:drops:changed")
}

/// The Redis pub/sub channel on which the sale announces a user revoked in
/// a drop (the message is JSON `{"drop", "user"}`): queue nodes close that
/// user's open WebSockets in that drop at once.
pub fn users_revoked_channel(prefix: &str) -> String {
    format!("{prefix}:users:revoked")
}

/// How long an admission token is valid by default, seconds.
pub const ADMISSION_TTL_SECS: u64 = 600;

/// Settings both services must agree on, flattened into each binary's
/// arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct ContractSettings {
    /// How long an admission token is valid, seconds: the queue signs tokens
    /// for this long (and re-admits from the back of the line after), the
    /// sale counts an admitted fan as an active shopper for this long.
    #[arg(long, env = "ADMISSION_TTL_SECS", default_value_t = ADMISSION_TTL_SECS)]
    pub admission_ttl_secs: u64,

    /// A secret (32 bytes or more) the queue and the sale share: the queue
    /// puts an HMAC of each admission token's claims in its header, the sale
    /// checks it instead of the Ed25519 signature (microseconds instead of
    /// tens). Unset: the sale verifies signatures. Keep it as secret as the
    /// signing key.
    #[arg(long, env = "ADMISSION_MAC_KEY", hide_env_values = true)]
    pub admission_mac_key: Option<String>,
}

impl Default for ContractSettings {
    fn default() -> Self {
        Self {
            admission_ttl_secs: ADMISSION_TTL_SECS,
            admission_mac_key: None,
        }
    }
}

impl ContractSettings {
    pub fn admission_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(self.admission_ttl_secs)
    }

    /// The MAC key, when one is set (too short: an error).
    pub fn mac_key(&self) -> anyhow::Result<Option<crate::token::MacKey>> {
        self.admission_mac_key
            .as_deref()
            .map(crate::token::MacKey::new)
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn states_round_trip_as_text() {
        for state in [DropState::Open, DropState::Paused, DropState::Closed] {
            assert_eq!(DropState::parse(state.as_str()), Some(state));
            assert_eq!(
                serde_json::to_value(state).expect("json"),
                serde_json::Value::String(state.as_str().into())
            );
        }
        assert_eq!(DropState::parse("sold_out"), None);
    }

    #[test]
    fn proof_of_work_functions_round_trip_as_text() {
        for algorithm in [PowAlgorithm::Sha256, PowAlgorithm::Argon2id] {
            assert_eq!(PowAlgorithm::parse(algorithm.as_str()), Some(algorithm));
            assert_eq!(
                serde_json::to_value(algorithm).expect("json"),
                serde_json::Value::String(algorithm.as_str().into())
            );
        }
        assert_eq!(PowAlgorithm::parse("argon2id"), None);
        assert_eq!(PowAlgorithm::default(), PowAlgorithm::Sha256);
    }
}
