//! The library both Lineup services use: who may do what, how fast fans are
//! let in, and the contract between `queue` and `sale`.
//!
//! - [`keys`]: Ed25519 key pairs for admission tokens: generate, load from PEM,
//!   publish as a JWKS document, derive a stable `kid`.
//! - [`token`]: admission tokens, the EdDSA JWTs that `queue` hands to an admitted
//!   fan and `sale` checks before it takes an order (bound to user and drop).
//! - [`identity`]: user tokens from the site's identity provider (shared secret,
//!   public key or JWKS file), the `operator` role, and the dev-mode issuer.
//! - [`governor`]: how many fans to admit each tick (rate by `governor`,
//!   `max_active`, stock left), on an injectable clock.
//! - [`lease`]: the Redis leader lease that keeps one admission pump per drop.
//! - [`contract`]: what `queue` and `sale` share: drop states, the shared
//!   Redis keys, the change channel, the admission token lifetime.
//!
//! The `admission` binary wraps [`keys`] and [`token`] as `keygen` and `mint`.

pub mod contract;
pub mod governor;
pub mod identity;
pub mod keys;
pub mod lease;
pub mod token;

/// Seconds since the Unix epoch, as JWT `iat`/`nbf`/`exp` count them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
