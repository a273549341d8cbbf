//! The sale service's settings: every one a flag and an environment variable
//! (`sale --help`). The settings both services share are in
//! [`runtime::ServiceSettings`] and [`ContractSettings`], flattened in.

use admission::contract::ContractSettings;
use runtime::ServiceSettings;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "sale",
    about = "Lineup sale service: drops, orders and the operator API"
)]
pub struct Config {
    /// Address to listen on.
    #[arg(long, env = "SALE_ADDR", default_value = "127.0.0.1:8081")]
    pub listen: SocketAddr,

    #[command(flatten)]
    pub service: ServiceSettings,

    #[command(flatten)]
    pub contract: ContractSettings,

    /// JWKS file with the public keys admission tokens are verified with.
    #[arg(long, env = "ADMISSION_JWKS")]
    pub admission_jwks: PathBuf,

    /// API key that grants operator rights (`Authorization: Bearer <key>`).
    #[arg(long, env = "OPERATOR_API_KEY", hide_env_values = true)]
    pub operator_api_key: Option<String>,

    /// Order attempts allowed per user per second (burst of twice that).
    #[arg(long, env = "ORDER_RATE_PER_USER", default_value_t = 5)]
    pub order_rate_per_user: u32,

    /// PostgreSQL connections in the pool.
    #[arg(long, env = "DB_MAX_CONNECTIONS", default_value_t = 16)]
    pub db_max_connections: u32,

    /// Group-commit writer tasks for orders. One is fastest here: every
    /// batch of a drop locks its row until its commit, so a second writer
    /// mostly waits for that lock and makes the batches smaller (at 5,000
    /// orders/s offered p99 11-12 ms with one, 21-24 ms with four;
    /// loadtest/RESULTS.md).
    #[arg(long, env = "ORDER_WRITERS", default_value_t = 1)]
    pub order_writers: usize,

    /// Group-commit writer tasks for seat holds.
    #[arg(long, env = "HOLD_WRITERS", default_value_t = 4)]
    pub hold_writers: usize,

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

    /// How often the reconciler reads every reservation in Redis for
    /// orphans, in seconds: an orphan is released within the grace plus
    /// this. The passes between read only the orders that ended lately.
    #[arg(long, env = "RECONCILE_SCAN_EVERY_SECS", default_value_t = 60)]
    pub reconcile_scan_every_secs: u64,

    /// How often a reconciliation pass looks every reservation past the
    /// grace up in PostgreSQL, in seconds; the passes between look up only
    /// those that crossed the grace or whose order ended since the last.
    #[arg(long, env = "RECONCILE_FULL_EVERY_SECS", default_value_t = 600)]
    pub reconcile_full_every_secs: u64,

    /// A reservation without a holding order is released once it is this old,
    /// in seconds (keep it far above ORDER_WRITE_TIMEOUT_MS).
    #[arg(long, env = "ORPHAN_GRACE_SECS", default_value_t = 60)]
    pub orphan_grace_secs: u64,

    /// Origins whose pages may call this API from a browser (CORS), comma
    /// separated; `*` for any. The fan page is served by the queue service,
    /// so its origin belongs here.
    #[arg(long, env = "CORS_ORIGINS", default_value = "")]
    pub cors_origins: String,

    /// The fan page of a sale, where an event page's "Join the line" goes
    /// (`{drop}` is replaced by the sale's id); served by the queue service.
    #[arg(long, env = "FAN_PAGE_URL", default_value = "/drops/{drop}")]
    pub fan_page_url: String,

    /// Key the search's page cursors are signed with (HMAC-SHA256); every
    /// node of a deployment needs the same one. In dev mode a random one is
    /// made when unset (cursors then last as long as the process).
    #[arg(long, env = "SEARCH_CURSOR_KEY", hide_env_values = true)]
    pub search_cursor_key: Option<String>,

    /// PostgreSQL the search reads (a read replica, say); default:
    /// DATABASE_URL.
    #[arg(long, env = "SEARCH_DATABASE_URL", hide_env_values = true)]
    pub search_database_url: Option<String>,

    /// Connections of the search's own pool.
    #[arg(long, env = "SEARCH_DB_CONNECTIONS", default_value_t = 8)]
    pub search_db_connections: u32,

    /// Most first pages kept by the search's answer cache (for their 10 s
    /// max-age, dropped at once when the catalog changes); 0 turns it off.
    #[arg(long, env = "SEARCH_CACHE_ENTRIES", default_value_t = 10_000)]
    pub search_cache_entries: usize,

    /// Most memory (MiB of JSON) the search's answer cache holds; its
    /// suggestions get an eighth more.
    #[arg(long, env = "SEARCH_CACHE_MIB", default_value_t = 64)]
    pub search_cache_mib: usize,

    /// Apply the embedded migrations at start.
    #[arg(long, env = "MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub migrate: bool,
}

impl Config {
    /// A configuration for tests and tools: everything at its default but
    /// what must be given.
    pub fn new(service: ServiceSettings, admission_jwks: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8081)),
            service,
            contract: ContractSettings::default(),
            admission_jwks,
            operator_api_key: None,
            order_rate_per_user: 5,
            db_max_connections: 16,
            order_writers: 1,
            hold_writers: 4,
            order_write_timeout_ms: 3000,
            payment_webhook_secret: None,
            payment_webhook_url: None,
            sandbox_latency_ms: 300,
            sandbox_delayed_ms: 10_000,
            expiry_sweep_ms: 1000,
            reconcile_every_secs: 10,
            reconcile_scan_every_secs: 60,
            reconcile_full_every_secs: 600,
            orphan_grace_secs: 60,
            cors_origins: String::new(),
            fan_page_url: "/drops/{drop}".into(),
            search_cursor_key: None,
            search_database_url: None,
            search_db_connections: 8,
            search_cache_entries: 10_000,
            search_cache_mib: 64,
            migrate: true,
        }
    }

    pub fn write_timeout(&self) -> Duration {
        Duration::from_millis(self.order_write_timeout_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arguments_are_well_formed() {
        <Config as clap::CommandFactory>::command().debug_assert();
    }
}
