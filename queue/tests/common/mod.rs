//! Test harness: real queue processes (in-test) on port 0 against real Redis
//! and PostgreSQL, a fresh database and Redis key prefix per test, time
//! moved by hand.
#![allow(dead_code, clippy::unwrap_used)]

pub mod sockets;

use admission::keys::{AdmissionKeyPair, Jwks};
use queue::clock::QueueClock;
use queue::pump::Pump;
use queue::room::WaitingRoom;
use queue::{App, Config};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

pub const USER_SECRET: &str = "queue-test-user-secret-0123";
/// The admission MAC key the queue and the sale share in tests.
pub const MAC_KEY: &str = "test-admission-mac-key-0123456789abcdef";

pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// One deployment: a database, a Redis prefix, a signing key, a clock.
#[derive(Clone)]
pub struct Deployment {
    pub database_url: String,
    pub db: sqlx::PgPool,
    pub prefix: String,
    pub key_file: PathBuf,
    pub jwks_file: PathBuf,
    pub key: AdmissionKeyPair,
    pub clock: QueueClock,
}

impl Deployment {
    /// How many fans wait in a drop's line (in Redis).
    pub async fn waiting(&self, drop: &str) -> u64 {
        redis::cmd("ZCARD")
            .arg(format!("{}:{{{drop}}}:q:line", self.prefix))
            .query_async(&mut self.redis().await)
            .await
            .unwrap()
    }

    pub async fn new() -> Self {
        use sqlx::Connection;
        let admin = admin_database_url();
        let name = format!("lineup_qtest_{}", uuid::Uuid::new_v4().simple());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let (base, _) = admin.rsplit_once('/').unwrap();
        let database_url = format!("{base}/{name}");
        let db = sqlx::PgPool::connect(&database_url).await.unwrap();
        sqlx::migrate!("../migrations").run(&db).await.unwrap();
        let dir = std::env::temp_dir().join(format!("lineup-qtest-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = AdmissionKeyPair::generate();
        let key_file = dir.join("admission-key.pem");
        std::fs::write(&key_file, key.to_pem().unwrap()).unwrap();
        let jwks_file = dir.join("admission-jwks.json");
        let jwks = Jwks {
            keys: vec![key.public_jwk()],
        };
        std::fs::write(&jwks_file, serde_json::to_string(&jwks).unwrap()).unwrap();
        Self {
            database_url,
            db,
            prefix: format!("qtest-{}", uuid::Uuid::new_v4().simple()),
            key_file,
            jwks_file,
            key,
            clock: QueueClock::manual(),
        }
    }

    /// A drop, written as the sale service would (settings in PostgreSQL,
    /// stock in Redis), opening `opens_in_secs` from the test clock's now.
    pub async fn create_drop(
        &self,
        id: &str,
        stock: i64,
        rate: f64,
        max_active: i32,
        opens_in_secs: i64,
    ) {
        let opens_at = self.clock.now() + chrono::Duration::seconds(opens_in_secs);
        sqlx::query(
            "INSERT INTO drops (id, name, stock, price_cents, currency, opens_at, per_user_cap, \
             order_timeout_secs, admission_rate_per_sec, max_active) \
             VALUES ($1, $1, $2, 100, 'EUR', $3, 2, 3600, $4, $5)",
        )
        .bind(id)
        .bind(stock)
        .bind(opens_at)
        .bind(rate)
        .bind(max_active)
        .execute(&self.db)
        .await
        .unwrap();
        let mut redis = self.redis().await;
        let _: () = redis::cmd("HSET")
            .arg(format!("{}:{{{id}}}:drop", self.prefix))
            .arg("stock")
            .arg(stock)
            .arg("sold")
            .arg(0)
            .query_async(&mut redis)
            .await
            .unwrap();
    }

    pub async fn redis(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(redis_url())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap()
    }

    pub fn config(&self) -> Config {
        let mut service = runtime::ServiceSettings::new(self.database_url.clone(), redis_url());
        service.redis_prefix = self.prefix.clone();
        service.user_jwt_secret = Some(USER_SECRET.into());
        Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            checkout_url: "http://sale.test/api/drops/{drop}/orders".into(),
            sale_url: "http://sale.test".into(),
            allowed_origins: "https://fans.example".into(),
            max_connections: 1000,
            join_rate_per_user: 1000,
            join_rate_per_ip: 100_000,
            join_rate_per_network: 100_000,
            pump_tick_ms: 0,
            pump_lease_ms: 600,
            contract: admission::contract::ContractSettings {
                admission_mac_key: Some(MAC_KEY.into()),
                ..Default::default()
            },
            ..Config::new(service, self.key_file.clone())
        }
    }

    pub fn user_token(&self, user: &str) -> String {
        admission::identity::DevIssuer::new(USER_SECRET)
            .issue(user, false, 3600)
            .unwrap()
    }

    /// A fan's token saying the account was made at `created_at` (Unix
    /// seconds).
    pub fn aged_user_token(&self, user: &str, created_at: u64) -> String {
        admission::identity::DevIssuer::new(USER_SECRET)
            .issue_for(user, false, 3600, Some(created_at))
            .unwrap()
    }
}

/// One queue process of a deployment, with its pump driven by the test.
pub struct Node {
    pub base: String,
    pub room: WaitingRoom,
    /// The pump, driven by the test (`None` when the node runs its own).
    pump: Option<Pump>,
    pub http: reqwest::Client,
    task: tokio::task::JoinHandle<()>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Node {
    /// Joins a line over HTTP as `user`, with one extra header (a proof of
    /// work, a CAPTCHA token) when given: the status and the error code.
    pub async fn join_with(
        &self,
        deployment: &Deployment,
        drop: &str,
        user: &str,
        header: Option<(&str, &str)>,
    ) -> (u16, String) {
        let mut request = self
            .http
            .post(self.url(&format!("/api/drops/{drop}/queue")))
            .bearer_auth(deployment.user_token(user));
        if let Some((name, value)) = header {
            request = request.header(name, value);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        (status, body["error"].as_str().unwrap_or("").to_string())
    }

    pub async fn start(deployment: &Deployment, tweak: impl FnOnce(&mut Config)) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            runtime::telemetry::init_tracing(false);
        }
        let mut config = deployment.config();
        tweak(&mut config);
        let mut app = App::build_with_clock(config, deployment.clock.clone())
            .await
            .unwrap();
        let pump = app.take_pump();
        let base = format!("http://127.0.0.1:{}", app.port());
        let room = app.room().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            app.run_until(async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            base,
            room,
            pump,
            http: reqwest::Client::new(),
            task,
            stop: Some(stop),
        }
    }

    /// Loads `drop` into the catalog (as the first request for it would).
    pub async fn knows(&self, drop: &str) {
        for _ in 0..100 {
            if let Ok(Some(_)) = self.room.catalog.get(drop).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("drop {drop} never reached the catalog");
    }

    /// Waits (real time) for the catalog to see the clock past opening.
    pub async fn catalog_fresh(&self) {
        tokio::time::sleep(Duration::from_millis(600)).await;
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn join(&self, deployment: &Deployment, drop: &str, user: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/drops/{drop}/queue")))
            .bearer_auth(deployment.user_token(user))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn poll(&self, deployment: &Deployment, drop: &str, user: &str) -> (u16, Value) {
        let response = self
            .http
            .get(self.url(&format!("/api/drops/{drop}/queue")))
            .bearer_auth(deployment.user_token(user))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Moves the clock by `step` and ticks the pump, `times` times; returns
    /// everyone admitted, in order.
    pub async fn pump_for(
        &mut self,
        clock: &QueueClock,
        step: Duration,
        times: usize,
    ) -> Vec<String> {
        let mut admitted = Vec::new();
        for _ in 0..times {
            clock.advance(step);
            for batch in self.pump().tick().await {
                admitted.extend(batch.users);
            }
        }
        admitted
    }

    /// The pump the test drives.
    pub fn pump(&mut self) -> &mut Pump {
        self.pump
            .as_mut()
            .expect("this node runs its own pump (PUMP_TICK_MS > 0)")
    }

    /// Kills the node (no orderly shutdown: as if the process died).
    pub fn stop(self) {
        self.task.abort();
    }

    /// Shuts the node down in order (as on SIGTERM) and waits until it has.
    pub async fn shut_down(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(15), self.task).await;
    }
}
