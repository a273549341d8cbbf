//! How every part of Lineup reaches Redis, single node or Redis Cluster, from
//! one setting (`REDIS_URL`):
//!
//! - `redis://host:port/` — one Redis (a connection manager that reconnects
//!   within a second);
//! - `redis+cluster://host:port,host:port,…/` (or several `redis://` URLs
//!   separated by commas) — a Redis Cluster, through the `redis` crate's
//!   cluster client: each command goes to the master of its key's slot,
//!   `EVALSHA` by its first key, a script flushed by a failover is loaded
//!   again after `NOSCRIPT`, `MOVED`/`ASK` and topology changes are followed.
//!
//! [`Redis`] is the one connection type the services hold (cheap to clone);
//! [`Target`] is the parsed setting, which also opens subscriptions: plain
//! pub/sub on one Redis, sharded pub/sub (`SSUBSCRIBE`/`SPUBLISH`, Redis 7)
//! on a cluster, where a plain `PUBLISH` would be broadcast to every node.
//! Every call is bounded by [`CALL_DEADLINE`] through [`bounded`], so an
//! outage or a failover answers 503 promptly instead of hanging requests.
//!
//! - [`cluster`]: the cluster client, its renewal after a master dies, and
//!   the calls that reach every master.
//! - [`pubsub`]: subscriptions, plain or sharded.
//! - [`script`]: a Lua script's call written into one command.

mod cluster;
mod pubsub;
mod script;

pub use cluster::MasterNode;
use cluster::{cluster_builder, Cluster};
pub use pubsub::Subscription;
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
pub use script::ScriptCall;
use std::sync::Arc;
use std::time::Duration;

/// Longest any Redis call may take, reconnects included: past it the caller
/// gets an error (answered 503), never a hanging request.
pub const CALL_DEADLINE: Duration = Duration::from_secs(3);

/// Messages a subscription holds for its reader before dropping new ones
/// (announcements are hints: a fan missing one learns it at its next exact
/// refresh).
const SUBSCRIPTION_BUFFER: usize = 4096;

/// The Redis a deployment uses, parsed from `REDIS_URL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// One Redis.
    Single(String),
    /// A Redis Cluster, by the URLs of some of its nodes (any of them; the
    /// client learns the rest).
    Cluster(Vec<String>),
}

impl Target {
    /// `redis://…` is one Redis; `redis+cluster://a:1,b:2/` (user and
    /// password, if any, before the first host apply to every node) or
    /// `redis://a:1,redis://b:2` is a cluster.
    pub fn parse(url: &str) -> RedisResult<Self> {
        let url = url.trim();
        let invalid = |what: &str| {
            RedisError::from((
                redis::ErrorKind::InvalidClientConfig,
                "invalid REDIS_URL",
                what.to_string(),
            ))
        };
        if let Some(rest) = url.strip_prefix("redis+cluster://") {
            let (userinfo, hosts) = match rest.rsplit_once('@') {
                Some((userinfo, hosts)) => (format!("{userinfo}@"), hosts),
                None => (String::new(), rest),
            };
            let hosts = hosts.trim_end_matches('/');
            let nodes: Vec<String> = hosts
                .split(',')
                .map(str::trim)
                .filter(|host| !host.is_empty())
                .map(|host| format!("redis://{userinfo}{host}/"))
                .collect();
            if nodes.is_empty() {
                return Err(invalid("redis+cluster:// names no node"));
            }
            for node in &nodes {
                redis::parse_redis_url(node).ok_or_else(|| invalid(node))?;
            }
            return Ok(Self::Cluster(nodes));
        }
        if url.contains(',') {
            let nodes: Vec<String> = url
                .split(',')
                .map(str::trim)
                .filter(|node| !node.is_empty())
                .map(str::to_string)
                .collect();
            for node in &nodes {
                redis::parse_redis_url(node).ok_or_else(|| invalid(node))?;
            }
            return Ok(Self::Cluster(nodes));
        }
        redis::parse_redis_url(url).ok_or_else(|| invalid(url))?;
        Ok(Self::Single(url.to_string()))
    }

    pub fn is_cluster(&self) -> bool {
        matches!(self, Self::Cluster(_))
    }

    /// Opens the connection. On a cluster it fails unless at least one
    /// node answers with the slot map.
    pub async fn connect(&self) -> RedisResult<Redis> {
        match self {
            Self::Single(url) => {
                let config = redis::aio::ConnectionManagerConfig::new()
                    .set_connection_timeout(Duration::from_secs(1))
                    .set_response_timeout(Duration::from_secs(2))
                    .set_number_of_retries(2)
                    .set_factor(2)
                    .set_max_delay(250);
                let client = redis::Client::open(url.as_str())?;
                let manager = ConnectionManager::new_with_config(client, config).await?;
                Ok(Redis(Inner::Single(manager)))
            }
            Self::Cluster(nodes) => {
                let client = cluster_builder(nodes).build()?;
                let connection = client.get_async_connection().await?;
                Ok(Redis(Inner::Cluster(Arc::new(Cluster {
                    client,
                    connection: std::sync::RwLock::new(connection),
                    last_renewal: std::sync::Mutex::new(None),
                }))))
            }
        }
    }
}

/// The connection to a deployment's Redis, one node or a cluster; clone it
/// freely (clones share the connection). Use it as any `redis` connection
/// (`query_async`, `Script::invoke_async`): on a cluster every command goes
/// to its key's master.
#[derive(Clone)]
pub struct Redis(Inner);

#[derive(Clone)]
enum Inner {
    Single(ConnectionManager),
    Cluster(Arc<Cluster>),
}

impl Redis {
    pub fn is_cluster(&self) -> bool {
        matches!(self.0, Inner::Cluster(_))
    }

    /// `PUBLISH` on one Redis, `SPUBLISH` (to the shard of the channel's
    /// slot) on a cluster, matching [`Target::subscribe`].
    pub fn publish_cmd(&self, channel: &str, message: &str) -> Cmd {
        let mut command = redis::cmd(if self.is_cluster() {
            "SPUBLISH"
        } else {
            "PUBLISH"
        });
        command.arg(channel).arg(message);
        command
    }

    /// The values of `fields` in the hash at `key` (HMGET, bounded), `None`
    /// where a field is missing; no call at all for no fields.
    pub async fn hash_values(
        &self,
        key: &str,
        fields: &[String],
    ) -> RedisResult<Vec<Option<String>>> {
        if fields.is_empty() {
            return Ok(Vec::new());
        }
        let mut command = redis::cmd("HMGET");
        command.arg(key).arg(fields);
        bounded(command.query_async(&mut self.clone())).await
    }

    /// Runs groups of commands, each group's keys in one slot (one drop's),
    /// and returns every reply in order: one pipeline, one round trip, on a
    /// single Redis; one pipeline per group, concurrently, on a cluster
    /// (where a pipeline may not span slots).
    pub async fn query_groups(&self, groups: &[Pipeline]) -> RedisResult<Vec<Value>> {
        let mut connection = self.clone();
        if !self.is_cluster() {
            let mut all = redis::pipe();
            for group in groups {
                for command in group.cmd_iter() {
                    all.add_command(command.clone());
                }
            }
            return bounded(all.query_async(&mut connection)).await;
        }
        let replies = futures::future::try_join_all(groups.iter().map(|group| {
            let mut connection = self.clone();
            async move { group.query_async::<Vec<Value>>(&mut connection).await }
        }));
        Ok(bounded(replies).await?.into_iter().flatten().collect())
    }
}

impl ConnectionLike for Redis {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match &mut self.0 {
            Inner::Single(connection) => connection.req_packed_command(cmd),
            Inner::Cluster(cluster) => {
                let cluster = cluster.clone();
                Box::pin(async move {
                    let mut connection = cluster.current();
                    cluster.call(connection.req_packed_command(cmd)).await
                })
            }
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match &mut self.0 {
            Inner::Single(connection) => connection.req_packed_commands(cmd, offset, count),
            Inner::Cluster(cluster) => {
                let cluster = cluster.clone();
                Box::pin(async move {
                    let mut connection = cluster.current();
                    cluster
                        .call(connection.req_packed_commands(cmd, offset, count))
                        .await
                })
            }
        }
    }

    fn get_db(&self) -> i64 {
        match &self.0 {
            Inner::Single(connection) => connection.get_db(),
            Inner::Cluster(cluster) => cluster.current().get_db(),
        }
    }
}

/// Parses `url` and connects: the one call a service makes at start.
pub async fn connect(url: &str) -> RedisResult<Redis> {
    Target::parse(url)?.connect().await
}

/// Runs a Redis call with [`CALL_DEADLINE`].
pub async fn bounded<T>(
    call: impl std::future::Future<Output = redis::RedisResult<T>>,
) -> redis::RedisResult<T> {
    tokio::time::timeout(CALL_DEADLINE, call)
        .await
        .unwrap_or_else(|_| {
            Err(redis::RedisError::from((
                redis::ErrorKind::IoError,
                "Redis did not answer in time",
            )))
        })
}

#[cfg(test)]
mod tests;
