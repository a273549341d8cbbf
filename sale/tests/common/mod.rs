//! Test harness: a real sale service on port 0 against real Redis and
//! PostgreSQL, with a fresh database and a fresh Redis key prefix per test.
#![allow(dead_code, clippy::unwrap_used)]

pub mod faults;

use admission::keys::{AdmissionKeyPair, Jwks};
use admission::token::{AdmissionClaims, AdmissionSigner};
use sale::clock::{Clock, ManualClock, SystemClock};
use sale::{App, Config};
use serde_json::{json, Value};
use std::path::PathBuf;
use std::sync::Arc;

pub const USER_SECRET: &str = "test-user-secret-0123456789";
pub const OPERATOR_KEY: &str = "test-operator-key";
/// The admission MAC key the queue and the sale share in tests.
pub const MAC_KEY: &str = "test-admission-mac-key-0123456789abcdef";
pub const WEBHOOK_SECRET: &str = "test-webhook-secret";

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
    /// The running service's domain (to call its sweeper and reconciler).
    pub sale: sale::Sale,
    pub clock: Arc<dyn Clock>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}, None).await
    }

    /// A service with its settings adjusted and, optionally, a manual clock.
    /// A sale on `clock` whose expiry sweep and background reconciler wait
    /// an hour after their first tick: the test runs the passes.
    pub async fn spawn_for_passes(clock: &ManualClock) -> Self {
        Self::spawn_with(
            |c| {
                c.expiry_sweep_ms = 3_600_000;
                c.reconcile_every_secs = 3600;
            },
            Some(clock.clone()),
        )
        .await
    }

    /// Cancels `order` (a placed order's JSON) of `user` in PostgreSQL
    /// only, as a process dying before Redis heard of it leaves it; its id.
    pub async fn cancel_unseen(&self, order: &Value, user: &str) -> uuid::Uuid {
        let id: uuid::Uuid = order["id"].as_str().unwrap().parse().unwrap();
        let cancelled = sale::store::orders::cancel_pending(&self.db, id, user)
            .await
            .unwrap();
        assert!(matches!(
            cancelled,
            sale::store::orders::Cancel::Cancelled(_)
        ));
        id
    }

    pub async fn spawn_with(tweak: impl FnOnce(&mut Config), clock: Option<ManualClock>) -> Self {
        if std::env::var("TEST_LOG").is_ok() {
            runtime::telemetry::init_tracing(false);
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
        let mut service = runtime::ServiceSettings::new(database_url.clone(), redis_url());
        service.redis_prefix = prefix.clone();
        service.user_jwt_secret = Some(USER_SECRET.into());
        service.dev = true;
        let config = Config {
            listen: "127.0.0.1:0".parse().unwrap(),
            operator_api_key: Some(OPERATOR_KEY.into()),
            order_rate_per_user: 50,
            db_max_connections: 10,
            payment_webhook_secret: Some(WEBHOOK_SECRET.into()),
            sandbox_latency_ms: 50,
            sandbox_delayed_ms: 1500,
            contract: admission::contract::ContractSettings {
                admission_mac_key: Some(MAC_KEY.into()),
                ..Default::default()
            },
            ..Config::new(service, jwks)
        };
        let mut config = config;
        tweak(&mut config);
        let clock: Arc<dyn Clock> = match clock {
            Some(clock) => Arc::new(clock),
            None => Arc::new(SystemClock),
        };
        let mut app = Self::start(config.clone(), key, clock).await;
        app.0.dir = dir;
        app.0.stop = Some(app.1);
        app.0
    }

    /// Another process of the same deployment: same database, Redis prefix,
    /// keys and clock.
    pub async fn peer(&self) -> Self {
        let (mut app, stop) =
            Self::start(self.config.clone(), self.key.clone(), self.clock.clone()).await;
        app.stop = Some(stop);
        app
    }

    async fn start(
        config: Config,
        key: AdmissionKeyPair,
        clock: Arc<dyn Clock>,
    ) -> (Self, tokio::sync::oneshot::Sender<()>) {
        let server = App::build_with_clock(config.clone(), clock.clone())
            .await
            .expect("build app");
        let sale = server.sale().clone();
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
        let db = sqlx::PgPool::connect(&config.service.database_url)
            .await
            .unwrap();
        let redis = redis::Client::open(config.service.redis_url.as_str())
            .unwrap()
            .get_multiplexed_async_connection()
            .await
            .unwrap();
        let app = Self {
            base,
            db,
            redis,
            prefix: config.service.redis_prefix.clone(),
            signer: AdmissionSigner::new(&key)
                .unwrap()
                .with_mac(config.contract.mac_key().unwrap()),
            key,
            config,
            http: reqwest::Client::new(),
            dir: PathBuf::new(),
            sale,
            clock,
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

    /// An operator's request with a JSON body: the status and the JSON answer
    /// (`null` when there is none).
    pub async fn operator(&self, method: reqwest::Method, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .request(method, self.url(path))
            .bearer_auth(OPERATOR_KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
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

    /// A venue with the small hall's seat map (300 seats: stalls rows A-J
    /// of 24 in blocks of 6/12/6, balcony rows 1-3 of 20; cat1-cat3), an
    /// event there and a seated sale of it (cat1 89.00, cat2 59.00, cat3
    /// 39.00; cap 2), open now.
    pub async fn seated_sale(&self, drop: &str) -> Value {
        self.seated_sale_with(drop, json!({})).await
    }

    /// As [`TestApp::seated_sale`], with fields of the sale replaced.
    pub async fn seated_sale_with(&self, drop: &str, tweak: Value) -> Value {
        let venue = format!("{drop}-hall");
        let event = format!("{drop}-show");
        let map = sale::seating::generate::small_hall();
        let response = self
            .http
            .post(self.url("/api/venues"))
            .bearer_auth(OPERATOR_KEY)
            .json(
                &json!({"id": venue, "name": "Small Hall", "city": "Köln", "country": "DE",
                "timezone": "Europe/Berlin", "lat": 50.94, "lon": 6.96,
                "map": serde_json::from_str::<Value>(&map.to_json()).unwrap()}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            201,
            "venue: {}",
            response.text().await.unwrap()
        );
        let response = self
            .http
            .post(self.url("/api/events"))
            .bearer_auth(OPERATOR_KEY)
            .json(
                &json!({"id": event, "name": "A show", "performers": ["The Band"],
                "venue_id": venue, "starts_at": "2030-06-01T19:00:00Z"}),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            201,
            "event: {}",
            response.text().await.unwrap()
        );
        let mut body = json!({"id": drop, "name": "Seated", "currency": "EUR",
            "opens_at": "2020-01-01T00:00:00Z", "event_id": event,
            "seating": {"prices": {"cat1": 8900, "cat2": 5900, "cat3": 3900}}});
        if let (Some(body), Some(tweak)) = (body.as_object_mut(), tweak.as_object()) {
            for (k, v) in tweak {
                body.insert(k.clone(), v.clone());
            }
        }
        self.create_drop_with(body).await
    }

    /// `POST /api/drops/{drop}/holds` with an admission token of `user`.
    pub async fn hold(&self, drop: &str, user: &str, key: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(self.url(&format!("/api/drops/{drop}/holds")))
            .bearer_auth(self.admit(user, drop))
            .header("idempotency-key", key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/drops/{drop}/seats`.
    pub async fn seats(&self, drop: &str) -> Value {
        self.http
            .get(self.url(&format!("/api/drops/{drop}/seats")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
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

    /// A request to `path` signed in as `user`.
    fn as_user(&self, method: reqwest::Method, path: &str, user: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, self.url(path))
            .bearer_auth(self.user_token(user))
    }

    /// `user` cancels order `order_id` (`DELETE /api/orders/{id}`); the status.
    pub async fn cancel(&self, user: &str, order_id: &str) -> u16 {
        let path = format!("/api/orders/{order_id}");
        let response = self.as_user(reqwest::Method::DELETE, &path, user).send();
        response.await.unwrap().status().as_u16()
    }

    /// `POST /api/orders/{id}/pay` as `user`.
    pub async fn pay(&self, user: &str, order_id: &str, method: &str) -> (u16, Value) {
        let path = format!("/api/orders/{order_id}/pay");
        let response = self
            .as_user(reqwest::Method::POST, &path, user)
            .json(&json!({ "method": method }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// `GET /api/orders/{id}` as `user`.
    pub async fn order(&self, user: &str, order_id: &str) -> Value {
        let path = format!("/api/orders/{order_id}");
        let response = self.as_user(reqwest::Method::GET, &path, user).send();
        response.await.unwrap().json().await.unwrap()
    }

    /// Polls the order until `done` holds for it (at most 10 s of real time).
    pub async fn wait_order(
        &self,
        user: &str,
        order_id: &str,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        for _ in 0..200 {
            let order = self.order(user, order_id).await;
            if done(&order) {
                return order;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "order {order_id} never reached the expected state: {}",
            self.order(user, order_id).await
        );
    }

    /// Posts a webhook body with a signature header made with `secret` at `timestamp`.
    pub async fn webhook(&self, body: &[u8], secret: &str, timestamp: i64) -> (u16, Value) {
        let response = self
            .http
            .post(self.url("/api/payments/webhook"))
            .header(
                sale::payments::signature::HEADER,
                sale::payments::signature::sign(secret.as_bytes(), timestamp, body),
            )
            .header("content-type", "application/json")
            .body(body.to_vec())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn stats(&self, drop: &str) -> Value {
        self.http
            .get(self.url(&format!("/api/drops/{drop}/stats")))
            .bearer_auth(OPERATOR_KEY)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    pub async fn stop(self) {
        let Self {
            stop, task, sale, ..
        } = self;
        // The writers finish once every handle to them is gone, this one too.
        drop(sale);
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
        if let Some(task) = task {
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

/// Buyers ordering as fast as answered until stopped: each one a fresh user
/// per order pair, asking 1 or 2 units, some users twice (to meet the cap).
pub struct Burst {
    pub acknowledged: Arc<std::sync::Mutex<std::collections::HashSet<String>>>,
    pub answers: Arc<std::sync::Mutex<std::collections::BTreeMap<u16, u64>>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
    buyers: Vec<tokio::task::JoinHandle<()>>,
}

impl Burst {
    /// `base` may change while the burst runs (a restarted service).
    pub fn start(
        base: Arc<std::sync::Mutex<String>>,
        signer: AdmissionSigner,
        drop: &str,
        buyers: usize,
    ) -> Self {
        let acknowledged = Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
        let answers = Arc::new(std::sync::Mutex::new(std::collections::BTreeMap::new()));
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let http = reqwest::Client::new();
        let buyers = (0..buyers)
            .map(|b| {
                let (http, base, signer, drop) =
                    (http.clone(), base.clone(), signer.clone(), drop.to_string());
                let (acknowledged, answers, stop) =
                    (acknowledged.clone(), answers.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut n = 0u64;
                    while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                        n += 1;
                        // Every user tries three orders of 1-2 units: the cap (2) must hold.
                        let user = format!("b{b}-u{}", n / 3);
                        let quantity = 1 + (n % 2);
                        let token = signer.sign(&claims(&user, &drop)).unwrap();
                        let url = format!("{}/api/drops/{drop}/orders", base.lock().unwrap());
                        let sent = http
                            .post(url)
                            .bearer_auth(token)
                            .header("idempotency-key", format!("k{n}"))
                            .json(&json!({ "quantity": quantity }))
                            .timeout(std::time::Duration::from_secs(10))
                            .send()
                            .await;
                        match sent {
                            Ok(response) => {
                                let status = response.status().as_u16();
                                *answers.lock().unwrap().entry(status).or_default() += 1;
                                if status == 201 {
                                    let body: Value = response.json().await.unwrap();
                                    acknowledged
                                        .lock()
                                        .unwrap()
                                        .insert(body["id"].as_str().unwrap().to_string());
                                } else if status == 503 || status == 409 {
                                    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                                }
                            }
                            Err(_) => {
                                *answers.lock().unwrap().entry(0).or_default() += 1;
                                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            }
                        }
                    }
                })
            })
            .collect();
        Self {
            acknowledged,
            answers,
            stop,
            buyers,
        }
    }

    pub fn acknowledged_count(&self) -> usize {
        self.acknowledged.lock().unwrap().len()
    }

    /// Waits until at least `n` orders were acknowledged (at most 20 s).
    pub async fn until_acknowledged(&self, n: usize) {
        for _ in 0..400 {
            if self.acknowledged_count() >= n {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        panic!(
            "only {} orders acknowledged; answers {:?}",
            self.acknowledged_count(),
            self.answers.lock().unwrap()
        );
    }

    /// Stops the buyers; returns the acknowledged order ids and the answers by status.
    pub async fn finish(
        self,
    ) -> (
        std::collections::HashSet<String>,
        std::collections::BTreeMap<u16, u64>,
    ) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        for buyer in self.buyers {
            buyer.await.unwrap();
        }
        let acknowledged = self.acknowledged.lock().unwrap().clone();
        let answers = self.answers.lock().unwrap().clone();
        (acknowledged, answers)
    }
}

/// Invariants 1-3 against PostgreSQL: paid + pending <= stock (and the
/// `held` column agrees), nobody over the cap, every acknowledged order
/// recorded. Returns the units held.
pub async fn check_invariants(
    db: &sqlx::PgPool,
    drop: &str,
    acknowledged: &std::collections::HashSet<String>,
) -> i64 {
    let (stock, held, cap): (i64, i64, i32) =
        sqlx::query_as("SELECT stock, held, per_user_cap FROM drops WHERE id = $1")
            .bind(drop)
            .fetch_one(db)
            .await
            .unwrap();
    let per_user: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, sum(quantity)::BIGINT FROM orders \
         WHERE drop_id = $1 AND status IN ('pending','paid') GROUP BY user_id",
    )
    .bind(drop)
    .fetch_all(db)
    .await
    .unwrap();
    let units: i64 = per_user.iter().map(|(_, n)| n).sum();
    assert!(units <= stock, "oversold: {units} held of {stock}");
    assert_eq!(units, held, "drops.held counts every held unit once");
    let over: Vec<_> = per_user
        .iter()
        .filter(|(_, n)| *n > i64::from(cap))
        .collect();
    assert!(over.is_empty(), "over the cap of {cap}: {over:?}");
    let recorded: std::collections::HashSet<String> =
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM orders WHERE drop_id = $1")
            .bind(drop)
            .fetch_all(db)
            .await
            .unwrap()
            .into_iter()
            .map(|id| id.to_string())
            .collect();
    let lost: Vec<_> = acknowledged.difference(&recorded).collect();
    assert!(lost.is_empty(), "acknowledged but not recorded: {lost:?}");
    units
}

/// The background reconciler's passes, run by a test: a 60 s grace, scans
/// and full passes every so many seconds, the pass's memory kept between.
pub struct Passes {
    expiry: sale::expiry::Expiry,
    clock: Option<ManualClock>,
    cadence: sale::reconcile::Cadence,
    mark: sale::reconcile::Watermark,
}

impl Passes {
    pub fn new(app: &TestApp, clock: Option<&ManualClock>, scan_secs: u64, full_secs: u64) -> Self {
        Self {
            expiry: app.sale.expiry(),
            clock: clock.cloned(),
            cadence: sale::reconcile::Cadence {
                grace: std::time::Duration::from_secs(60),
                scan_every: std::time::Duration::from_secs(scan_secs),
                full_every: std::time::Duration::from_secs(full_secs),
            },
            mark: sale::reconcile::Watermark::default(),
        }
    }

    /// One pass, once the clock moved on `secs` seconds.
    pub async fn after(&mut self, secs: i64) -> sale::reconcile::Reconciled {
        if let Some(clock) = &self.clock {
            clock.advance(chrono::Duration::seconds(secs));
        }
        self.expiry
            .reconcile_since(&mut self.mark, &self.cadence)
            .await
            .unwrap()
    }
}
