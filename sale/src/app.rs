//! Startup: builds the state from a [`Config`], binds the listener, serves the
//! router until a shutdown signal, then drains the order writer.

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::http;
use crate::payments::sandbox::{SandboxConfig, SandboxProvider};
use crate::payments::PaymentProvider;
use crate::stock::StockGate;
use crate::writer::{OrderWriter, WriterConfig};
use admission::identity::{DevIssuer, UserKeySources, UserVerifier};
use admission::keys::Jwks;
use admission::token::AdmissionVerifier;
use anyhow::Context;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use sqlx::postgres::PgPoolOptions;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use uuid::Uuid;

/// Everything a request handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub db: sqlx::PgPool,
    pub gate: StockGate,
    pub writer: OrderWriter,
    pub admission: AdmissionVerifier,
    pub users: UserVerifier,
    pub operator_key: Option<Arc<str>>,
    pub dev_issuer: Option<DevIssuer>,
    pub clock: Arc<dyn Clock>,
    pub order_limiter: Arc<DefaultKeyedRateLimiter<String>>,
    pub write_timeout: Duration,
    pub metrics: metrics_exporter_prometheus::PrometheusHandle,
    pub payments: Arc<dyn PaymentProvider>,
    /// Secret webhook signatures are checked with.
    pub webhook_secret: Arc<[u8]>,
    /// Origins allowed to call the API from a browser.
    pub cors_origins: Arc<str>,
    /// Drops this process is rebuilding into Redis right now.
    pub rebuilding: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
}

impl AppState {
    pub fn is_operator_key(&self, presented: &str) -> bool {
        self.operator_key
            .as_deref()
            .is_some_and(|key| http::auth::key_matches(presented, key))
    }
}

/// A built service, bound and ready to run.
pub struct App {
    listener: TcpListener,
    state: AppState,
    writers: Vec<tokio::task::JoinHandle<()>>,
    background: Vec<tokio::task::JoinHandle<()>>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let db = PgPoolOptions::new()
            .max_connections(config.db_max_connections)
            // A request waits at most this long for a connection: when
            // PostgreSQL is down, orders answer 503 promptly instead of hanging.
            .acquire_timeout(Duration::from_secs(1))
            .connect(&config.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        if config.migrate {
            sqlx::migrate!("../migrations")
                .run(&db)
                .await
                .context("applying migrations")?;
        }
        let redis_client =
            redis::Client::open(config.redis_url.as_str()).context("parsing REDIS_URL")?;
        let redis = admission::service::connect_redis(redis_client)
            .await
            .context("connecting to Redis")?;

        let admission = AdmissionVerifier::from_jwks(&Jwks::load(&config.admission_jwks)?)?;
        let users = UserVerifier::from_sources(&UserKeySources {
            shared_secret: config.user_jwt_secret.as_deref(),
            public_key_pem: config.user_jwt_public_key.as_deref(),
            jwks_file: config.user_jwks.as_deref(),
        })?;
        let dev_issuer = match (config.dev, config.user_jwt_secret.as_deref()) {
            (true, Some(secret)) => Some(DevIssuer::new(secret)),
            (true, None) => anyhow::bail!("dev mode needs USER_JWT_SECRET to sign dev logins"),
            (false, _) => None,
        };
        let per_user =
            NonZeroU32::new(config.order_rate_per_user.max(1)).unwrap_or(NonZeroU32::MIN);
        let burst = per_user.saturating_mul(NonZeroU32::new(2).unwrap_or(NonZeroU32::MIN));
        let order_limiter = Arc::new(RateLimiter::keyed(
            Quota::per_second(per_user).allow_burst(burst),
        ));

        let write_timeout = Duration::from_millis(config.order_write_timeout_ms);
        let (writer, writers) = OrderWriter::spawn(
            db.clone(),
            WriterConfig {
                workers: config.order_writers,
                timeout: write_timeout,
                ..WriterConfig::default()
            },
        );
        let webhook_secret: Arc<[u8]> = match (&config.payment_webhook_secret, config.dev) {
            (Some(secret), _) => secret.as_bytes().into(),
            (None, true) => Uuid::new_v4().as_bytes().as_slice().into(),
            (None, false) => anyhow::bail!("set PAYMENT_WEBHOOK_SECRET (dev mode makes one up)"),
        };
        let sandbox = Arc::new(SandboxProvider::new(
            SandboxConfig {
                latency: Duration::from_millis(config.sandbox_latency_ms),
                delayed: Duration::from_millis(config.sandbox_delayed_ms),
            },
            &webhook_secret,
            clock.clone(),
        ));
        let state = AppState {
            gate: StockGate::new(redis, &config.redis_prefix),
            db,
            writer,
            admission,
            users,
            operator_key: config.operator_api_key.as_deref().map(Arc::from),
            dev_issuer,
            clock,
            order_limiter,
            write_timeout,
            metrics: admission::service::prometheus_handle(),
            rebuilding: Arc::default(),
            cors_origins: config.cors_origins.as_str().into(),
            payments: sandbox.clone(),
            webhook_secret,
        };
        let listener = TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("binding {}", config.listen))?;
        let port = listener.local_addr()?.port();
        sandbox.set_webhook_url(
            config
                .payment_webhook_url
                .clone()
                .unwrap_or_else(|| format!("http://127.0.0.1:{port}/api/payments/webhook")),
        );
        let background = vec![
            tokio::spawn(crate::sync::run_drop_sync(state.clone())),
            tokio::spawn(crate::expiry::run(
                state.clone(),
                Duration::from_millis(config.expiry_sweep_ms.max(10)),
                Duration::from_secs(config.reconcile_every_secs.max(1)),
                Duration::from_secs(config.orphan_grace_secs),
            )),
        ];
        Ok(Self {
            listener,
            state,
            writers,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until SIGINT or SIGTERM, then drains.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.run_until(admission::service::shutdown_signal()).await
    }

    /// Serves until `stop` completes: stops accepting, finishes open requests,
    /// lets the order writer commit what it holds, then returns.
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            listener,
            state,
            writers,
            background,
        } = self;
        let router = http::router(state);
        tracing::info!(addr = %listener.local_addr()?, "sale service listening");
        axum::serve(listener, router)
            .with_graceful_shutdown(stop)
            .await
            .context("serving HTTP")?;
        for task in background {
            task.abort();
        }
        // The router (and with it every writer handle) is gone: the writers
        // finish their queue and stop.
        for task in writers {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        tracing::info!("sale service stopped");
        Ok(())
    }
}
