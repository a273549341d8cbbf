//! The queue service's settings: every one a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "queue",
    about = "Lineup waiting room: queue, pre-queue draw, admission pump"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "QUEUE_ADDR", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// PostgreSQL connection URL (drop settings are read from it).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Redis connection URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Prefix of every Redis key; the same as the sale service's.
    #[arg(long, env = "REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,

    /// Admission signing key (PKCS#8 PEM, from `admission keygen`).
    #[arg(long, env = "ADMISSION_KEY")]
    pub admission_key: PathBuf,

    /// JWKS file served at `/.well-known/jwks.json` (all keys still trusted,
    /// for rotation); default: the signing key's public key alone.
    #[arg(long, env = "ADMISSION_JWKS")]
    pub admission_jwks: Option<PathBuf>,

    /// Shared secret (HS256) of user tokens.
    #[arg(long, env = "USER_JWT_SECRET", hide_env_values = true)]
    pub user_jwt_secret: Option<String>,

    /// PEM public key of user tokens.
    #[arg(long, env = "USER_JWT_PUBLIC_KEY")]
    pub user_jwt_public_key: Option<PathBuf>,

    /// JWKS file with the public keys of user tokens.
    #[arg(long, env = "USER_JWKS")]
    pub user_jwks: Option<PathBuf>,

    /// How long an admission token is valid, seconds.
    #[arg(long, env = "ADMISSION_TTL_SECS", default_value_t = 600)]
    pub admission_ttl_secs: u64,

    /// A waiting fan with no live WebSocket and no poll for this long loses
    /// the place, seconds.
    #[arg(long, env = "ABANDON_AFTER_SECS", default_value_t = 60)]
    pub abandon_after_secs: u64,

    /// Where admitted fans check out; `{drop}` is replaced by the drop id.
    #[arg(
        long,
        env = "CHECKOUT_URL",
        default_value = "http://127.0.0.1:8081/api/drops/{drop}/orders"
    )]
    pub checkout_url: String,

    /// The sale service's public base URL, as the fan page's browser reaches
    /// it (checkout, payment, "my orders").
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale_url: String,

    /// Allowed WebSocket origins, comma separated (`*` for any). Empty: only
    /// requests without an Origin header or from this service's own host.
    #[arg(long, env = "ALLOWED_ORIGINS", default_value = "")]
    pub allowed_origins: String,

    /// Most WebSocket connections this node holds; past it, joins get 503
    /// `try_again` with Retry-After.
    #[arg(long, env = "MAX_CONNECTIONS", default_value_t = 100_000)]
    pub max_connections: usize,

    /// Joins and polls allowed per user per second (burst of twice that).
    #[arg(long, env = "JOIN_RATE_PER_USER", default_value_t = 2)]
    pub join_rate_per_user: u32,

    /// Joins and polls allowed per client IP per second (burst of twice that).
    #[arg(long, env = "JOIN_RATE_PER_IP", default_value_t = 50)]
    pub join_rate_per_ip: u32,

    /// How often the pump admits, milliseconds (0: no background pump; tests
    /// drive it by hand).
    #[arg(long, env = "PUMP_TICK_MS", default_value_t = 100)]
    pub pump_tick_ms: u64,

    /// Pump lease time, milliseconds: a dead holder is replaced within it.
    #[arg(long, env = "PUMP_LEASE_MS", default_value_t = 3000)]
    pub pump_lease_ms: u64,

    /// This node's name in the pump lease (default: random).
    #[arg(long, env = "NODE_ID")]
    pub node_id: Option<String>,

    /// Dev mode: enables `POST /api/dev/login`.
    #[arg(long, env = "DEV_MODE", default_value_t = false)]
    pub dev: bool,

    /// Log as JSON lines.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}
