//! Startup: builds the state from a [`Config`], starts the catalog, the
//! admission pump and the admission listener, serves until stopped.

use crate::catalog::Catalog;
use crate::clock::QueueClock;
use crate::config::Config;
use crate::line::Lines;
use crate::pump::{Admitted, Pump, PumpSettings};
use crate::status::Admission;
use admission::identity::{DevIssuer, UserKeySources, UserVerifier};
use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::{AdmissionClaims, AdmissionSigner};
use anyhow::Context;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::broadcast;

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub lines: Lines,
    pub catalog: Catalog,
    pub clock: QueueClock,
    pub signer: Arc<AdmissionSigner>,
    pub jwks: Arc<Jwks>,
    pub users: UserVerifier,
    pub dev_issuer: Option<DevIssuer>,
    pub config: Arc<Config>,
    /// Admissions announced by any node's pump.
    pub admitted: broadcast::Sender<Arc<Admitted>>,
    /// Open WebSocket connections on this node.
    pub connections: Arc<AtomicUsize>,
    pub user_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub ip_limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
}

impl AppState {
    /// The admission of `user`, admitted at `at_ms`: a token valid from then
    /// for `ADMISSION_TTL_SECS`. Ed25519 signatures are deterministic, so any
    /// node re-issues the very same token to a reconnecting fan.
    pub fn admission(&self, drop: &str, user: &str, at_ms: i64) -> anyhow::Result<Admission> {
        let iat = u64::try_from(at_ms / 1000).unwrap_or(0);
        let exp = iat + self.config.admission_ttl_secs;
        let jti: String = Sha256::digest(format!("{drop}\0{user}\0{at_ms}"))
            .iter()
            .take(16)
            .map(|b| format!("{b:02x}"))
            .collect();
        let claims = AdmissionClaims {
            sub: user.to_string(),
            drop: drop.to_string(),
            iat,
            nbf: iat,
            exp,
            jti,
        };
        Ok(Admission {
            token: self.signer.sign(&claims)?,
            expires_at: chrono::DateTime::from_timestamp(exp as i64, 0).unwrap_or_default(),
            checkout_url: self.config.checkout_url.replace("{drop}", drop),
        })
    }

    /// Admissions older than this have run out.
    pub fn admission_cutoff_ms(&self) -> i64 {
        self.clock.now_ms() - (self.config.admission_ttl_secs * 1000) as i64
    }
}

fn per_second(n: u32) -> Quota {
    let n = NonZeroU32::new(n.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(n).allow_burst(n.saturating_mul(NonZeroU32::MIN.saturating_add(1)))
}

pub struct App {
    listener: TcpListener,
    state: AppState,
    background: Vec<tokio::task::JoinHandle<()>>,
    pump: Option<Pump>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, QueueClock::real()).await
    }

    pub async fn build_with_clock(config: Config, clock: QueueClock) -> anyhow::Result<Self> {
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect(&config.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        let redis_client =
            redis::Client::open(config.redis_url.as_str()).context("parsing REDIS_URL")?;
        let redis = admission::service::connect_redis(redis_client.clone())
            .await
            .context("connecting to Redis")?;
        let key = AdmissionKeyPair::load(&config.admission_key)?;
        let jwks = match &config.admission_jwks {
            Some(path) => Jwks::load(path)?,
            None => Jwks {
                keys: vec![key.public_jwk()],
            },
        };
        let users = UserVerifier::from_sources(&UserKeySources {
            shared_secret: config.user_jwt_secret.as_deref(),
            public_key_pem: config.user_jwt_public_key.as_deref(),
            jwks_file: config.user_jwks.as_deref(),
        })?;
        let dev_issuer = match (config.dev, config.user_jwt_secret.as_deref()) {
            (true, Some(secret)) => Some(DevIssuer::new(secret)),
            (true, None) => anyhow::bail!("dev mode needs USER_JWT_SECRET"),
            (false, _) => None,
        };
        let lines = Lines::new(redis, &config.redis_prefix);
        let catalog = Catalog::default();
        let (admitted, _) = broadcast::channel(1024);
        let state = AppState {
            lines: lines.clone(),
            catalog: catalog.clone(),
            clock: clock.clone(),
            signer: Arc::new(AdmissionSigner::new(&key)?),
            jwks: Arc::new(jwks),
            users,
            dev_issuer,
            admitted: admitted.clone(),
            connections: Arc::default(),
            user_limiter: Arc::new(RateLimiter::keyed(per_second(config.join_rate_per_user))),
            ip_limiter: Arc::new(RateLimiter::keyed(per_second(config.join_rate_per_ip))),
            metrics: admission::service::prometheus_handle(),
            config: Arc::new(config.clone()),
        };
        let admission_ttl = Duration::from_secs(config.admission_ttl_secs);
        let changed = Arc::new(tokio::sync::Notify::new());
        let mut background = vec![
            tokio::spawn(crate::catalog::run(
                catalog.clone(),
                db,
                lines.clone(),
                clock.clone(),
                admission_ttl,
                changed.clone(),
            )),
            tokio::spawn(crate::notify::run(
                redis_client,
                crate::pump::channel(&config.redis_prefix),
                format!("{}:drops:changed", config.redis_prefix),
                admitted,
                changed,
            )),
        ];
        let pump = Pump::new(PumpSettings {
            lines,
            catalog,
            clock,
            node_id: config
                .node_id
                .clone()
                .unwrap_or_else(|| format!("queue-{}", uuid::Uuid::new_v4().simple())),
            prefix: config.redis_prefix.clone(),
            lease_ttl: Duration::from_millis(config.pump_lease_ms.max(300)),
            admission_ttl,
            abandon_after: Duration::from_secs(config.abandon_after_secs),
        });
        let pump = if config.pump_tick_ms > 0 {
            background.push(tokio::spawn(crate::pump::run(
                pump,
                Duration::from_millis(config.pump_tick_ms),
            )));
            None
        } else {
            Some(pump)
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        Ok(Self {
            listener,
            state,
            background,
            pump,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// The pump, when the background one is off (`PUMP_TICK_MS=0`): the
    /// caller drives it with `tick`.
    pub fn take_pump(&mut self) -> Option<Pump> {
        self.pump.take()
    }

    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(admission::service::shutdown_signal()).await
    }

    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            background,
            ..
        } = self;
        let router = crate::http::router(state);
        tracing::info!(addr = %listener.local_addr()?, "queue service listening");
        axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(stop)
        .await
        .context("serving HTTP")?;
        for task in background {
            task.abort();
        }
        tracing::info!("queue service stopped");
        Ok(())
    }
}
