//! The sale service's settings: every one a flag and an environment variable.

use std::net::SocketAddr;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "sale",
    about = "Lineup sale service: drops, orders and the operator API"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "SALE_ADDR", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    /// PostgreSQL connection URL.
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,

    /// Redis connection URL.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis_url: String,

    /// Prefix of every Redis key (several deployments may share one Redis).
    #[arg(long, env = "REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,

    /// JWKS file with the public keys admission tokens are verified with.
    #[arg(long, env = "ADMISSION_JWKS")]
    pub admission_jwks: PathBuf,

    /// Shared secret (HS256) of user tokens.
    #[arg(long, env = "USER_JWT_SECRET", hide_env_values = true)]
    pub user_jwt_secret: Option<String>,

    /// PEM public key (RSA, EC or Ed25519) of user tokens.
    #[arg(long, env = "USER_JWT_PUBLIC_KEY")]
    pub user_jwt_public_key: Option<PathBuf>,

    /// JWKS file with the public keys of user tokens.
    #[arg(long, env = "USER_JWKS")]
    pub user_jwks: Option<PathBuf>,

    /// API key that grants operator rights (`Authorization: Bearer <key>`).
    #[arg(long, env = "OPERATOR_API_KEY", hide_env_values = true)]
    pub operator_api_key: Option<String>,

    /// Dev mode: enables `POST /api/dev/login` (signs user tokens with the shared secret).
    #[arg(long, env = "DEV_MODE", default_value_t = false)]
    pub dev: bool,

    /// Order attempts allowed per user per second (burst of twice that).
    #[arg(long, env = "ORDER_RATE_PER_USER", default_value_t = 5)]
    pub order_rate_per_user: u32,

    /// PostgreSQL connections in the pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Group-commit writer tasks.
    #[arg(long, env = "ORDER_WRITERS", default_value_t = 4)]
    pub order_writers: usize,

    /// Upper bound on one order batch's transaction, in milliseconds; an order
    /// not recorded by then is answered 503.
    #[arg(long, env = "ORDER_WRITE_TIMEOUT_MS", default_value_t = 3000)]
    pub order_write_timeout_ms: u64,

    /// Secret the payment provider signs webhooks with (HMAC-SHA256). In dev
    /// mode a random one is made when unset.
    #[arg(long, env = "PAYMENT_WEBHOOK_SECRET", hide_env_values = true)]
    pub payment_webhook_secret: Option<String>,

    /// Where the sandbox payment provider sends its webhooks; default: this
    /// service's own `/api/payments/webhook`.
    #[arg(long, env = "PAYMENT_WEBHOOK_URL")]
    pub payment_webhook_url: Option<String>,

    /// Sandbox provider: how long a charge or refund takes, in milliseconds.
    #[arg(long, env = "SANDBOX_LATENCY_MS", default_value_t = 300)]
    pub sandbox_latency_ms: u64,

    /// Sandbox provider: how long a `card_delayed` charge takes, in milliseconds.
    #[arg(long, env = "SANDBOX_DELAYED_MS", default_value_t = 10_000)]
    pub sandbox_delayed_ms: u64,

    /// How often due pending orders are expired, in milliseconds.
    #[arg(long, env = "EXPIRY_SWEEP_MS", default_value_t = 1000)]
    pub expiry_sweep_ms: u64,

    /// How often Redis reservations are reconciled with PostgreSQL, in seconds.
    #[arg(long, env = "RECONCILE_EVERY_SECS", default_value_t = 10)]
    pub reconcile_every_secs: u64,

    /// A reservation without a holding order is released once it is this old,
    /// in seconds (keep it far above ORDER_WRITE_TIMEOUT_MS).
    #[arg(long, env = "ORPHAN_GRACE_SECS", default_value_t = 60)]
    pub orphan_grace_secs: u64,

    /// Origins whose pages may call this API from a browser (CORS), comma
    /// separated; `*` for any. The fan page is served by the queue service,
    /// so its origin belongs here.
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,

    /// Apply the embedded migrations at start.
    #[arg(long, env = "MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,

    /// Log as JSON lines instead of text.
    #[arg(long, env = "LOG_JSON", default_value_t = false)]
    pub log_json: bool,
}
