//! Startup: builds the waiting room and the HTTP layer from a [`Config`],
//! starts the catalog, the announcement listener, the admission pump and
//! the sharing of proof-of-work join rates across nodes,
//! serves until stopped, then shuts down in order: stop accepting, close
//! every WebSocket with 1001, answer the requests in flight, stop the
//! background tasks (the pump gives up its leases, so another node takes
//! over at once).

use crate::catalog::Catalog;
use crate::clock::QueueClock;
use crate::config::Config;
use crate::http::{self, HttpParts, HttpState, Limits, Sockets};
use crate::line::Lines;
use crate::notify::Listeners;
use crate::pump::{Pump, PumpSettings};
use crate::room::{StatusMaker, WaitingRoom};
use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::AdmissionSigner;
use anyhow::Context;
use runtime::limiter::KeyedLimiter;
use runtime::serve::Server;
use runtime::service::Service;
use runtime::shutdown::CancellationToken;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

pub struct App {
    service: Service,
    http: HttpState,
    pump: Option<Pump>,
}

impl App {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with_clock(config, QueueClock::real()).await
    }

    pub async fn build_with_clock(config: Config, clock: QueueClock) -> anyhow::Result<Self> {
        let settings = &config.service;
        settings.check_dev_mode(config.listen)?;
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(4)
            .acquire_timeout(Duration::from_secs(2))
            .connect(&settings.database_url)
            .await
            .context("connecting to PostgreSQL")?;
        let redis_target =
            runtime::redis::Target::parse(&settings.redis_url).context("parsing REDIS_URL")?;
        let redis = redis_target
            .connect()
            .await
            .context("connecting to Redis")?;
        let key = AdmissionKeyPair::load(&config.admission_key)?;
        let jwks = match &config.admission_jwks {
            Some(path) => Jwks::load(path)?,
            None => Jwks {
                keys: vec![key.public_jwk()],
            },
        };
        let (users, dev_issuer) = admission::identity::from_settings(settings)?;
        let admission_ttl = config.contract.admission_ttl();
        let lines = Lines::new(redis, &settings.redis_prefix);
        let access = crate::access::Access::new(lines.redis(), db.clone(), &settings.redis_prefix);
        let catalog = Catalog::new(db, lines.clone(), clock.clone(), admission_ttl);
        let room = WaitingRoom {
            access,
            lines: lines.clone(),
            catalog: catalog.clone(),
            statuses: StatusMaker::new(
                clock.clone(),
                Arc::new(AdmissionSigner::new(&key)?.with_mac(config.contract.mac_key()?)),
                admission_ttl,
                &config.checkout_url,
            ),
        };
        let admitted = crate::waiters::Waiters::default();
        let (changed_tx, changed_rx) = mpsc::channel(1024);
        let stop = CancellationToken::new();
        let user_limiter = KeyedLimiter::per_second(config.join_rate_per_user);
        let ip_limiter = KeyedLimiter::per_second(config.join_rate_per_ip);
        let net_limiter = KeyedLimiter::per_second(config.join_rate_per_network);
        let proxies = Arc::new(settings.trusted_proxies()?);
        let pow_key = match &config.pow_key {
            Some(key) if key.len() >= 32 => key.as_bytes().to_vec(),
            Some(_) => anyhow::bail!("POW_KEY must be at least 32 bytes"),
            None => {
                if config.pow_base_maxnumber > 0 {
                    tracing::warn!("POW_KEY unset: challenges are signed with a key of this process only (set it when running several queue nodes)");
                }
                uuid::Uuid::new_v4().as_bytes().repeat(2)
            }
        };
        config.argon2().check().map_err(anyhow::Error::msg)?;
        let pow = crate::pow::ProofOfWork::new(
            &pow_key,
            config.pow_base_maxnumber,
            Duration::from_secs(config.pow_ttl_secs.max(10)),
            lines.redis(),
            &settings.redis_prefix,
        )
        .with_argon2(config.argon2())
        .with_knees(config.pow_drop_knee, config.pow_network_knee)
        .with_new_accounts(crate::pow::NewAccounts::new(
            config.pow_new_account_days,
            config.pow_new_account_factor,
        ));
        let captcha = crate::captcha::Captcha::new(
            &config.captcha(),
            settings.dev,
            lines.redis(),
            &settings.redis_prefix,
        )?;
        let mut background = vec![
            tokio::spawn(crate::catalog::run(
                catalog.clone(),
                changed_rx,
                stop.clone(),
            )),
            tokio::spawn(crate::notify::run(
                redis_target,
                crate::notify::Channels {
                    admitted: crate::pump::channel(&settings.redis_prefix),
                    changes: admission::contract::drops_changed_channel(&settings.redis_prefix),
                    revoked: admission::contract::users_revoked_channel(&settings.redis_prefix),
                },
                Listeners {
                    admitted: admitted.clone(),
                    changed: changed_tx,
                },
                stop.clone(),
            )),
            user_limiter.spawn_pruning(stop.clone()),
            ip_limiter.spawn_pruning(stop.clone()),
            net_limiter.spawn_pruning(stop.clone()),
        ];
        if config.pow_heat_share_ms > 0 && config.pow_base_maxnumber > 0 {
            background.push(tokio::spawn(pow.sharing_heat(
                Duration::from_millis(config.pow_heat_share_ms.max(100)),
                stop.clone(),
            )));
        }
        let pump = Pump::new(PumpSettings {
            lines,
            catalog,
            clock,
            node_id: config
                .node_id
                .clone()
                .unwrap_or_else(|| format!("queue-{}", uuid::Uuid::new_v4().simple())),
            prefix: settings.redis_prefix.clone(),
            lease_ttl: Duration::from_millis(config.pump_lease_ms.max(300)),
            admission_ttl,
            abandon_after: Duration::from_secs(config.abandon_after_secs),
        });
        let pump = if config.pump_tick_ms > 0 {
            background.push(tokio::spawn(crate::pump::run(
                pump,
                Duration::from_millis(config.pump_tick_ms),
                stop.clone(),
            )));
            None
        } else {
            Some(pump)
        };
        let http = HttpState::new(HttpParts {
            room,
            jwks: Arc::new(jwks),
            users,
            dev_issuer,
            admitted,
            sockets: Sockets::default(),
            user_limiter,
            ip_limiter,
            net_limiter,
            proxies,
            pow,
            captcha,
            limits: Arc::new(Limits {
                allowed_origins: config.allowed_origins.clone(),
                max_connections: config.max_connections,
                max_sockets_per_user: config.max_sockets_per_user.max(1),
                sale_url: config.sale_url.clone(),
            }),
            shutdown: stop.clone(),
        });
        let server = Server::bind(config.listen, settings.http.clone()).await?;
        Ok(Self {
            service: Service::new(server, stop, settings.metrics_token.clone(), background),
            http,
            pump,
        })
    }

    pub fn port(&self) -> u16 {
        self.service.port()
    }

    /// The waiting room, for tests and tools running next to the service.
    pub fn room(&self) -> &WaitingRoom {
        &self.http.room
    }

    /// The pump, when the background one is off (`PUMP_TICK_MS=0`): the
    /// caller drives it with `tick`.
    pub fn take_pump(&mut self) -> Option<Pump> {
        self.pump.take()
    }

    /// Serves until `stop` completes, then shuts down in order (see the
    /// module's doc).
    pub async fn run_until(
        self,
        stop: impl std::future::Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let ready = readiness(self.http.room.clone());
        self.service
            .run(http::router(self.http), ready, stop)
            .await?;
        tracing::info!("queue service stopped");
        Ok(())
    }
}

/// Ready when Redis answers.
fn readiness(room: WaitingRoom) -> runtime::ops::ReadinessCheck {
    runtime::ops::readiness(room, |room| async move {
        let redis = room.lines.snapshot("readyz-probe", 0).await.is_ok();
        vec![("redis", redis)]
    })
}
