//! A private Redis Cluster for tests: `masters` masters and one replica
//! each, Debian's `redis-server` on free loopback ports
//! (`REDIS_SERVER_BIN`, `REDIS_CLI_BIN` to point elsewhere), without
//! persistence, `cluster-node-timeout` 2000 ms; every process is killed when
//! the value is dropped.

use std::time::{Duration, Instant};

pub struct PrivateCluster {
    pub ports: Vec<u16>,
    dir: std::path::PathBuf,
    children: Vec<Option<tokio::process::Child>>,
}

fn free_port() -> u16 {
    // Cluster nodes also listen on port + 10000 (the bus): keep both free.
    loop {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        if port < 55_000 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return port;
        }
    }
}

impl PrivateCluster {
    /// Starts the nodes, joins them (`redis-cli --cluster create`) and
    /// waits until every slot is served and every replica has synced.
    pub async fn start(masters: usize, replicas: bool) -> Self {
        let dir = std::env::temp_dir().join(format!("lineup-cluster-{}", uuid::Uuid::new_v4()));
        let count = if replicas { masters * 2 } else { masters };
        let mut cluster = Self {
            ports: (0..count).map(|_| free_port()).collect(),
            dir,
            children: Vec::new(),
        };
        for n in 0..count {
            cluster.children.push(None);
            cluster.spawn(n);
        }
        for port in cluster.ports.clone() {
            wait_for_ping(port).await;
        }
        let cli = std::env::var("REDIS_CLI_BIN").unwrap_or_else(|_| "redis-cli".into());
        let created = tokio::process::Command::new(&cli)
            .arg("--cluster")
            .arg("create")
            .args(cluster.ports.iter().map(|p| format!("127.0.0.1:{p}")))
            .args(["--cluster-replicas", if replicas { "1" } else { "0" }])
            .arg("--cluster-yes")
            .output()
            .await
            .unwrap_or_else(|e| panic!("running {cli} (install redis-tools): {e}"));
        assert!(
            created.status.success(),
            "redis-cli --cluster create: {}",
            String::from_utf8_lossy(&created.stdout)
        );
        cluster.wait_until_healthy(Duration::from_secs(30)).await;
        cluster
    }

    fn spawn(&mut self, n: usize) {
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let dir = self.dir.join(format!("node-{n}"));
        std::fs::create_dir_all(&dir).unwrap();
        let child = tokio::process::Command::new(&bin)
            .args(["--port", &self.ports[n].to_string(), "--bind", "127.0.0.1"])
            .args(["--cluster-enabled", "yes", "--cluster-node-timeout", "2000"])
            .args(["--cluster-config-file", "nodes.conf"])
            .args(["--save", "", "--appendonly", "no"])
            .arg("--dir")
            .arg(&dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("starting {bin} (install redis-server): {e}"));
        self.children[n] = Some(child);
    }

    /// SIGKILL of the node on `port`.
    pub async fn kill(&mut self, port: u16) {
        let n = self.ports.iter().position(|p| *p == port).unwrap();
        if let Some(mut child) = self.children[n].take() {
            child.start_kill().unwrap();
            child.wait().await.unwrap();
        }
    }

    /// The port of the master serving `key` (the others answer `MOVED`).
    pub async fn master_of(&self, key: &str) -> u16 {
        for (n, port) in self.ports.iter().enumerate() {
            if self.children[n].is_none() {
                continue;
            }
            let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).unwrap();
            let mut conn = client.get_multiplexed_async_connection().await.unwrap();
            let role: Vec<redis::Value> = redis::cmd("ROLE").query_async(&mut conn).await.unwrap();
            let master =
                matches!(role.first(), Some(redis::Value::BulkString(b)) if b == b"master");
            let owns = redis::cmd("EXISTS")
                .arg(key)
                .query_async::<i64>(&mut conn)
                .await
                .is_ok();
            if master && owns {
                return *port;
            }
        }
        panic!("no master serves {key}");
    }

    /// The `REDIS_URL` of this cluster.
    pub fn url(&self) -> String {
        let nodes: Vec<String> = self
            .ports
            .iter()
            .map(|p| format!("127.0.0.1:{p}"))
            .collect();
        format!("redis+cluster://{}/", nodes.join(","))
    }

    /// Every live node says `cluster_state:ok` and every replica's link to
    /// its master is up.
    pub async fn wait_until_healthy(&self, within: Duration) {
        let deadline = Instant::now() + within;
        'retry: loop {
            assert!(Instant::now() < deadline, "cluster not healthy in time");
            tokio::time::sleep(Duration::from_millis(200)).await;
            for (n, port) in self.ports.iter().enumerate() {
                if self.children[n].is_none() {
                    continue;
                }
                let Some(info) = node_info(*port, "CLUSTER", Some("INFO")).await else {
                    continue 'retry;
                };
                if !info.contains("cluster_state:ok") {
                    continue 'retry;
                }
                let Some(replication) = node_info(*port, "INFO", Some("replication")).await else {
                    continue 'retry;
                };
                if replication.contains("role:slave")
                    && !replication.contains("master_link_status:up")
                {
                    continue 'retry;
                }
            }
            return;
        }
    }
}

async fn node_info(port: u16, command: &str, arg: Option<&str>) -> Option<String> {
    let client = redis::Client::open(format!("redis://127.0.0.1:{port}")).ok()?;
    let mut conn = client.get_multiplexed_async_connection().await.ok()?;
    let mut cmd = redis::cmd(command);
    if let Some(arg) = arg {
        cmd.arg(arg);
    }
    cmd.query_async(&mut conn).await.ok()
}

async fn wait_for_ping(port: u16) {
    for _ in 0..200 {
        if node_info(port, "PING", None).await.is_some() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("redis-server on {port} did not start");
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        for child in self.children.iter_mut().flatten() {
            let _ = child.start_kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
