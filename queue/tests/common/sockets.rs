//! WebSocket helpers: connect as a fan, read statuses, read the close code.
#![allow(dead_code, clippy::unwrap_used)]

use super::{Deployment, Node};
use futures::StreamExt;
use serde_json::Value;
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub async fn connect(
    node: &Node,
    drop: &str,
    headers: &[(&'static str, String)],
) -> Result<Socket, u16> {
    let url = node
        .url(&format!("/api/drops/{drop}/queue/ws"))
        .replace("http://", "ws://");
    let mut request = url.into_client_request().unwrap();
    for (name, value) in headers {
        let name = axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap();
        request.headers_mut().insert(name, value.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("connect: {other}"),
    }
}

/// A WebSocket of `user` (token in the upgrade request) that must open.
pub async fn connect_as(node: &Node, deployment: &Deployment, drop: &str, user: &str) -> Socket {
    let bearer = format!("Bearer {}", deployment.user_token(user));
    connect(node, drop, &[("authorization", bearer)])
        .await
        .unwrap_or_else(|status| panic!("{user} refused with {status}"))
}

/// The next status (or error) message, within 5 s.
pub async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(5), socket.next())
            .await
            .expect("a message within 5 s")
            .expect("socket open")
            .unwrap();
        match message {
            Message::Text(text) => return serde_json::from_str(&text).unwrap(),
            Message::Close(frame) => panic!("closed: {frame:?}"),
            _ => continue,
        }
    }
}

/// Reads until a status in `state` arrives.
pub async fn until_state(socket: &mut Socket, state: &str) -> Value {
    for _ in 0..20 {
        let status = next_json(socket).await;
        if status["state"] == state {
            return status;
        }
    }
    panic!("never reached {state}");
}

pub async fn closed_with(socket: &mut Socket) -> Option<u16> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), socket.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| u16::from(f.code)),
            Ok(Some(Ok(_))) => continue,
            Ok(Some(Err(_))) | Ok(None) => return None,
            Err(_) => panic!("not closed within 5 s"),
        }
    }
}
