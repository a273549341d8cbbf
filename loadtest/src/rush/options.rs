//! How a rush is run: [`RushOptions`] (the library's settings, as the tests
//! build them), the arrival [`Curve`], and the command-line flags of
//! `loadtest rush` ([`RushArgs`]) and `loadtest soak` ([`SoakArgs`]).

use super::thresholds::Thresholds;
use std::path::PathBuf;
use std::time::Duration;

/// How arrivals spread over the ramp.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// Evenly.
    Ramp,
    /// 80 % of the fans in the first 5 % of the ramp, the rest evenly after.
    Spike,
}

impl Curve {
    /// When fan `n` of `fans` arrives, in seconds after the start.
    pub fn offset(self, n: usize, fans: usize, ramp_secs: u64) -> f64 {
        if ramp_secs == 0 || fans < 2 {
            return 0.0;
        }
        let x = n as f64 / (fans - 1) as f64;
        let ramp = ramp_secs as f64;
        match self {
            Self::Ramp => ramp * x,
            Self::Spike if x <= 0.8 => ramp * 0.05 * (x / 0.8),
            Self::Spike => ramp * (0.05 + 0.95 * (x - 0.8) / 0.2),
        }
    }
}

/// How a rush is run.
#[derive(Debug, Clone)]
pub struct RushOptions {
    pub queue_url: String,
    pub sale_url: String,
    pub operator_key: String,
    pub user_secret: String,
    pub database_url: String,
    pub redis_url: String,
    pub redis_prefix: String,
    pub fans: usize,
    /// Idle fans joined behind the live ones straight through the queue's
    /// join script (see `crate::idle`); removed again at the end.
    pub idle_fans: u64,
    /// Share of fans holding a WebSocket; the rest poll over HTTP.
    pub websocket_share: f64,
    /// Share of fans who leave right after joining.
    pub abandon_share: f64,
    /// Of the admitted: share who pay with a good card, share declined; the
    /// rest let their order expire.
    pub pay_share: f64,
    pub decline_share: f64,
    pub stock: i64,
    pub rate: f64,
    pub max_active: i32,
    /// Seconds until the drop opens (fans arriving before it are drawn).
    pub opens_in_secs: u64,
    /// Fans arrive over this many seconds (0: all at once), along `curve`.
    pub ramp_secs: u64,
    pub curve: Curve,
    /// HTTP pollers poll this often.
    pub poll_every: Duration,
    /// Hard bound on the run.
    pub max_duration: Duration,
    /// Spread the fans' connections over this many loopback source
    /// addresses (127.0.0.1 …); 0: the system picks (see `crate::connect`).
    pub source_addresses: u8,
    pub show_progress: bool,
    /// When the run fails although the invariants held (see `thresholds`).
    pub thresholds: Thresholds,
}

/// Settings of a rush (and of a soak, which sets fans and ramp itself).
#[derive(clap::Args, Clone)]
pub struct RushArgs {
    #[command(flatten)]
    pub services: crate::deployment::Services,
    #[command(flatten)]
    pub stores: crate::deployment::Stores,
    /// How many live fans (each a task holding a WebSocket or polling).
    #[arg(long, default_value_t = 2000)]
    pub fans: usize,
    /// Idle fans on top: places nobody holds a connection for, joined behind
    /// the live fans through the queue's own join script straight against
    /// Redis (up to 10,000,000 and more; ~60k/s here). The report gives
    /// Redis's memory per waiting fan; the line is removed at the end.
    #[arg(long, default_value_t = 0)]
    pub idle_fans: u64,
    /// Share of fans on WebSockets (the rest poll over HTTP).
    #[arg(long, default_value_t = 0.7)]
    pub websocket_share: f64,
    /// Share of fans who leave right after joining.
    #[arg(long, default_value_t = 0.1)]
    pub abandon_share: f64,
    /// Share of buyers who pay with a good card.
    #[arg(long, default_value_t = 0.7)]
    pub pay_share: f64,
    /// Share of buyers whose card is declined (the rest let orders expire).
    #[arg(long, default_value_t = 0.1)]
    pub decline_share: f64,
    /// Units on sale.
    #[arg(long, default_value_t = 300)]
    pub stock: i64,
    /// Admission rate of the drop, fans per second.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    /// Most shoppers admitted at once.
    #[arg(long, default_value_t = 1000)]
    pub max_active: i32,
    /// Seconds until opening: fans arriving before are drawn at random.
    #[arg(long, default_value_t = 3)]
    pub opens_in: u64,
    /// Spread arrivals over this many seconds (0: all at once).
    #[arg(long, default_value_t = 0)]
    pub ramp: u64,
    /// HTTP pollers poll this often, milliseconds.
    #[arg(long, default_value_t = 1000)]
    pub poll_ms: u64,
    /// Hard bound on the run, seconds.
    #[arg(long, default_value_t = 120)]
    pub max_seconds: u64,
    /// Spread the fans' sockets over this many loopback source addresses
    /// (127.0.0.1, 127.0.0.2, …) to hold more than ~28k connections to one
    /// local node; 0 lets the system pick (needed for a remote deployment).
    #[arg(long, default_value_t = 0)]
    pub source_addresses: u8,
    /// Where report.json, report.md and report.svg go.
    #[arg(long, default_value = "loadtest/out")]
    pub out: PathBuf,
    /// Arrival curve over the ramp: `ramp` (even), `spike` (80 % in the
    /// first 5 % of it, the rest even); `--ramp 0` is all at once.
    #[arg(long, default_value = "ramp")]
    pub curve: String,
    /// Fail (exit 2) when more than this share of all requests failed
    /// (WebSocket and HTTP joins, polls, orders, payments; an order refused
    /// `409 sold_out` is the drop working and does not count).
    #[arg(long, default_value_t = 0.05)]
    pub max_error_share: f64,
    /// Fail (exit 2) when fewer than this share of the live fans got a place.
    #[arg(long, default_value_t = 0.95)]
    pub min_join_share: f64,
    /// Fail (exit 2) with fewer admissions than this [default: 1 when
    /// --stock > 0, else 0].
    #[arg(long)]
    pub min_admitted: Option<u64>,
}

/// `loadtest soak`: a steady mixed load for a chosen time.
#[derive(clap::Args, Clone)]
pub struct SoakArgs {
    #[command(flatten)]
    pub rush: RushArgs,
    /// How long the soak runs.
    #[arg(long, default_value_t = 10)]
    pub minutes: u64,
    /// Fans arriving per second during the soak.
    #[arg(long, default_value_t = 20.0)]
    pub fans_per_sec: f64,
}

impl SoakArgs {
    /// The rush a soak is: fans arriving evenly at `--fans-per-sec` for
    /// `--minutes`, with two minutes' grace after the last arrival.
    pub fn into_rush(self) -> RushArgs {
        let seconds = self.minutes * 60;
        RushArgs {
            ramp: seconds,
            fans: (self.fans_per_sec * seconds as f64).round() as usize,
            curve: "ramp".into(),
            max_seconds: self.rush.max_seconds.max(seconds + 120),
            ..self.rush
        }
    }
}

impl RushArgs {
    /// The library's options for these flags.
    pub fn options(&self) -> anyhow::Result<RushOptions> {
        let curve = match self.curve.as_str() {
            "ramp" => Curve::Ramp,
            "spike" => Curve::Spike,
            other => anyhow::bail!("--curve must be ramp or spike, not {other:?}"),
        };
        Ok(RushOptions {
            queue_url: self.services.queue.clone(),
            sale_url: self.services.sale.clone(),
            operator_key: self.services.operator_key.clone(),
            user_secret: self.services.user_secret.clone(),
            database_url: self.stores.database.clone(),
            redis_url: self.stores.redis.clone(),
            redis_prefix: self.stores.redis_prefix.clone(),
            fans: self.fans,
            idle_fans: self.idle_fans,
            websocket_share: self.websocket_share,
            abandon_share: self.abandon_share,
            pay_share: self.pay_share,
            decline_share: self.decline_share,
            stock: self.stock,
            rate: self.rate,
            max_active: self.max_active,
            opens_in_secs: self.opens_in,
            ramp_secs: self.ramp,
            curve,
            poll_every: Duration::from_millis(self.poll_ms.max(100)),
            max_duration: Duration::from_secs(self.max_seconds),
            source_addresses: self.source_addresses,
            show_progress: true,
            thresholds: Thresholds {
                max_error_share: self.max_error_share,
                min_join_share: self.min_join_share,
                min_admitted: self.min_admitted,
            },
        })
    }
}
