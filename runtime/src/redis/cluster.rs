//! The cluster side: a cluster client with short timeouts, a connection
//! renewed when a dead master leaves redis-rs reconnecting to its address,
//! and the calls that need every master (`CLUSTER NODES`, a command on each
//! master, `SCAN` across masters).

use super::{bounded, Inner, Redis, CALL_DEADLINE};
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, RedisError, RedisResult, Value};
use std::sync::Arc;
use std::time::Duration;

/// A cluster client with the same short timeouts as the single connection:
/// a call waits for a failover at most [`CALL_DEADLINE`] (the caller's
/// bound), retrying meanwhile.
pub(super) fn cluster_builder(nodes: &[String]) -> redis::cluster::ClusterClientBuilder {
    redis::cluster::ClusterClientBuilder::new(nodes.to_vec())
        .connection_timeout(Duration::from_secs(1))
        .response_timeout(Duration::from_secs(2))
        .retries(12)
        .min_retry_wait(50)
        .max_retry_wait(500)
}

/// A cluster connection that is opened anew when calls fail for want of a
/// node. redis-rs (0.32) refreshes its slot map on `MOVED`, but a master
/// that died answers nothing: calls for its slots keep reconnecting to the
/// dead address, even after its replica took over. A new connection reads
/// the slot map afresh from the live nodes (before the promotion it still
/// names the dead master, so this repeats, at most every
/// [`RENEW_AT_MOST_EVERY`], until the failover is done).
pub(super) struct Cluster {
    pub(super) client: redis::cluster::ClusterClient,
    pub(super) connection: std::sync::RwLock<ClusterConnection>,
    pub(super) last_renewal: std::sync::Mutex<Option<std::time::Instant>>,
}

/// A cluster call's own deadline, under [`CALL_DEADLINE`], so that the
/// failure is seen here (and starts a renewal) before the caller gives up.
pub(super) const CLUSTER_CALL_DEADLINE: Duration = Duration::from_millis(2500);
pub(super) const RENEW_AT_MOST_EVERY: Duration = Duration::from_millis(500);

impl Cluster {
    pub(super) fn current(&self) -> ClusterConnection {
        match self.connection.read() {
            Ok(connection) => connection.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Runs `call` on the current connection; on a failure that says a node
    /// is unreachable, opens a new connection in the background.
    pub(super) async fn call<T>(
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

    pub(super) fn renew(self: &Arc<Self>) {
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
pub(super) fn parse_masters(nodes: &str) -> Vec<MasterNode> {
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
