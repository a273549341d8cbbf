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

use futures::{Stream, StreamExt};
use redis::aio::{ConnectionLike, ConnectionManager};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, Pipeline, RedisError, RedisFuture, RedisResult, Value};
use std::pin::Pin;
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

    /// Subscribes to `channels` (plain pub/sub on one Redis, sharded on a
    /// cluster) and yields `(channel, payload)` until the connection is
    /// lost (on a cluster: a connection to any node); the caller subscribes
    /// again.
    pub async fn subscribe(&self, channels: &[String]) -> RedisResult<Subscription> {
        match self {
            Self::Single(url) => {
                let mut pubsub = redis::Client::open(url.as_str())?
                    .get_async_pubsub()
                    .await?;
                pubsub.subscribe(channels).await?;
                let messages = pubsub.into_on_message().filter_map(|message| async move {
                    let payload = message.get_payload::<String>().ok()?;
                    Some((message.get_channel_name().to_string(), payload))
                });
                Ok(Subscription {
                    messages: Box::pin(messages),
                    _cluster: None,
                })
            }
            Self::Cluster(nodes) => {
                let (tx, rx) = tokio::sync::mpsc::channel(SUBSCRIPTION_BUFFER);
                // Never blocks the connection: a full buffer drops the
                // message (see SUBSCRIPTION_BUFFER).
                let sender = move |info: redis::PushInfo| tx.try_send(info);
                let client = cluster_builder(nodes)
                    .use_protocol(redis::ProtocolVersion::RESP3)
                    .push_sender(sender)
                    .build()?;
                let mut connection = client.get_async_connection().await?;
                for channel in channels {
                    connection.ssubscribe(channel).await?;
                }
                // A lost node connection ends the stream: the caller
                // subscribes again with a fresh slot map (after a failover
                // the channel's shard has a new master).
                let messages = tokio_stream_of(rx)
                    .take_while(|info| {
                        let lost = info.kind == redis::PushKind::Disconnection;
                        async move { !lost }
                    })
                    .filter_map(|info| async move {
                        if info.kind != redis::PushKind::SMessage {
                            return None;
                        }
                        let mut data = info.data.into_iter();
                        let channel: String = redis::from_redis_value(&data.next()?).ok()?;
                        let payload: String = redis::from_redis_value(&data.next()?).ok()?;
                        Some((channel, payload))
                    });
                Ok(Subscription {
                    messages: Box::pin(messages),
                    _cluster: Some(connection),
                })
            }
        }
    }
}

/// A cluster client with the same short timeouts as the single connection:
/// a call waits for a failover at most [`CALL_DEADLINE`] (the caller's
/// bound), retrying meanwhile.
fn cluster_builder(nodes: &[String]) -> redis::cluster::ClusterClientBuilder {
    redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(2))
        .retries(12)
        .min_retry_wait(50)
        .max_retry_wait(500)
}

fn tokio_stream_of<T: Send + 'static>(
    mut rx: tokio::sync::mpsc::Receiver<T>,
) -> impl Stream<Item = T> + Send {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

/// Messages of a [`Target::subscribe`]: `(channel, payload)`.
pub struct Subscription {
    messages: Pin<Box<dyn Stream<Item = (String, String)> + Send>>,
    /// Keeps the cluster connection (and so its subscriptions) alive.
    _cluster: Option<ClusterConnection>,
}

impl Subscription {
    /// The next message; `None` once the connection is lost.
    pub async fn next(&mut self) -> Option<(String, String)> {
        self.messages.next().await
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

/// A cluster connection that is opened anew when calls fail for want of a
/// node. redis-rs (0.32) refreshes its slot map on `MOVED`, but a master
/// that died answers nothing: calls for its slots keep reconnecting to the
/// dead address, even after its replica took over. A new connection reads
/// the slot map afresh from the live nodes (before the promotion it still
/// names the dead master, so this repeats, at most every
/// [`RENEW_AT_MOST_EVERY`], until the failover is done).
struct Cluster {
    client: redis::cluster::ClusterClient,
    connection: std::sync::RwLock<ClusterConnection>,
    last_renewal: std::sync::Mutex<Option<std::time::Instant>>,
}

/// A cluster call's own deadline, under [`CALL_DEADLINE`], so that the
/// failure is seen here (and starts a renewal) before the caller gives up.
const CLUSTER_CALL_DEADLINE: Duration = Duration::from_millis(2500);
const RENEW_AT_MOST_EVERY: Duration = Duration::from_millis(500);

impl Cluster {
    fn current(&self) -> ClusterConnection {
        match self.connection.read() {
            Ok(connection) => connection.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs `call` on the current connection; on a failure that says a node
    /// is unreachable, opens a new connection in the background.
    async fn call<T>(
        self: &Arc<Self>,
        call: impl std::future::Future<Output = RedisResult<T>>,
    ) -> RedisResult<T> {
        let result = tokio::time::timeout(CLUSTER_CALL_DEADLINE, call)
            .await
            .unwrap_or_else(|_| {
                Err(RedisError::from((
                    redis::ErrorKind::IoError,
                    "Redis Cluster did not answer in time",
                )))
            });
        if let Err(error) = &result {
            if error.is_io_error()
                || error.is_timeout()
                || error.is_connection_dropped()
                || error.is_connection_refusal()
                || matches!(
                    error.kind(),
                    redis::ErrorKind::ClusterDown | redis::ErrorKind::ClusterConnectionNotFound
                )
            {
                self.renew();
            }
        }
        result
    }

    fn renew(self: &Arc<Self>) {
        {
            let Ok(mut last) = self.last_renewal.lock() else {
                return;
            };
            if last.is_some_and(|at| at.elapsed() < RENEW_AT_MOST_EVERY) {
                return;
            }
            *last = Some(std::time::Instant::now());
        }
        let cluster = self.clone();
        tokio::spawn(async move {
            match tokio::time::timeout(CALL_DEADLINE, cluster.client.get_async_connection()).await {
                Ok(Ok(connection)) => {
                    if let Ok(mut current) = cluster.connection.write() {
                        *current = connection;
                    }
                    tracing::info!("Redis Cluster connection renewed (slot map read afresh)");
                }
                Ok(Err(error)) => tracing::debug!(%error, "Redis Cluster: renewal failed"),
                Err(_) => tracing::debug!("Redis Cluster: renewal timed out"),
            }
        });
    }
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

    /// The masters of a cluster, by address (from `CLUSTER NODES`: masters
    /// serving slots, not marked failed); empty on a single Redis.
    pub async fn masters(&self) -> RedisResult<Vec<(String, u16)>> {
        Ok(self
            .master_nodes()
            .await?
            .into_iter()
            .map(|node| (node.host, node.port))
            .collect())
    }

    /// The masters of a cluster with their node ids (a replica promoted by
    /// a failover shows up as a new id); empty on a single Redis.
    pub async fn master_nodes(&self) -> RedisResult<Vec<MasterNode>> {
        let Inner::Cluster(cluster) = &self.0 else {
            return Ok(Vec::new());
        };
        let mut connection = cluster.current();
        let nodes: String = bounded(
            redis::cmd("CLUSTER")
                .arg("NODES")
                .query_async(&mut connection),
        )
        .await?;
        Ok(parse_masters(&nodes))
    }

    /// Runs `command` on every master (on the one Redis when single) and
    /// returns each reply: for node-local commands such as `SCAN`, `INFO`,
    /// `DBSIZE`, which a cluster client would otherwise send to one node.
    pub async fn on_each_master(&self, command: &Cmd) -> RedisResult<Vec<Value>> {
        let Inner::Cluster(cluster) = &self.0 else {
            let mut connection = self.clone();
            return Ok(vec![bounded(command.query_async(&mut connection)).await?]);
        };
        let connection = cluster.current();
        let masters = self.masters().await?;
        let replies = futures::future::try_join_all(masters.into_iter().map(|(host, port)| {
            let mut connection = connection.clone();
            async move {
                let route = redis::cluster_routing::RoutingInfo::SingleNode(
                    redis::cluster_routing::SingleNodeRoutingInfo::ByAddress { host, port },
                );
                bounded(connection.route_command(command, route)).await
            }
        }));
        replies.await
    }

    /// Every key matching `pattern`, scanned node by node on a cluster (a
    /// `SCAN` cursor belongs to one node). For tools and tests, not for a
    /// request path.
    pub async fn scan_match(&self, pattern: &str) -> RedisResult<Vec<String>> {
        let mut keys = Vec::new();
        let masters = match &self.0 {
            Inner::Single(_) => vec![None],
            Inner::Cluster(_) => self.masters().await?.into_iter().map(Some).collect(),
        };
        for master in masters {
            let mut cursor = 0u64;
            loop {
                let mut command = redis::cmd("SCAN");
                command
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(10_000);
                let reply = match (&self.0, &master) {
                    (Inner::Cluster(cluster), Some((host, port))) => {
                        let mut connection = cluster.current();
                        let route = redis::cluster_routing::RoutingInfo::SingleNode(
                            redis::cluster_routing::SingleNodeRoutingInfo::ByAddress {
                                host: host.clone(),
                                port: *port,
                            },
                        );
                        bounded(connection.route_command(&command, route)).await?
                    }
                    _ => bounded(command.query_async(&mut self.clone())).await?,
                };
                let (next, found): (u64, Vec<String>) = redis::from_redis_value(&reply)?;
                keys.extend(found);
                if next == 0 {
                    break;
                }
                cursor = next;
            }
        }
        Ok(keys)
    }
}

/// A master of a cluster serving slots.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterNode {
    pub id: String,
    pub host: String,
    pub port: u16,
}

/// Masters serving slots in `CLUSTER NODES` output.
fn parse_masters(nodes: &str) -> Vec<MasterNode> {
    nodes
        .lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let flags = fields.get(2)?;
            let serving = fields.len() > 8;
            if !flags.split(',').any(|f| f == "master") || flags.contains("fail") || !serving {
                return None;
            }
            let address = fields.get(1)?.split('@').next()?;
            let (host, port) = address.rsplit_once(':')?;
            Some(MasterNode {
                id: fields.first()?.to_string(),
                host: host.to_string(),
                port: port.parse().ok()?,
            })
        })
        .collect()
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
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn one_url_is_one_redis_and_several_are_a_cluster() {
        assert_eq!(
            Target::parse("redis://127.0.0.1:6379").unwrap(),
            Target::Single("redis://127.0.0.1:6379".into())
        );
        assert_eq!(
            Target::parse("redis+cluster://:pw@10.0.0.1:7000,10.0.0.2:7001/").unwrap(),
            Target::Cluster(vec![
                "redis://:pw@10.0.0.1:7000/".into(),
                "redis://:pw@10.0.0.2:7001/".into()
            ])
        );
        assert_eq!(
            Target::parse("redis://a:1, redis://b:2").unwrap(),
            Target::Cluster(vec!["redis://a:1".into(), "redis://b:2".into()])
        );
        let nodes = "07c3 127.0.0.1:30001@40001 myself,master - 0 0 1 connected 0-5460\n\
            9a1e 127.0.0.1:30004@40004 slave 07c3 0 1 4 connected\n\
            e5f2 127.0.0.1:30002@40002 master,fail - 0 1 2 disconnected 5461-10922\n\
            b0aa 127.0.0.1:30005@40005 master - 0 1 7 connected 5461-10922\n";
        let masters: Vec<(String, String, u16)> = parse_masters(nodes)
            .into_iter()
            .map(|m| (m.id, m.host, m.port))
            .collect();
        assert_eq!(
            masters,
            vec![
                ("07c3".into(), "127.0.0.1".into(), 30001),
                ("b0aa".into(), "127.0.0.1".into(), 30005)
            ]
        );
        for bad in [
            "redis+cluster://",
            "redis+cluster:///",
            "nonsense",
            "redis://a:1,oops",
        ] {
            assert!(Target::parse(bad).is_err(), "{bad}");
        }
    }
}
