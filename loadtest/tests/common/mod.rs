//! An in-process stack for the load generator's tests: the sale and queue
//! services on port 0 against real Redis and PostgreSQL, a fresh database
//! and key prefix, a signing key on disk.
#![allow(dead_code, clippy::unwrap_used)]

use admission::keys::{AdmissionKeyPair, Jwks};

pub mod cluster;

pub const USER_SECRET: &str = "rush-test-user-secret-0123456";
pub const OPERATOR_KEY: &str = "rush-test-operator";
/// The admission MAC key the stack's queue and sale share.
pub const MAC_KEY: &str = "rush-test-admission-mac-key-0123456789";

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

pub async fn fresh_database() -> String {
    use sqlx::Connection;
    let admin = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let name = format!("lineup_rush_{}", uuid::Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .await
        .unwrap();
    format!("{}/{name}", admin.rsplit_once('/').unwrap().0)
}

pub struct Stack {
    pub sale: String,
    pub queue: String,
    pub database: String,
    pub prefix: String,
    /// The admission signing key the sale trusts.
    pub key: std::path::PathBuf,
}

pub async fn stack() -> Stack {
    stack_on(redis_url()).await
}

/// The stack against the Redis (one node or a cluster) at `redis`.
pub async fn stack_on(redis: String) -> Stack {
    stack_with(redis, |_| {}).await
}

/// The stack with the queue's settings changed by `tweak`.
pub async fn stack_with(redis: String, tweak: impl FnOnce(&mut queue::Config)) -> Stack {
    let dir = std::env::temp_dir().join(format!("lineup-rush-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = AdmissionKeyPair::generate();
    std::fs::write(dir.join("key.pem"), key.to_pem().unwrap()).unwrap();
    std::fs::write(
        dir.join("jwks.json"),
        serde_json::to_string(&Jwks {
            keys: vec![key.public_jwk()],
        })
        .unwrap(),
    )
    .unwrap();
    let database = fresh_database().await;
    let prefix = format!("rush-{}", uuid::Uuid::new_v4().simple());
    let mut service = runtime::ServiceSettings::new(database.clone(), redis);
    service.redis_prefix = prefix.clone();
    service.user_jwt_secret = Some(USER_SECRET.into());
    let contract = admission::contract::ContractSettings {
        admission_mac_key: Some(MAC_KEY.into()),
        ..Default::default()
    };
    let sale = sale::App::build(sale::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        operator_api_key: Some(OPERATOR_KEY.into()),
        order_rate_per_user: 50,
        db_max_connections: 8,
        order_writers: 2,
        payment_webhook_secret: Some("whsec-rush".into()),
        search_cursor_key: Some("search-cursor-key-rush-0123456789".into()),
        sandbox_latency_ms: 50,
        sandbox_delayed_ms: 1000,
        contract: contract.clone(),
        ..sale::Config::new(service.clone(), dir.join("jwks.json"))
    })
    .await
    .unwrap();
    let sale_url = format!("http://127.0.0.1:{}", sale.port());
    tokio::spawn(async move { sale.run_until(std::future::pending()).await.unwrap() });
    let mut config = queue::Config {
        listen: "127.0.0.1:0".parse().unwrap(),
        checkout_url: format!("{sale_url}/api/drops/{{drop}}/orders"),
        sale_url: sale_url.clone(),
        max_connections: 10_000,
        join_rate_per_user: 100,
        join_rate_per_ip: 1_000_000,
        join_rate_per_network: 1_000_000,
        contract,
        ..queue::Config::new(service, dir.join("key.pem"))
    };
    tweak(&mut config);
    let queue = queue::App::build(config).await.unwrap();
    let queue_url = format!("http://127.0.0.1:{}", queue.port());
    tokio::spawn(async move { queue.run_until(std::future::pending()).await.unwrap() });
    Stack {
        sale: sale_url,
        queue: queue_url,
        database,
        prefix,
        key: dir.join("key.pem"),
    }
}
