//! The queue's HTTP surface: a thin layer over the waiting room
//! ([`crate::room::WaitingRoom`]).
//!
//! - [`rest`]: join, poll and leave over HTTP; the draw; JWKS.
//! - [`ws`]: the WebSocket adapter around [`crate::session::Session`].
//! - [`pages`]: the fan page (embedded from `web/`), with security headers.
//! - [`error`]: the error shape.
//!
//! Joins and polls are limited per user, per client address and per its
//! /24 or /64 network (the address behind a trusted proxy, see
//! `runtime::client_ip`); the limiters forget keys not seen lately (see
//! `app`).

pub mod error;
pub mod pages;
pub mod rest;
pub mod ws;

use crate::room::WaitingRoom;
use admission::identity::{DevIssuer, UserClaims, UserVerifier};
use admission::keys::Jwks;
use axum::http::HeaderMap;
use axum::Router;
use error::QueueError;
use runtime::limiter::KeyedLimiter;
use runtime::shutdown::CancellationToken;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex};

/// What the HTTP layer needs besides the waiting room.
/// Cheap to clone (one reference count), as axum clones it per request.
pub type HttpState = Arc<HttpParts>;

/// What an [`HttpState`] holds.
pub struct HttpParts {
    pub room: WaitingRoom,
    pub jwks: Arc<Jwks>,
    pub users: UserVerifier,
    pub dev_issuer: Option<DevIssuer>,
    /// Sessions waiting here, woken by admissions any node's pump announced.
    pub admitted: crate::waiters::Waiters,
    pub sockets: Sockets,
    pub user_limiter: KeyedLimiter<String>,
    pub ip_limiter: KeyedLimiter<IpAddr>,
    /// Per /24 (IPv4) or /64 (IPv6) network.
    pub net_limiter: KeyedLimiter<IpAddr>,
    /// Whose forwarding headers are believed.
    pub proxies: Arc<runtime::client_ip::TrustedProxies>,
    /// Proof of work on joining.
    pub pow: crate::pow::ProofOfWork,
    /// The optional CAPTCHA on joining.
    pub captcha: crate::captcha::Captcha,
    pub limits: Arc<Limits>,
    /// Cancelled on shutdown: every session closes with 1001.
    pub shutdown: CancellationToken,
}

/// The settings the routes read.
#[derive(Debug, Clone)]
pub struct Limits {
    pub allowed_origins: String,
    pub max_connections: usize,
    pub max_sockets_per_user: usize,
    pub sale_url: String,
}

/// This node's open WebSockets: how many, and how many per user.
#[derive(Clone, Default)]
pub struct Sockets {
    pub open: Arc<AtomicUsize>,
    per_user: Arc<Mutex<HashMap<String, usize>>>,
}

impl Sockets {
    /// Counts one more socket of `user`, unless they hold `max` already.
    pub fn take_user_slot(&self, user: &str, max: usize) -> Option<UserSlot> {
        let mut per_user = self.per_user.lock().unwrap_or_else(|e| e.into_inner());
        let count = per_user.entry(user.to_string()).or_insert(0);
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(UserSlot {
            sockets: self.clone(),
            user: user.to_string(),
        })
    }
}

/// One user's socket, counted while it lives.
pub struct UserSlot {
    sockets: Sockets,
    user: String,
}

impl Drop for UserSlot {
    fn drop(&mut self) {
        let mut per_user = self
            .sockets
            .per_user
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(count) = per_user.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                per_user.remove(&self.user);
            }
        }
    }
}

/// Every route, with the JSON error shape for unknown routes and methods.
pub fn router(state: HttpState) -> Router {
    let dev = state.dev_issuer.clone().map(|issuer| {
        let issue: runtime::dev::Issue =
            Arc::new(move |user, _, created| issuer.issue_for(user, false, 24 * 3600, created));
        runtime::dev::router(issue, false)
    });
    let routes = Router::new()
        .merge(rest::router())
        .merge(ws::router())
        .merge(pages::router())
        .fallback(runtime::error::not_found)
        .method_not_allowed_fallback(runtime::error::method_not_allowed)
        .with_state(state);
    let routes = match dev {
        Some(dev) => routes.merge(dev),
        None => routes,
    };
    routes.layer(axum::extract::DefaultBodyLimit::max(4 * 1024))
}

/// The user of a request's bearer token.
pub fn user_of(http: &HttpState, headers: &HeaderMap) -> Result<String, QueueError> {
    claims_of(http, headers).map(|claims| claims.sub)
}

/// The claims of the user token a request carries (`Authorization:
/// Bearer`).
pub fn claims_of(http: &HttpState, headers: &HeaderMap) -> Result<UserClaims, QueueError> {
    let token = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
        })
        .ok_or_else(|| QueueError::InvalidToken("a user token is required".into()))?;
    verify_claims(http, token)
}

pub fn verify_user(http: &HttpState, token: &str) -> Result<String, QueueError> {
    verify_claims(http, token).map(|claims| claims.sub)
}

fn verify_claims(http: &HttpState, token: &str) -> Result<UserClaims, QueueError> {
    http.users
        .verify(token.trim())
        .map_err(|e| QueueError::InvalidToken(e.to_string()))
}

/// Checks the proof of work a join carries (`solution`: the `X-Pow`
/// header or the WebSocket's `"pow"`), when the drop and this node ask for
/// one, and spends it so it joins once.
pub async fn check_pow(
    http: &HttpState,
    state: &crate::catalog::DropState,
    user: &str,
    solution: Option<&str>,
) -> Result<(), QueueError> {
    if !http.pow.required(state.settings.proof_of_work) {
        return Ok(());
    }
    let now = u64::try_from(http.room.statuses.clock.now().timestamp()).unwrap_or(0);
    let drop = &state.settings.id;
    let id = http
        .pow
        .challenger
        .verify_for(
            solution.unwrap_or(""),
            drop,
            user,
            now,
            state.settings.pow_algorithm,
        )
        .map_err(QueueError::Pow)?;
    match http.pow.spend(drop, &id).await {
        Ok(()) => Ok(()),
        Err(crate::pow::SpendError::Refused(why)) => Err(QueueError::Pow(why)),
        Err(crate::pow::SpendError::Redis(error)) => Err(error.into()),
    }
    .inspect_err(|e| {
        if let QueueError::Pow(why) = e {
            metrics::counter!("queue_pow_refused_total", "reason" => why.code()).increment(1);
        }
    })
}

/// What a join carries to prove it is wanted: a proof-of-work solution
/// and a CAPTCHA token.
#[derive(Debug, Default)]
pub struct Proofs {
    pub pow: Option<String>,
    pub captcha: Option<String>,
}

impl Proofs {
    /// The proofs a request's headers carry (`X-Pow`, `X-Captcha`).
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let header = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        Self {
            pow: header("x-pow"),
            captcha: header("x-captcha"),
        }
    }
}

/// Checks what a join must show before it may take a place: the proof of
/// work first (no I/O to verify), then the CAPTCHA (a call to its
/// verifier), each when the node and the drop ask for it. Each is spent
/// once.
pub async fn check_entry(
    http: &HttpState,
    state: &crate::catalog::DropState,
    user: &str,
    proofs: &Proofs,
    client: IpAddr,
) -> Result<(), QueueError> {
    check_pow(http, state, user, proofs.pow.as_deref()).await?;
    if !state.settings.captcha {
        // The operator turned the CAPTCHA off for this drop: a token sent
        // anyway is neither verified nor spent.
        return Ok(());
    }
    http.captcha
        .check(&state.settings.id, proofs.captcha.as_deref(), client)
        .await
        .map_err(|why| {
            metrics::counter!("queue_captcha_refused_total", "reason" => why.code()).increment(1);
            QueueError::Captcha(why)
        })
}

/// The access code a join carries for an invite-only drop
/// (`X-Access-Code`), if any.
pub fn access_code(headers: &HeaderMap) -> Option<String> {
    headers
        .get("x-access-code")
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// The client's address: the connection's own, or what a trusted proxy
/// forwarded (see `runtime::client_ip`).
pub fn client_ip(http: &HttpState, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
    http.proxies.client_ip(peer, headers)
}

/// A request without a user yet is limited per client address and network.
pub fn check_address_rate(http: &HttpState, ip: IpAddr) -> Result<(), QueueError> {
    if !http.ip_limiter.allows(&ip) || !http.net_limiter.allows(&runtime::client_ip::network_of(ip))
    {
        metrics::counter!("queue_rate_limited_total").increment(1);
        return Err(QueueError::RateLimited);
    }
    Ok(())
}

/// Joins and polls are limited per user, per client address and per
/// client network (/24, /64).
pub fn check_rate(http: &HttpState, user: &str, ip: IpAddr) -> Result<(), QueueError> {
    check_address_rate(http, ip)?;
    check_user_rate(http, user)
}

/// The per-user part of [`check_rate`], for a request whose address was
/// checked already (a WebSocket whose user arrives in its first message).
pub fn check_user_rate(http: &HttpState, user: &str) -> Result<(), QueueError> {
    if !http.user_limiter.allows(&user.to_string()) {
        metrics::counter!("queue_rate_limited_total").increment(1);
        return Err(QueueError::RateLimited);
    }
    Ok(())
}
