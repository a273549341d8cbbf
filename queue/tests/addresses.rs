//! Client addresses behind proxies: forwarding headers count only from a
//! trusted proxy, and joins are limited per address and per /24 or /64.
#![allow(clippy::unwrap_used)]

mod common;

use common::{Deployment, Node};

async fn join_from(node: &Node, deployment: &Deployment, user: &str, xff: &str) -> u16 {
    node.http
        .post(node.url("/api/drops/addr/queue"))
        .bearer_auth(deployment.user_token(user))
        .header("x-forwarded-for", xff)
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// From an untrusted peer, a forged `X-Forwarded-For` changes nothing: the
/// connection's address is limited (2 a second per address, burst 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_forged_forwarded_for_from_an_untrusted_peer_is_ignored() {
    let deployment = Deployment::new().await;
    deployment.create_drop("addr", 100, 1.0, 100, 0).await;
    let node = Node::start(&deployment, |config| config.join_rate_per_ip = 2).await;
    node.knows("addr").await;
    let mut statuses = Vec::new();
    for n in 0..8 {
        statuses.push(
            join_from(
                &node,
                &deployment,
                &format!("f{n}"),
                &format!("198.51.{n}.1"),
            )
            .await,
        );
    }
    assert!(statuses[..4].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        statuses[4..].contains(&429),
        "one address, one limit: {statuses:?}"
    );
}

/// Behind a trusted proxy each forwarded address has its own limit, and
/// addresses of one /24 (or /64) share the network's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn behind_a_trusted_proxy_addresses_and_networks_are_limited() {
    let deployment = Deployment::new().await;
    deployment.create_drop("addr", 100, 1.0, 100, 0).await;
    let node = Node::start(&deployment, |config| {
        config.service.trusted_proxies = "127.0.0.0/8, ::1".into();
        config.join_rate_per_ip = 2;
        config.join_rate_per_network = 3;
    })
    .await;
    node.knows("addr").await;
    // Eight addresses in eight networks: none limited (a forged entry on the
    // left is skipped: the proxy appended the real one on the right).
    for n in 0..8 {
        let chain = format!("6.6.6.6, 203.0.{n}.9");
        assert_eq!(
            join_from(&node, &deployment, &format!("a{n}"), &chain).await,
            200
        );
    }
    // Ten addresses of one /24: the network's burst (6) runs out.
    let mut statuses = Vec::new();
    for n in 0..10 {
        statuses.push(
            join_from(
                &node,
                &deployment,
                &format!("b{n}"),
                &format!("192.0.2.{n}"),
            )
            .await,
        );
    }
    let admitted = |statuses: &[u16]| statuses.iter().filter(|s| **s == 200).count();
    assert!(statuses[..6].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(
        admitted(&statuses) <= 7,
        "a slow machine may refill one: {statuses:?}"
    );
    // Likewise one IPv6 /64.
    let mut statuses = Vec::new();
    for n in 0..10 {
        let ip = format!("2001:db8:aa:bb::{n:x}");
        statuses.push(join_from(&node, &deployment, &format!("c{n}"), &ip).await);
    }
    assert!(admitted(&statuses) <= 7, "{statuses:?}");
}
