//! Proof of work's join rates are every queue node's: challenges asked on
//! one node raise the difficulty another hands out once both have shared
//! their counts (driven by hand here; about a second apart in service), per
//! drop and per network (/24, /64); a cold drop stays at the base; with
//! Redis gone a node goes on with its own counts. On one Redis, on a Redis
//! Cluster (loadtest's private-cluster harness), and through two queue
//! services sharing on their own.
#![allow(clippy::unwrap_used)]

#[path = "../../loadtest/tests/common/cluster.rs"]
#[allow(dead_code)]
mod cluster;
mod common;

use common::{Deployment, Node};
use queue::pow::ProofOfWork;
use runtime::redis::Redis;
use std::net::IpAddr;
use std::time::{Duration, Instant};

const KEY: &[u8] = b"test-pow-key-0123456789abcdef0123";
const BASE: u64 = 1_000;

fn node(redis: &Redis, prefix: &str, drop_knee: u64, network_knee: u64) -> ProofOfWork {
    ProofOfWork::new(KEY, BASE, Duration::from_secs(60), redis.clone(), prefix)
        .with_knees(drop_knee, network_knee)
}

fn prefix() -> String {
    format!("heat-test-{}", uuid::Uuid::new_v4().simple())
}

fn ip(text: &str) -> IpAddr {
    text.parse().unwrap()
}

/// `n` challenges of `drop` asked from `from`; the last one's difficulty.
async fn ask(node: &ProofOfWork, drop: &str, from: &str, n: usize) -> u64 {
    let mut last = 0;
    for _ in 0..n {
        last = node.difficulty(drop, ip(from)).await;
    }
    last
}

/// Per drop, across two nodes: 310 challenges in the window on A (31 a
/// second, knee 10: 8x) reach B at its next share, not before; a cold drop
/// stays at the base on both.
async fn a_hot_drop_on_one_node_is_hot_on_the_other(redis: &Redis) {
    let prefix = prefix();
    let a = node(redis, &prefix, 10, 1_000_000);
    let b = node(redis, &prefix, 10, 1_000_000);
    assert_eq!(b.difficulty("hot", ip("192.0.2.1")).await, BASE);
    assert_eq!(ask(&a, "hot", "198.51.100.1", 310).await, 8 * BASE);
    // No share yet: B knows only its own counts.
    assert_eq!(b.difficulty("hot", ip("192.0.2.1")).await, BASE);
    a.share_heat().await.unwrap();
    b.share_heat().await.unwrap();
    // B's view: every node's 311 (the estimate slides, so at least 20 a
    // second even if a 10 s window turned meanwhile).
    assert!(
        b.heat()
            .rate(&queue::pow::heat::Subject::Drop("hot".into()))
            >= 20
    );
    assert!(b.difficulty("hot", ip("192.0.2.1")).await >= 4 * BASE);
    // A cold drop is at the base on both, after shares too.
    assert_eq!(b.difficulty("cold", ip("192.0.2.2")).await, BASE);
    a.share_heat().await.unwrap();
    b.share_heat().await.unwrap();
    assert_eq!(a.difficulty("cold", ip("198.51.100.1")).await, BASE);
    assert_eq!(b.difficulty("cold", ip("192.0.2.2")).await, BASE);
}

/// Per network, across two nodes: a /24 asking 6 a second on A (knee 2:
/// 8x) is asked more on B from another address of it; another /24 is not;
/// the same for a /64.
async fn a_hot_network_on_one_node_is_hot_on_the_other(redis: &Redis) {
    let prefix = prefix();
    let a = node(redis, &prefix, 1_000_000, 2);
    let b = node(redis, &prefix, 1_000_000, 2);
    assert_eq!(b.difficulty("d", ip("203.0.113.200")).await, BASE);
    assert_eq!(b.difficulty("d", ip("2001:db8:1:2::99")).await, BASE);
    assert_eq!(ask(&a, "d", "203.0.113.7", 65).await, 8 * BASE);
    assert_eq!(ask(&a, "d", "2001:db8:1:2::7", 65).await, 8 * BASE);
    a.share_heat().await.unwrap();
    b.share_heat().await.unwrap();
    assert!(b.difficulty("d", ip("203.0.113.99")).await >= 4 * BASE);
    assert!(b.difficulty("d", ip("2001:db8:1:2:ffff::1")).await >= 4 * BASE);
    assert_eq!(b.difficulty("d", ip("203.0.114.1")).await, BASE);
    assert_eq!(b.difficulty("d", ip("2001:db8:1:3::1")).await, BASE);
}

#[tokio::test]
async fn a_drop_hot_on_one_node_is_hot_on_another_and_a_cold_one_stays_at_the_base() {
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    a_hot_drop_on_one_node_is_hot_on_the_other(&redis).await;
}

#[tokio::test]
async fn a_network_hot_on_one_node_is_hot_on_another() {
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    a_hot_network_on_one_node_is_hot_on_the_other(&redis).await;
}

/// The shared counters: one per drop under its hash tag, one per network
/// under a shard's tag, each with a lifetime (two windows and a bit).
#[tokio::test]
async fn the_shared_counters_expire_and_sit_under_their_tags() {
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    let prefix = prefix();
    let a = node(&redis, &prefix, 10, 2);
    ask(&a, "d", "203.0.113.7", 5).await;
    a.share_heat().await.unwrap();
    let mut connection = redis.clone();
    let keys: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}:*"))
        .query_async(&mut connection)
        .await
        .unwrap();
    assert_eq!(keys.len(), 2, "{keys:?}");
    let drop_key = keys
        .iter()
        .find(|k| k.starts_with(&format!("{prefix}:{{d}}:heat:")))
        .unwrap();
    let network_key = keys
        .iter()
        .find(|k| k.contains(":net:203.0.113.0:"))
        .unwrap();
    assert!(network_key.starts_with(&format!("{prefix}:{{heat-")));
    for key in [drop_key, network_key] {
        let count: u64 = redis::cmd("GET")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert_eq!(count, 5);
        let ttl: i64 = redis::cmd("PTTL")
            .arg(key)
            .query_async(&mut connection)
            .await
            .unwrap();
        assert!((20_000..=25_000).contains(&ttl), "{key}: {ttl}");
    }
}

/// A share of one drop and the most networks one carries is one
/// pipeline: its time printed (`-- --nocapture`), bounded loosely here.
#[tokio::test]
async fn a_full_share_is_one_pipeline() {
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    let prefix = prefix();
    let a = node(&redis, &prefix, 10, 2);
    let networks = queue::pow::heat::MAX_SHARED_NETWORKS as u32 + 100;
    for i in 0..networks {
        a.difficulty("d", IpAddr::from((0x0a00_0001 + (i << 8)).to_be_bytes()))
            .await;
    }
    let started = Instant::now();
    a.share_heat().await.unwrap();
    let first = started.elapsed();
    let started = Instant::now();
    a.share_heat().await.unwrap();
    let again = started.elapsed();
    println!(
        "pow heat share: 1 drop + {} networks with counts {first:?}; the next (the 100 left over added, the rest read back) {again:?}",
        queue::pow::heat::MAX_SHARED_NETWORKS
    );
    assert!(first < Duration::from_secs(2));
}

/// A private `redis-server` on a free port, killed when dropped.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    async fn start() -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let bin = std::env::var("REDIS_SERVER_BIN").unwrap_or_else(|_| "redis-server".into());
        let child = std::process::Command::new(bin)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Self { child, port }
    }

    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn with_redis_gone_a_node_goes_on_with_its_own_counts() {
    let mut server = PrivateRedis::start().await;
    let redis = runtime::redis::connect(&format!("redis://127.0.0.1:{}", server.port))
        .await
        .unwrap();
    let prefix = prefix();
    let a = node(&redis, &prefix, 10, 1_000_000);
    let b = node(&redis, &prefix, 10, 1_000_000);
    b.difficulty("d", ip("192.0.2.1")).await;
    ask(&a, "d", "198.51.100.1", 310).await;
    a.share_heat().await.unwrap();
    b.share_heat().await.unwrap();
    assert!(b.difficulty("d", ip("192.0.2.1")).await >= 4 * BASE);

    server.kill();
    let started = Instant::now();
    assert!(a.share_heat().await.is_err());
    assert!(b.share_heat().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(8));
    // A keeps its own 310; B, which counted 3, drops everyone's totals.
    assert!(a.difficulty("d", ip("198.51.100.1")).await >= 4 * BASE);
    assert_eq!(b.difficulty("d", ip("192.0.2.1")).await, BASE);
    // Challenges are still handed out at once (no Redis on that path).
    let started = Instant::now();
    for _ in 0..1_000 {
        a.difficulty("d", ip("198.51.100.1")).await;
    }
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// The same two nodes on a Redis Cluster of three masters: the drop's and
/// the networks' counters are in different slots, shared in one pipeline
/// per slot group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_redis_cluster_the_rates_are_shared_too() {
    let cluster = cluster::PrivateCluster::start(3, false).await;
    let redis = runtime::redis::connect(&cluster.url()).await.unwrap();
    assert!(redis.is_cluster());
    a_hot_drop_on_one_node_is_hot_on_the_other(&redis).await;
    a_hot_network_on_one_node_is_hot_on_the_other(&redis).await;
}

/// Two queue services on one deployment, each sharing on its own every
/// second (`POW_HEAT_SHARE_MS`, default): 105 challenges from one /24 on
/// node A raise what node B asks of that /24 within about two seconds.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_services_share_the_rates_within_two_seconds() {
    let deployment = Deployment::new().await;
    deployment.create_drop("heat", 100, 1.0, 100, 0).await;
    let tweak = |config: &mut queue::Config| {
        config.pow_base_maxnumber = BASE;
        config.pow_key = Some(String::from_utf8(KEY.to_vec()).unwrap());
    };
    let a = Node::start(&deployment, tweak).await;
    let b = Node::start(&deployment, tweak).await;
    a.knows("heat").await;
    b.knows("heat").await;
    let maxnumber = |node: &Node, user: String| {
        let request = node
            .http
            .get(node.url("/api/drops/heat/queue/challenge"))
            .bearer_auth(deployment.user_token(&user));
        async move {
            let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
            body["maxnumber"].as_u64().unwrap()
        }
    };
    assert_eq!(maxnumber(&b, "b0".into()).await, BASE);
    let mut last = 0;
    for i in 0..105 {
        last = maxnumber(&a, format!("a{i}")).await;
    }
    // 105 in the window from 127.0.0.0/24: 10 a second, knee 2: 32x
    // (16x should a 10 s window turn meanwhile).
    assert!(last >= 16 * BASE, "{last}");
    let asked = Instant::now();
    let mut seen = BASE;
    for i in 0.. {
        seen = maxnumber(&b, format!("b{}", i + 1)).await;
        if seen >= 8 * BASE || asked.elapsed() > Duration::from_secs(4) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let took = asked.elapsed();
    println!("node B asked {seen} ({}x) after {took:?}", seen / BASE);
    // B alone counted at most ~40 (4 a second: 2 steps, 4x).
    assert!(seen >= 8 * BASE, "{seen}");
    // At most two share ticks (A's, then B's) of a second, and slack for
    // a loaded machine.
    assert!(took < Duration::from_millis(3_000), "{took:?}");
    a.shut_down().await;
    b.shut_down().await;
}

/// A farm's burst split over two nodes behind a round-robin balancer,
/// faster than any share: once its /24 is warm on a node, each challenge
/// there is shared at once, so the burst meets (nearly) its whole rate on
/// both nodes, not half of it on each.
#[tokio::test]
async fn a_burst_split_over_two_nodes_meets_its_whole_rate() {
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    let prefix = prefix();
    // Only the network's rate counts (knee 1 a second: a step per 10
    // challenges in the window).
    let a = node(&redis, &prefix, 1_000_000, 1);
    let b = node(&redis, &prefix, 1_000_000, 1);
    let mut last = 0;
    for i in 0..40 {
        let node = if i % 2 == 0 { &a } else { &b };
        last = node.difficulty("d", ip("198.18.0.9")).await;
    }
    // One node alone counts 40 (16x); each half alone 20 (4x). Without a
    // share, the last challenge on B sees at least 36 of them.
    assert!(last >= 8 * BASE, "{last}");
    // A home network (one challenge) is never shared on its path.
    assert_eq!(b.difficulty("d", ip("192.0.2.1")).await, BASE);
}
