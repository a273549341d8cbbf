//! The queue service's settings: every one a flag and an environment
//! variable (`queue --help`). The settings both services share are in
//! [`runtime::ServiceSettings`] and [`ContractSettings`], flattened in.

use admission::contract::ContractSettings;
use runtime::ServiceSettings;
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

    #[command(flatten)]
    pub service: ServiceSettings,

    #[command(flatten)]
    pub contract: ContractSettings,

    /// Admission signing key (PKCS#8 PEM, from `admission keygen`).
    #[arg(long, env = "ADMISSION_KEY")]
    pub admission_key: PathBuf,

    /// JWKS file served at `/.well-known/jwks.json` (all keys still trusted,
    /// for rotation); default: the signing key's public key alone.
    #[arg(long, env = "ADMISSION_JWKS")]
    pub admission_jwks: Option<PathBuf>,

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

    /// Most WebSockets one user holds open on this node at once; more get
    /// close 4409.
    #[arg(long, env = "MAX_SOCKETS_PER_USER", default_value_t = 4)]
    pub max_sockets_per_user: usize,

    /// Joins and polls allowed per user per second (burst of twice that).
    #[arg(long, env = "JOIN_RATE_PER_USER", default_value_t = 2)]
    pub join_rate_per_user: u32,

    /// Joins and polls allowed per client address per second (burst of
    /// twice that). The address is the connection's, or from a trusted
    /// proxy (`TRUSTED_PROXIES`) the one it forwarded.
    #[arg(long, env = "JOIN_RATE_PER_IP", default_value_t = 50)]
    pub join_rate_per_ip: u32,

    /// Joins and polls allowed per client network (its /24 for IPv4, /64
    /// for IPv6) per second (burst of twice that): a farm on one subnet
    /// shares it.
    #[arg(long, env = "JOIN_RATE_PER_NETWORK", default_value_t = 200)]
    pub join_rate_per_network: u32,

    /// Proof of work on joining (see README, "Bot defence"): the
    /// difficulty at rest, as ALTCHA's `maxnumber` (a fan's browser hashes
    /// half of it on average); it rises with the join rate. 0: off.
    #[arg(long, env = "POW_BASE_MAXNUMBER", default_value_t = 200_000)]
    pub pow_base_maxnumber: u64,

    /// How often this node adds its counts of challenges asked (per drop,
    /// per network) to every node's in Redis and reads their totals, which
    /// the difficulty rises with, milliseconds. 0: this node's counts only.
    #[arg(long, env = "POW_HEAT_SHARE_MS", default_value_t = 1000)]
    pub pow_heat_share_ms: u64,

    /// Challenges a second for one drop (across every node) at which its
    /// difficulty doubles, and again at each further multiple (up to 64
    /// times the base).
    #[arg(long, env = "POW_DROP_KNEE", default_value_t = 200)]
    pub pow_drop_knee: u64,

    /// Likewise for one client network (/24, /64): a farm behind few
    /// networks meets the higher difficulty first.
    #[arg(long, env = "POW_NETWORK_KNEE", default_value_t = 2)]
    pub pow_network_knee: u64,

    /// A young account pays more proof of work: when the user token says
    /// when the account was made (`account_created_at`), an account younger
    /// than this many days is asked `POW_NEW_ACCOUNT_FACTOR` times the
    /// difficulty. A token without the claim pays the base.
    #[arg(long, env = "POW_NEW_ACCOUNT_DAYS", default_value_t = 30)]
    pub pow_new_account_days: u64,

    /// What a young account's difficulty is multiplied by (1: off; at most
    /// 64, `pow::MAX_NEW_ACCOUNT_FACTOR`).
    #[arg(long, env = "POW_NEW_ACCOUNT_FACTOR", default_value_t = 4,
          value_parser = clap::value_parser!(u64).range(1..=crate::pow::MAX_NEW_ACCOUNT_FACTOR))]
    pub pow_new_account_factor: u64,

    /// The key challenges are signed with, the same on every queue node
    /// (32 bytes or more). Unset: a random key for this process (only
    /// right for a single node).
    #[arg(long, env = "POW_KEY", hide_env_values = true)]
    pub pow_key: Option<String>,

    /// How long a challenge may be solved and used, seconds.
    #[arg(long, env = "POW_TTL_SECS", default_value_t = 120)]
    pub pow_ttl_secs: u64,

    /// The memory-hard proof of work, for drops whose operator chose it
    /// (`pow_algorithm: "ARGON2ID"`, see README, "Bot defence"): Argon2id's
    /// memory per derivation, KiB. The server derives one key per
    /// challenge it issues; a fan derives `0.75 x` the counter's maximum.
    #[arg(long, env = "POW_ARGON2_MEMORY_KIB", default_value_t = 8192)]
    pub pow_argon2_memory_kib: u32,

    /// Argon2id's passes over that memory.
    #[arg(long, env = "POW_ARGON2_ITERATIONS", default_value_t = 1)]
    pub pow_argon2_iterations: u32,

    /// The largest secret counter of a memory-hard challenge at rest (the
    /// secret is drawn from `max/2 ..= max`); it rises with the join rate
    /// as `POW_BASE_MAXNUMBER` does.
    #[arg(long, env = "POW_ARGON2_BASE_MAXCOUNTER", default_value_t = 8)]
    pub pow_argon2_base_maxcounter: u64,

    /// CAPTCHA on joining (see README, "Bot defence"): the provider's
    /// site-verify URL (e.g. Turnstile's
    /// `https://challenges.cloudflare.com/turnstile/v0/siteverify`), or
    /// `sandbox` in dev mode (a token starting `sandbox-pass` passes).
    /// Unset: no CAPTCHA.
    #[arg(long, env = "CAPTCHA_VERIFY_URL")]
    pub captcha_verify_url: Option<String>,

    /// The secret the site-verify endpoint is called with.
    #[arg(long, env = "CAPTCHA_SECRET", hide_env_values = true)]
    pub captcha_secret: Option<String>,

    /// The widget's site key, handed to the fan page.
    #[arg(long, env = "CAPTCHA_SITE_KEY")]
    pub captcha_site_key: Option<String>,

    /// The widget's script the fan page loads (e.g.
    /// `https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit`);
    /// its origin is allowed in the page's Content-Security-Policy.
    #[arg(long, env = "CAPTCHA_SCRIPT_URL")]
    pub captcha_script_url: Option<String>,

    /// Extra root certificates (a PEM file) the verifier's https
    /// certificate may chain to, besides the public web roots compiled in
    /// (a verifier behind a private CA; the tests' self-signed one).
    #[arg(long, env = "CAPTCHA_CA_FILE")]
    pub captcha_ca_file: Option<PathBuf>,

    /// Longest a join waits for the verifier, milliseconds; past it the
    /// join is refused (fail closed).
    #[arg(long, env = "CAPTCHA_TIMEOUT_MS", default_value_t = 3000)]
    pub captcha_timeout_ms: u64,

    /// Most verifications in flight on this node at once; past it a join
    /// is refused at once (503 `captcha_unavailable`, token not spent).
    #[arg(long, env = "CAPTCHA_MAX_CONCURRENT", default_value_t = 64)]
    pub captcha_max_concurrent: usize,

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
}

impl Config {
    /// A configuration for tests and tools: everything at its default but
    /// what must be given.
    pub fn new(service: ServiceSettings, admission_key: PathBuf) -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            service,
            contract: ContractSettings::default(),
            admission_key,
            admission_jwks: None,
            abandon_after_secs: 60,
            checkout_url: "http://127.0.0.1:8081/api/drops/{drop}/orders".into(),
            sale_url: "http://127.0.0.1:8081".into(),
            allowed_origins: String::new(),
            max_connections: 100_000,
            max_sockets_per_user: 4,
            join_rate_per_user: 2,
            join_rate_per_ip: 50,
            join_rate_per_network: 200,
            pow_base_maxnumber: 0,
            pow_heat_share_ms: 1000,
            pow_drop_knee: 200,
            pow_network_knee: 2,
            pow_new_account_days: 30,
            pow_new_account_factor: 4,
            pow_key: None,
            pow_ttl_secs: 120,
            pow_argon2_memory_kib: 8192,
            pow_argon2_iterations: 1,
            pow_argon2_base_maxcounter: 8,
            captcha_verify_url: None,
            captcha_secret: None,
            captcha_site_key: None,
            captcha_script_url: None,
            captcha_ca_file: None,
            captcha_timeout_ms: 3000,
            captcha_max_concurrent: 64,
            pump_tick_ms: 100,
            pump_lease_ms: 3000,
            node_id: None,
        }
    }
}

impl Config {
    /// The CAPTCHA settings, gathered.
    pub fn captcha(&self) -> crate::captcha::CaptchaSettings {
        crate::captcha::CaptchaSettings {
            verify_url: self
                .captcha_verify_url
                .clone()
                .filter(|u| !u.trim().is_empty()),
            secret: self.captcha_secret.clone(),
            site_key: self.captcha_site_key.clone(),
            script_url: self.captcha_script_url.clone(),
            ca_file: self.captcha_ca_file.clone(),
            timeout: std::time::Duration::from_millis(self.captcha_timeout_ms),
            max_concurrent: self.captcha_max_concurrent,
        }
    }

    /// The memory-hard proof of work's cost, gathered.
    pub fn argon2(&self) -> crate::pow::Argon2Cost {
        crate::pow::Argon2Cost {
            iterations: self.pow_argon2_iterations,
            memory_kib: self.pow_argon2_memory_kib,
            base_max: self.pow_argon2_base_maxcounter,
        }
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
