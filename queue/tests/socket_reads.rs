//! A waiting fan's socket reads in small steps (its read buffer is 512
//! bytes, so that tens of thousands of idle fans cost little): messages
//! larger than that, up to the 4 KiB a fan may send, still arrive whole:
//! a browser's first message with its token, and a request once in line.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{closed_with, connect, next_json, until_state};
use common::{Deployment, Node};
use futures::SinkExt;
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;

/// Larger than the socket's read buffer, smaller than the 4 KiB a fan may send.
const PADDING: usize = 3_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_larger_than_the_read_buffer_arrive_whole() {
    let deployment = Deployment::new().await;
    deployment.create_drop("reads", 10, 10.0, 10, 0).await;
    let node = Node::start(&deployment, |_| {}).await;
    node.knows("reads").await;

    // A browser: no header, the token in a first message of ~3 KiB.
    let mut socket = connect(&node, "reads", &[]).await.unwrap();
    let first = json!({
        "token": deployment.user_token("ann"),
        "note": "x".repeat(PADDING),
    })
    .to_string();
    assert!(first.len() > 2_000 && first.len() < 4 * 1024);
    socket.send(Message::Text(first.into())).await.unwrap();
    let status = until_state(&mut socket, "waiting").await;
    assert_eq!(status["type"], "status");
    assert_eq!(status["position"], 1);
    assert_eq!(status["drop"], "reads");

    // In line: a ~3 KiB request is read whole and answered with a status.
    let request = json!({"type": "status", "note": "y".repeat(PADDING)}).to_string();
    socket.send(Message::Text(request.into())).await.unwrap();
    let answer = next_json(&mut socket).await;
    assert_eq!(answer["type"], "status");
    assert_eq!(answer["state"], "waiting");

    // Past the 4 KiB a fan may send: closed with 1009, as before.
    socket
        .send(Message::Text("z".repeat(5 * 1024).into()))
        .await
        .unwrap();
    assert_eq!(closed_with(&mut socket).await, Some(1009));
}
