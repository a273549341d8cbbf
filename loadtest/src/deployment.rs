//! The flags that name a deployment, shared by the commands that drive one
//! end to end (`rush`, `soak`, `seats`, `bots`): its services and the
//! secrets a run acts with ([`Services`]), and its stores, read to check
//! the invariants ([`Stores`]).

/// The deployment's services and the secrets a load run acts with.
#[derive(clap::Args, Clone)]
pub struct Services {
    /// The queue service's base URL.
    #[arg(long, env = "QUEUE_URL", default_value = "http://127.0.0.1:8080")]
    pub queue: String,
    /// The sale service's base URL.
    #[arg(long, env = "SALE_URL", default_value = "http://127.0.0.1:8081")]
    pub sale: String,
    /// Operator API key (creates the drop).
    #[arg(long, env = "OPERATOR_API_KEY")]
    pub operator_key: String,
    /// The user-token secret both services trust (USER_JWT_SECRET): fans
    /// sign in with it.
    #[arg(long, env = "USER_JWT_SECRET")]
    pub user_secret: String,
}

/// The deployment's stores, read to check the invariants.
#[derive(clap::Args, Clone)]
pub struct Stores {
    /// PostgreSQL URL of the deployment.
    #[arg(long, env = "DATABASE_URL")]
    pub database: String,
    /// Redis URL of the deployment.
    #[arg(long, env = "REDIS_URL", default_value = "redis://127.0.0.1:6379")]
    pub redis: String,
    /// Redis key prefix of the deployment (REDIS_PREFIX of the services).
    #[arg(long, env = "REDIS_PREFIX", default_value = "lineup")]
    pub redis_prefix: String,
}
