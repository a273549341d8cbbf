//! Bot defence in the waiting room: an operator's revocation (written by the
//! sale's `revoke.lua`, called here through its gate) takes a fan's place in
//! the line and keeps them out, over HTTP and WebSocket.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{closed_with, connect_as, until_state};
use common::{Deployment, Node};
use std::time::Duration;

const TICK: Duration = Duration::from_millis(100);

async fn gate(deployment: &Deployment) -> sale::gate::StockGate {
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    sale::gate::StockGate::new(redis, &deployment.prefix)
}

/// Bob is revoked while waiting (and his socket is open): his place is gone,
/// the fans behind him move up, the pump never admits him, and neither a
/// poll, a join nor a new socket brings him back; lifted, he joins at the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_fan_loses_their_place_and_cannot_join_again() {
    let deployment = Deployment::new().await;
    deployment.create_drop("rv", 100, 10.0, 100, 0).await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("rv").await;
    for user in ["alice", "bob", "carol"] {
        assert_eq!(node.join(&deployment, "rv", user).await.0, 200);
    }
    let mut bobs_socket = connect_as(&node, &deployment, "rv", "bob").await;
    until_state(&mut bobs_socket, "waiting").await;

    let gate = gate(&deployment).await;
    assert!(
        gate.revoke_user("rv", "bob").await.unwrap(),
        "a place was taken"
    );
    assert!(!gate.revoke_user("rv", "bob").await.unwrap(), "idempotent");

    let (status, body) = node.poll(&deployment, "rv", "bob").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("revoked")),
        "{body}"
    );
    let (status, body) = node.join(&deployment, "rv", "bob").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("revoked")),
        "{body}"
    );
    let (_, carol) = node.poll(&deployment, "rv", "carol").await;
    assert_eq!(carol["position"], 2, "carol moved up: {carol}");

    let mut again = connect_as(&node, &deployment, "rv", "bob").await;
    assert_eq!(closed_with(&mut again).await, Some(4403));
    // The socket he had open was closed at once (the sale announced it).
    assert_eq!(closed_with(&mut bobs_socket).await, Some(4403));

    let admitted = node.pump_for(&deployment.clock, TICK, 5).await;
    assert_eq!(admitted, ["alice", "carol"], "the pump never admits bob");
    drop(bobs_socket);

    assert!(gate.lift_user("rv", "bob").await.unwrap());
    let (status, body) = node.join(&deployment, "rv", "bob").await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("waiting")),
        "{body}"
    );
}

/// A revoked fan's open WebSockets (two tabs) close within a second with
/// 4403 `revoked`, announced by the sale: not at their next read of their
/// place (every 30 s). Another fan's socket, and the same fan's socket in
/// another drop, stay open.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_fans_open_sockets_close_at_once() {
    use futures::StreamExt;
    let deployment = Deployment::new().await;
    deployment.create_drop("rvs", 100, 10.0, 100, 0).await;
    deployment.create_drop("rvs2", 100, 10.0, 100, 0).await;
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("rvs").await;
    node.knows("rvs2").await;
    let mut tab1 = connect_as(&node, &deployment, "rvs", "eve").await;
    let mut tab2 = connect_as(&node, &deployment, "rvs", "eve").await;
    let mut elsewhere = connect_as(&node, &deployment, "rvs2", "eve").await;
    let mut frank = connect_as(&node, &deployment, "rvs", "frank").await;
    for socket in [&mut tab1, &mut tab2, &mut elsewhere, &mut frank] {
        until_state(socket, "waiting").await;
    }
    let started = std::time::Instant::now();
    assert!(gate(&deployment)
        .await
        .revoke_user("rvs", "eve")
        .await
        .unwrap());
    for socket in [&mut tab1, &mut tab2] {
        let frame = loop {
            match tokio::time::timeout(Duration::from_secs(1), socket.next()).await {
                Ok(Some(Ok(tokio_tungstenite::tungstenite::Message::Close(frame)))) => break frame,
                Ok(Some(Ok(_))) => continue,
                other => panic!("not closed within a second: {other:?}"),
            }
        };
        let frame = frame.unwrap();
        assert_eq!(
            (u16::from(frame.code), frame.reason.as_str()),
            (4403, "revoked")
        );
    }
    assert!(started.elapsed() < Duration::from_secs(1));
    // The others still hear statuses.
    for socket in [&mut elsewhere, &mut frank] {
        until_state(socket, "waiting").await;
    }
}

/// An admitted fan who is revoked loses the admission too: the next poll
/// says `revoked`, not `admitted` with a token.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_revoked_admitted_fan_loses_the_admission() {
    let deployment = Deployment::new().await;
    deployment.create_drop("rva", 100, 10.0, 100, 0).await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("rva").await;
    node.join(&deployment, "rva", "dan").await;
    assert_eq!(node.pump_for(&deployment.clock, TICK, 2).await, ["dan"]);
    assert_eq!(
        node.poll(&deployment, "rva", "dan").await.1["state"],
        "admitted"
    );

    gate(&deployment)
        .await
        .revoke_user("rva", "dan")
        .await
        .unwrap();
    let (status, body) = node.poll(&deployment, "rva", "dan").await;
    assert_eq!(
        (status, body["error"].as_str()),
        (403, Some("revoked")),
        "{body}"
    );
}
