//! Startup: builds the domain ([`Sale`]) and the HTTP layer from a
//! [`Config`], starts the background tasks, serves until stopped, then shuts
//! down in order: stop accepting and answer the requests in flight, stop the
//! background tasks between two steps, let orders already reserved be
//! recorded, let the writer commit what it holds.

use crate::clock::{Clock, SystemClock};
use crate::config::Config;
use crate::domain::{Sale, SaleParts};
use crate::expiry::Expiry;
use crate::gate::StockGate;
use crate::http::{self, HttpParts, HttpState};
use crate::payments::sandbox::{SandboxConfig, SandboxProvider};
use crate::reconcile::Cadence;
use crate::search::pg::PgEngine;
use crate::search::Search;
use crate::seats::board::Boards;
use crate::seats::gate::SeatGate;
use crate::upkeep::Periods;
use crate::writer::{OrderWriter, WriterConfig};
use admission::keys::Jwks;
use admission::token::AdmissionVerifier;
use anyhow::Context;
use runtime::limiter::KeyedLimiter;
use runtime::serve::Server;
use runtime::service::Service;
use runtime::shutdown::CancellationToken;
use sqlx::postgres::PgPoolOptions;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;
use uuid::Uuid;

/// How long shutdown waits for orders reserved but not yet recorded.
const FINISH_ORDERS_WITHIN: Duration = Duration::from_secs(10);

/// A built service, bound and ready to run.
pub struct App {
    service: Service,
    http: HttpState,
    writers: Vec<JoinHandle<()>>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, Arc::new(SystemClock)).await
    }

    pub async fn build_with_clock(config: Config, clock: Arc<dyn Clock>) -> anyhow::Result<Self> {
        let settings = &config.service;
        settings.check_dev_mode(config.listen)?;
        let db = PgPoolOptions::new()
            .max_connections(config.db_max_connections)
            // A request waits at most this long for a connection: when
            // PostgreSQL is down, orders answer 503 promptly instead of hanging.
            .acquire_timeout(Duration::from_secs(1))
            .connect(&settings.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        if config.migrate {
            sqlx::migrate!("../migrations")
                .run(&db)
                .await
                .context("applying migrations")?;
        }
        let redis = runtime::redis::connect(&settings.redis_url)
            .await
            .context("connecting to Redis (REDIS_URL)")?;

        let admission = AdmissionVerifier::from_jwks(&Jwks::load(&config.admission_jwks)?)?
            .with_mac(config.contract.mac_key()?);
        let (users, dev_issuer) = admission::identity::from_settings(settings)?;
        let order_limiter = KeyedLimiter::per_second(config.order_rate_per_user);

        let write_timeout = config.write_timeout();
        let (hold_writer, hold_writers) =
            crate::seats::writer::HoldWriter::spawn(db.clone(), config.hold_writers, write_timeout);
        let (writer, mut writers) = OrderWriter::spawn(
            db.clone(),
            WriterConfig {
                workers: config.order_writers,
                timeout: write_timeout,
                ..WriterConfig::default()
            },
        );
        writers.extend(hold_writers);
        let webhook_secret: Arc<[u8]> = match (&config.payment_webhook_secret, settings.dev) {
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
        let gate = StockGate::new(redis.clone(), &settings.redis_prefix);
        let seat_gate = SeatGate::new(redis.clone(), &settings.redis_prefix);
        let stop = CancellationToken::new();
        let sale = Sale::new(SaleParts {
            db: db.clone(),
            gate: gate.clone(),
            writer,
            hold_writer,
            clock: clock.clone(),
            payments: sandbox.clone(),
            seat_gate: seat_gate.clone(),
            boards: Boards::new(seat_gate.clone(), stop.clone()),
            webhook_secret,
            write_timeout,
            admission_ttl: config.contract.admission_ttl(),
        });
        let server = Server::bind(config.listen, settings.http.clone()).await?;
        sandbox.set_webhook_url(config.payment_webhook_url.clone().unwrap_or_else(|| {
            format!(
                "http://127.0.0.1:{}/api/payments/webhook",
                server.local_addr().port()
            )
        }));

        let background = vec![
            tokio::spawn(crate::failover::run(redis, sale.clone(), stop.clone())),
            tokio::spawn(crate::seats::lapse::run(
                db.clone(),
                seat_gate.clone(),
                clock.clone(),
                stop.clone(),
            )),
            tokio::spawn(crate::sync::run(db.clone(), gate.clone(), stop.clone())),
            tokio::spawn(crate::upkeep::run(
                Expiry {
                    db,
                    gate,
                    seats: seat_gate,
                    clock,
                },
                sandbox,
                Periods {
                    sweep_every: Duration::from_millis(config.expiry_sweep_ms.max(10)),
                    reconcile_every: Duration::from_secs(config.reconcile_every_secs.max(1)),
                    reconcile: Cadence {
                        grace: Duration::from_secs(config.orphan_grace_secs),
                        scan_every: Duration::from_secs(config.reconcile_scan_every_secs),
                        full_every: Duration::from_secs(config.reconcile_full_every_secs),
                    },
                },
                stop.clone(),
            )),
            order_limiter.spawn_pruning(stop.clone()),
        ];
        let cursor_key: Vec<u8> = match (&config.search_cursor_key, settings.dev) {
            (Some(key), _) => key.as_bytes().to_vec(),
            (None, true) => Uuid::new_v4().as_bytes().to_vec(),
            (None, false) => anyhow::bail!("set SEARCH_CURSOR_KEY (dev mode makes one up)"),
        };
        let search = Search::with_cache(
            Arc::new(
                PgEngine::connect(
                    config
                        .search_database_url
                        .as_deref()
                        .unwrap_or(&settings.database_url),
                    config.search_db_connections,
                )
                .await?,
            ),
            &cursor_key,
            sale.clock.clone(),
            crate::search::cache::CacheConfig {
                entries: config.search_cache_entries,
                bytes: config.search_cache_mib << 20,
            },
        );
        let http = HttpState::new(HttpParts {
            sale,
            search,
            admission,
            users,
            operator_key: config.operator_api_key.as_deref().map(Arc::from),
            dev_issuer,
            order_limiter,
            cors_origins: config.cors_origins.as_str().into(),
            fan_page_url: config.fan_page_url.as_str().into(),
        });
        Ok(Self {
            service: Service::new(server, stop, settings.metrics_token.clone(), background),
            http,
            writers,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The domain, for tests and tools running next to the service.
    pub fn sale(&self) -> &Sale {
        &self.http.sale
    }

    /// Serves until `stop` completes, then shuts down in order (see the
    /// module's doc).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let Self {
            service,
            http,
            writers,
        } = self;
        let sale = http.sale.clone();
        let ready = readiness(sale.clone());
        service.run(http::router(http), ready, stop).await?;
        sale.finish_in_flight(FINISH_ORDERS_WITHIN).await;
        // The last handles to the writer go with the domain: the writers
        // finish their queue and stop.
        drop(sale);
        for task in writers {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
        tracing::info!("sale service stopped");
        Ok(())
    }
}

/// Ready when both PostgreSQL and Redis answer.
fn readiness(sale: Sale) -> runtime::ops::ReadinessCheck {
    runtime::ops::readiness(sale, |sale| async move {
        let db = sqlx::query("SELECT 1").execute(&sale.db).await.is_ok();
        let redis = sale.gate.counters("readyz-probe").await.is_ok();
        vec![("postgres", db), ("redis", redis)]
    })
}
