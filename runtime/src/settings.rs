//! The settings every Lineup service has. Each binary flattens
//! [`ServiceSettings`] into its own clap arguments, so every one is a flag
//! and an environment variable with the same name in both services.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Settings shared by the sale and queue services.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceSettings {
    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Redis connection URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Prefix of every Redis key (several deployments may share one Redis);
    /// the same in every service of a deployment.
    #[arg(long, env = "REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,

    /// Shared secret (HS256/384/512) of user tokens.
    #[arg(long, env = "USER_JWT_SECRET", hide_env_values = true)]
    pub user_jwt_secret: Option<String>,

    /// PEM public key (RSA, EC or Ed25519) of user tokens.
    #[arg(long, env = "USER_JWT_PUBLIC_KEY")]
    pub user_jwt_public_key: Option<PathBuf>,

    /// JWKS file with the public keys of user tokens.
    #[arg(long, env = "USER_JWKS")]
    pub user_jwks: Option<PathBuf>,

    /// Dev mode: `POST /api/dev/login` hands out user (and operator) tokens
    /// to anyone. Refused unless the service listens on loopback only (see
    /// `DEV_MODE_ANY_ADDRESS`).
    #[arg(long = "dev", env = "DEV_MODE", default_value_t = false)]
    pub dev: bool,

    /// Allow dev mode on a non-loopback address (anyone who reaches the
    /// service can then sign in as anyone, operators included).
    #[arg(long, env = "DEV_MODE_ANY_ADDRESS", default_value_t = false)]
    pub dev_any_address: bool,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,

    /// When set, `/metrics` answers only requests bearing this token
    /// (`/metrics` is meant for the internal network either way).
    #[arg(long, env = "METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Proxies (comma-separated CIDRs or addresses) whose `X-Forwarded-For`
    /// and `Forwarded` headers are believed; from anyone else the
    /// connection's own address is the client's. Empty: trust nobody.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "")]
    pub trusted_proxies: String,

    #[command(flatten)]
    pub http: HttpLimits,
}

/// Limits on every connection a service accepts.
#[derive(Debug, Clone, clap::Args)]
pub struct HttpLimits {
    /// A request's headers must arrive within this time (ms) of the
    /// connection opening or of the previous response: slow and silent
    /// clients are cut.
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", default_value_t = 5_000)]
    pub header_read_timeout_ms: u64,

    /// A request body must arrive within this time (ms).
    #[arg(long, env = "BODY_READ_TIMEOUT_MS", default_value_t = 10_000)]
    pub body_read_timeout_ms: u64,

    /// A handler must answer within this time (ms); WebSockets, once
    /// upgraded, and event streams are not bound by it.
    #[arg(long, env = "REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    pub request_timeout_ms: u64,

    /// Most connections (HTTP, WebSocket and event streams alike) one
    /// process holds; past it a new connection gets a bare 503 and is closed
    /// at once. Lowered to the process's open-files limit minus a reserve.
    #[arg(long, env = "MAX_HTTP_CONNECTIONS", default_value_t = 100_000)]
    pub max_http_connections: usize,
}

impl Default for HttpLimits {
    fn default() -> Self {
        Self {
            header_read_timeout_ms: 5_000,
            body_read_timeout_ms: 10_000,
            request_timeout_ms: 30_000,
            max_http_connections: 100_000,
        }
    }
}

impl HttpLimits {
    pub fn header_read_timeout(&self) -> Duration {
        Duration::from_millis(self.header_read_timeout_ms.max(1))
    }
    pub fn body_read_timeout(&self) -> Duration {
        Duration::from_millis(self.body_read_timeout_ms.max(1))
    }
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms.max(1))
    }
}

impl ServiceSettings {
    /// Settings for tests and tools: the given database and Redis, nothing
    /// else set (no user keys, not dev mode, default limits).
    pub fn new(database_url: impl Into<String>, redis_url: impl Into<String>) -> Self {
        Self {
            database_url: database_url.into(),
            redis_url: redis_url.into(),
            redis_prefix: "lineup".into(),
            user_jwt_secret: None,
            user_jwt_public_key: None,
            user_jwks: None,
            dev: false,
            dev_any_address: false,
            log_json: false,
            metrics_token: None,
            trusted_proxies: String::new(),
            http: HttpLimits::default(),
        }
    }

    /// The trusted proxies, parsed (an error names the bad entry).
    pub fn trusted_proxies(&self) -> anyhow::Result<crate::client_ip::TrustedProxies> {
        crate::client_ip::TrustedProxies::parse(&self.trusted_proxies).map_err(anyhow::Error::msg)
    }

    /// Refuses dev mode on an address others can reach, unless explicitly
    /// allowed: dev login makes anyone an operator.
    pub fn check_dev_mode(&self, listen: SocketAddr) -> anyhow::Result<()> {
        if self.dev && !listen.ip().is_loopback() && !self.dev_any_address {
            anyhow::bail!(
                "DEV_MODE hands out operator tokens to anyone: it is refused on {listen}, \
                 which is not a loopback address (set DEV_MODE_ANY_ADDRESS=true to insist)"
            );
        }
        if self.dev && !listen.ip().is_loopback() {
            tracing::warn!(%listen, "DEV MODE on a non-loopback address: anyone reaching it can sign in as an operator");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_mode_is_refused_off_loopback_unless_insisted_on() {
        let mut settings = ServiceSettings::new("postgres://x/y", "redis://x");
        settings.dev = true;
        let public: SocketAddr = "0.0.0.0:8080".parse().expect("addr");
        let lan: SocketAddr = "10.1.2.3:8080".parse().expect("addr");
        let loopback: SocketAddr = "127.0.0.1:8080".parse().expect("addr");
        let loopback6: SocketAddr = "[::1]:8080".parse().expect("addr");
        assert!(settings.check_dev_mode(public).is_err());
        assert!(settings.check_dev_mode(lan).is_err());
        assert!(settings.check_dev_mode(loopback).is_ok());
        assert!(settings.check_dev_mode(loopback6).is_ok());
        settings.dev_any_address = true;
        assert!(settings.check_dev_mode(public).is_ok());
        settings.dev = false;
        settings.dev_any_address = false;
        assert!(
            settings.check_dev_mode(public).is_ok(),
            "not dev mode: anything goes"
        );
    }
}
