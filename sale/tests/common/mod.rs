//! Test harness: a real sale service on port 0 against real Redis and
//! PostgreSQL, with a fresh database and a fresh Redis key prefix per test.
#![allow(dead_code, clippy::unwrap_used)]

use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::{AdmissionClaims, AdmissionSigner};
use sale::{App, Config};
use serde_json::{json, Value};
use std::path::PathBuf;

pub const USER_SECRET: &str = "test-user-secret-0123456789";
pub const OPERATOR_KEY: &str = "test-operator-key";

pub fn admin_database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

/// Creates an empty database and returns its URL.
pub async fn fresh_database() -> String {
    use sqlx::Connection;
    let admin = admin_database_url();
    let name = format!("lineup_test_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .expect("connect to PostgreSQL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .expect("create test database");
    let (base, _) = admin.rsplit_once('/').expect("database URL has a path");
    format!("{base}/{name}")
}

pub struct TestApp {
    pub base: String,
    pub db: sqlx::PgPool,
    pub redis: redis::aio::MultiplexedConnection,
    pub prefix: String,
    pub signer: AdmissionSigner,
    pub key: AdmissionKeyPair,
    pub config: Config,
    pub http: reqwest::Client,
    pub dir: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            let _ = tracing_subscriber::fmt().with_env_filter("info").try_init();
        }
        let dir = std::env::temp_dir().join(format!("lineup-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let key = AdmissionKeyPair::generate();
        let jwks = dir.join("jwks.json");
        std::fs::write(
            &jwks,
            serde_json::to_string(&Jwks {
                keys: vec![key.public_jwk()],
            })
            .unwrap(),
        )
        .unwrap();
        let database_url = fresh_database().await;
        let prefix = format!("test-{}", uuid::Uuid::new_v4().simple());
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            database_url: database_url.clone(),
            redis_url: redis_url(),
            redis_prefix: prefix.clone(),
            admission_jwks: jwks,
            user_jwt_secret: Some(USER_SECRET.into()),
            user_jwt_public_key: None,
            user_jwks: None,
            operator_api_key: Some(OPERATOR_KEY.into()),
            dev: true,
            order_rate_per_user: 50,
            db_max_connections: 10,
            order_writers: 4,
            order_write_timeout_ms: 3000,
            migrate: true,
            log_json: false,
        };
        let mut app = Self::start(config.clone(), key).await;
        app.0.dir = dir;
        app.0.stop = Some(app.1);
        app.0
    }

    async fn start(
        config: Config,
        key: AdmissionKeyPair,
    ) -> (Self, tokio::sync::oneshot::Sender<()>) {
        let server = App::build(config.clone()).await.expect("build app");
        let base = format!("http://127.0.0.1:{}", server.port());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            server
                .run_until(async {
                    let _ = stopped.await;
                })
                .await
                .expect("run");
        });
        let db = sqlx::PgPool::connect(&config.database_url).await.unwrap();
        let redis = redis::Client::open(config.redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let app = Self {
            base,
            db,
            redis,
            prefix: config.redis_prefix.clone(),
            signer: AdmissionSigner::new(&key).unwrap(),
            key,
            config,
            http: reqwest::Client::new(),
            dir: PathBuf::new(),
            stop: None,
            task: Some(task),
        };
        (app, stop)
    }

    /// An admission token for `user` in `drop`, signed by the trusted key.
    pub fn admit(&self, user: &str, drop: &str) -> String {
        self.signer.sign(&claims(user, drop)).unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn user_token(&self, user: &str) -> String {
        admission::identity::DevIssuer::new(USER_SECRET)
            .issue(user, false, 3600)
            .unwrap()
    }

    pub async fn create_drop(&self, id: &str, stock: i64) -> Value {
        self.create_drop_with(json!({
            "id": id, "name": format!("Drop {id}"), "stock": stock, "price_cents": 4200,
            "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z",
        }))
        .await
    }

    pub async fn create_drop_with(&self, body: Value) -> Value {
        let response = self
            .http
            .post(self.url("/api/drops"))
            .bearer_auth(OPERATOR_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201, "create drop");
        response.json().await.unwrap()
    }

    pub async fn place(&self, token: &str, key: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/drops/{}/orders", drop_of(token))))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn place_in(&self, drop: &str, token: &str, key: &str, body: &str) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/drops/{drop}/orders")))
            .bearer_auth(token)
            .header("idempotency-key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Units held (pending + paid) per PostgreSQL, in total and per user.
    pub async fn pg_holdings(&self, drop: &str) -> (i64, Vec<(String, i64)>) {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT user_id, sum(quantity)::BIGINT FROM orders \
             WHERE drop_id = $1 AND status IN ('pending','paid') GROUP BY user_id",
        )
        .bind(drop)
        .fetch_all(&self.db)
        .await
        .unwrap();
        (rows.iter().map(|(_, n)| n).sum(), rows)
    }

    pub async fn pg_held_column(&self, drop: &str) -> i64 {
        sqlx::query_scalar("SELECT held FROM drops WHERE id = $1")
            .bind(drop)
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn redis_sold(&self, drop: &str) -> i64 {
        let key = format!("{}:{{{drop}}}:drop", self.prefix);
        redis::cmd("HGET")
            .arg(key)
            .arg("sold")
            .query_async(&mut self.redis.clone())
            .await
            .unwrap()
    }

    pub async fn order_count(&self) -> i64 {
        sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&self.db)
            .await
            .unwrap()
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

/// The drop an admission token names (tests only; no verification).
pub fn drop_of(token: &str) -> String {
    use base64::Engine;
    let payload = token.split('.').nth(1).unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .unwrap();
    let claims: Value = serde_json::from_slice(&bytes).unwrap();
    claims["drop"].as_str().unwrap().to_string()
}

pub fn now() -> u64 {
    admission::unix_now()
}

pub fn claims(user: &str, drop: &str) -> AdmissionClaims {
    AdmissionClaims::new(user, drop, now(), 600)
}
