//! Who may do what in Lineup: the tokens.
//!
//! - [`keys`]: Ed25519 key pairs for admission tokens: generate, load from PEM,
//!   publish as a JWKS document, derive a stable `kid`.
//! - [`token`]: admission tokens, the EdDSA JWTs that `queue` hands to an admitted
//!   fan and `sale` checks before it takes an order (bound to user and drop).
//! - [`identity`]: user tokens from the site's identity provider (shared secret,
//!   public key or JWKS file), the `operator` role, and the dev-mode issuer.
//! - [`drop_keys`]: the Redis key names of a drop, shared by both services.
//! - [`pump`]: the admission governor: how many fans to admit each tick
//!   (rate by `governor`, `max_active`, stock left).
//! - [`lease`]: the Redis leader lease that keeps one pump per drop.
//! - [`service`]: plumbing both services share: Prometheus recorder, Redis
//!   connection and call deadline, shutdown signal.
//!
//! The `admission` binary wraps [`keys`] and [`token`] as `keygen` and `mint`.

pub mod drop_keys;
pub mod identity;
pub mod keys;
pub mod lease;
pub mod pump;
pub mod service;
pub mod token;

/// Seconds since the Unix epoch, as JWT `iat`/`nbf`/`exp` count them.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
