//! A WebSocket join counts once against each of the join limits: the
//! user's, when its token is in the upgrade's header (checked before the
//! upgrade), and the address's, when the token comes in the first message
//! (the address checked before the upgrade, the user after the message).
//! Checked once per step, it counted twice, and a fan got half the joins
//! the limits say.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{connect, connect_as, until_state};
use common::{Deployment, Node};
use futures::SinkExt;
use serde_json::json;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// Within this long of the first join the limiter's bucket (a burst of two
/// at one a second) has not refilled, so a third join is refused.
const BEFORE_REFILL: Duration = Duration::from_millis(800);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socket_with_a_header_token_counts_once_against_its_user() {
    let deployment = Deployment::new().await;
    deployment.create_drop("urate", 10, 10.0, 10, 0).await;
    let node = Node::start(&deployment, |c| c.join_rate_per_user = 1).await;
    node.knows("urate").await;
    let started = Instant::now();
    // A burst of two joins a second: two sockets of one user (two tabs).
    let mut first = connect_as(&node, &deployment, "urate", "ann").await;
    let mut second = connect_as(&node, &deployment, "urate", "ann").await;
    until_state(&mut first, "waiting").await;
    until_state(&mut second, "waiting").await;
    let bearer = format!("Bearer {}", deployment.user_token("ann"));
    let third = connect(&node, "urate", &[("authorization", bearer)]).await;
    if started.elapsed() < BEFORE_REFILL {
        assert_eq!(third.err(), Some(429), "the limit still holds");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_socket_with_its_token_in_a_message_counts_once_against_its_address() {
    let deployment = Deployment::new().await;
    deployment.create_drop("arate", 10, 10.0, 10, 0).await;
    let node = Node::start(&deployment, |c| c.join_rate_per_ip = 1).await;
    node.knows("arate").await;
    let started = Instant::now();
    // A burst of two joins a second from one address: two browsers.
    for user in ["ann", "bob"] {
        let mut socket = connect(&node, "arate", &[])
            .await
            .unwrap_or_else(|status| panic!("{user} refused with {status}"));
        let first = json!({"token": deployment.user_token(user)}).to_string();
        socket.send(Message::Text(first.into())).await.unwrap();
        until_state(&mut socket, "waiting").await;
    }
    let third = connect(&node, "arate", &[]).await;
    if started.elapsed() < BEFORE_REFILL {
        assert_eq!(third.err(), Some(429), "the limit still holds");
    }
}
