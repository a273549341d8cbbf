//! Admission tokens minted by the load generator itself, with the signing
//! key the sale service trusts, so an order-path run measures the sale
//! service and not the queue. Tokens are minted before the measured window.

use admission::keys::AdmissionKeyPair;
use admission::token::{AdmissionClaims, AdmissionSigner};
use anyhow::Context;
use std::path::Path;

/// How long a minted token stays valid, seconds (longer than any run).
pub const TTL_SECS: u64 = 3600;

/// Signs admission tokens with one key.
pub struct Minter {
    signer: AdmissionSigner,
    now: u64,
}

impl Minter {
    /// Loads the admission signing key (PKCS#8 PEM).
    pub fn load(key: &Path) -> anyhow::Result<Self> {
        let pair = AdmissionKeyPair::load(key)
            .with_context(|| format!("loading the admission key {}", key.display()))?;
        Ok(Self {
            signer: AdmissionSigner::new(&pair)?,
            now: admission::unix_now(),
        })
    }

    /// A token admitting `user` to `drop`.
    pub fn mint(&self, user: &str, drop: &str) -> anyhow::Result<String> {
        self.signer
            .sign(&AdmissionClaims::new(user, drop, self.now, TTL_SECS))
    }
}
