//! Admission tokens minted by the load generator itself, with the signing
//! key the sale service trusts, so an order-path run measures the sale
//! service and not the queue. Every buyer is a distinct user with a token
//! of its own, used for at most the drop's cap of orders, as in a real rush
//! (so a cache keyed by token cannot serve more than that from one
//! verification). Tokens are minted before any measured window.

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

    /// `count` buyers of `drop`, users `<prefix>-0` …, each with its token.
    pub fn buyers(&self, drop: &str, prefix: &str, count: usize) -> anyhow::Result<Vec<Buyer>> {
        (0..count)
            .map(|n| {
                let user = format!("{prefix}-{n}");
                let token = self.mint(&user, drop)?;
                Ok(Buyer { user, token })
            })
            .collect()
    }
}

/// A distinct user with its own admission token.
#[derive(Debug, Clone)]
pub struct Buyer {
    pub user: String,
    pub token: String,
}

impl Buyer {
    /// The Idempotency-Key of this buyer's `k`-th order: unique per request.
    pub fn order_key(&self, k: u32) -> String {
        format!("{}-{k}", self.user)
    }
}
