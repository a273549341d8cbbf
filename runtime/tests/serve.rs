//! The server's limits against hostile and unlucky clients, over raw TCP:
//! slow headers, slow bodies and silent or idle connections are closed
//! within the configured time while normal requests keep being served, and
//! a connection past the cap gets a fast 503.
#![allow(clippy::unwrap_used)]

use axum::routing::{get, post};
use axum::Router;
use runtime::serve::Server;
use runtime::shutdown::CancellationToken;
use runtime::HttpLimits;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const HEADER_TIMEOUT: Duration = Duration::from_millis(600);
const BODY_TIMEOUT: Duration = Duration::from_millis(600);

async fn start(max_connections: usize) -> (std::net::SocketAddr, CancellationToken) {
    let limits = HttpLimits {
        header_read_timeout_ms: HEADER_TIMEOUT.as_millis() as u64,
        body_read_timeout_ms: BODY_TIMEOUT.as_millis() as u64,
        request_timeout_ms: 5_000,
        max_http_connections: max_connections,
    };
    let router = Router::new()
        .route("/hello", get(|| async { "hello" }))
        .route("/echo", post(|body: String| async move { body }))
        .fallback(runtime::error::not_found);
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), limits)
        .await
        .unwrap();
    let addr = server.local_addr();
    let stop = CancellationToken::new();
    tokio::spawn(server.serve(router, stop.clone()));
    (addr, stop)
}

/// Reads until the server closes the connection; returns what it sent and
/// how long it took to close.
async fn until_closed(stream: &mut TcpStream, limit: Duration) -> (String, Option<Duration>) {
    let started = Instant::now();
    let mut all = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(
            limit.saturating_sub(started.elapsed()),
            stream.read(&mut buf),
        )
        .await
        {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return (
                    String::from_utf8_lossy(&all).into(),
                    Some(started.elapsed()),
                )
            }
            Ok(Ok(n)) => all.extend_from_slice(&buf[..n]),
            Err(_) => return (String::from_utf8_lossy(&all).into(), None),
        }
    }
}

async fn hello(addr: std::net::SocketAddr) -> String {
    reqwest::get(format!("http://{addr}/hello"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_slow_header_client_is_cut_while_others_are_served() {
    let (addr, _stop) = start(100).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /hello HTTP/1.1\r\n").await.unwrap();
    let dripping = tokio::spawn(async move {
        // One header byte every 100 ms: never a whole head.
        for byte in b"X-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".iter() {
            if slow.write_all(&[*byte]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        until_closed(&mut slow, Duration::from_secs(5)).await
    });
    assert_eq!(hello(addr).await, "hello", "others are served meanwhile");
    let (_, closed_after) = dripping.await.unwrap();
    let closed_after = closed_after.expect("the slow client is cut");
    assert!(
        closed_after < HEADER_TIMEOUT * 4,
        "cut after {closed_after:?}"
    );
}

#[tokio::test]
async fn a_silent_connection_is_closed() {
    let (addr, _stop) = start(100).await;
    let mut silent = TcpStream::connect(addr).await.unwrap();
    let (_, closed_after) = until_closed(&mut silent, Duration::from_secs(5)).await;
    let closed_after = closed_after.expect("a silent connection is closed");
    assert!(closed_after <= HEADER_TIMEOUT + Duration::from_millis(500));
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed() {
    let (addr, _stop) = start(100).await;
    let mut idle = TcpStream::connect(addr).await.unwrap();
    idle.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = [0u8; 512];
    let n = idle.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).contains("200 OK"));
    // The response is in; the connection now idles in keep-alive.
    let (_, closed_after) = until_closed(&mut idle, Duration::from_secs(5)).await;
    let closed_after = closed_after.expect("an idle keep-alive connection is closed");
    assert!(closed_after <= HEADER_TIMEOUT + Duration::from_millis(500));
}

#[tokio::test]
async fn a_slow_body_is_cut() {
    let (addr, _stop) = start(100).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\nabc",
    )
    .await
    .unwrap();
    let started = Instant::now();
    let (answer, closed_after) = until_closed(&mut slow, Duration::from_secs(5)).await;
    assert!(closed_after.is_some(), "the slow body's connection ends");
    assert!(
        started.elapsed() < BODY_TIMEOUT * 3,
        "cut after {:?}",
        started.elapsed()
    );
    if !answer.is_empty() {
        assert!(answer.contains("application/json"), "{answer}");
    }
    assert_eq!(hello(addr).await, "hello");
}

#[tokio::test]
async fn a_dripping_body_is_cut_at_the_deadline() {
    let (addr, _stop) = start(100).await;
    let mut slow = TcpStream::connect(addr).await.unwrap();
    slow.write_all(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n",
    )
    .await
    .unwrap();
    let started = Instant::now();
    // One byte every 100 ms: never a stall long enough for an idle timeout.
    let (mut reader, mut writer) = slow.into_split();
    let drip = tokio::spawn(async move {
        for _ in 0..100 {
            if writer.write_all(b"a").await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    });
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut answer)).await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        started.elapsed() < BODY_TIMEOUT * 3,
        "cut after {:?}",
        started.elapsed()
    );
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    drip.abort();
}

#[tokio::test]
async fn past_the_cap_a_connection_gets_a_fast_503() {
    let (addr, _stop) = start(3).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = Instant::now();
    let mut extra = TcpStream::connect(addr).await.unwrap();
    let (answer, closed) = until_closed(&mut extra, Duration::from_secs(2)).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains(r#""error":"try_again""#), "{answer}");
    assert!(closed.is_some());
    assert!(started.elapsed() < Duration::from_millis(300));
    // The held connections time out (silent), and service resumes.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(hello(addr).await, "hello");
}

#[tokio::test]
async fn framework_errors_answer_in_the_api_shape() {
    let (addr, _stop) = start(100).await;
    let client = reqwest::Client::new();
    let wrong_method = client
        .delete(format!("http://{addr}/hello"))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_method.status(), 405);
    let body: serde_json::Value = wrong_method.json().await.unwrap();
    assert_eq!(body["error"], "method_not_allowed");
    let unknown = client
        .get(format!("http://{addr}/nope"))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let body: serde_json::Value = unknown.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
}

/// A rush opens thousands of connections at once. While the process is
/// busy and not accepting, the kernel queues them up to the listen backlog;
/// one past it has its SYN dropped and its client waits a second to try
/// again. 2,000 connections to a server that accepts none all complete
/// their handshake at once (tokio's default backlog, 1024, left half of
/// them waiting for that second).
#[tokio::test]
async fn a_burst_of_connections_waits_in_the_listen_queue_not_for_a_retry() {
    let somaxconn: u32 = std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    assert!(
        somaxconn >= 2_048,
        "net.core.somaxconn is {somaxconn}: this host cannot keep 2,000 connections waiting"
    );
    let limits = HttpLimits {
        header_read_timeout_ms: 5_000,
        body_read_timeout_ms: 5_000,
        request_timeout_ms: 5_000,
        max_http_connections: 100,
    };
    // Bound, never serving: nothing is accepted.
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), limits)
        .await
        .unwrap();
    let addr = server.local_addr();
    let connects = (0..2_000).map(|_| async move {
        tokio::time::timeout(Duration::from_millis(900), TcpStream::connect(addr))
            .await
            .is_ok_and(|connected| connected.is_ok())
    });
    let connected = all_at_once(connects).await;
    let waiting = connected.iter().filter(|ok| !**ok).count();
    assert_eq!(waiting, 0, "{waiting} of 2,000 connections were not queued");
    drop(server);
}

/// The futures as tasks, so they run at once on every worker; their answers in order.
async fn all_at_once<F>(futures: impl Iterator<Item = F>) -> Vec<bool>
where
    F: std::future::Future<Output = bool> + Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for handle in handles {
        out.push(handle.await.unwrap_or(false));
    }
    out
}
