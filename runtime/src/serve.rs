//! Serving HTTP so that no client can hold a service hostage.
//!
//! hyper's HTTP/1 connection builder (with a timer) does the protocol work:
//! - the request head must arrive within `HEADER_READ_TIMEOUT_MS` of the
//!   connection opening or of the previous response, so a slow-header
//!   (slowloris) client and an idle keep-alive connection are both closed;
//! - a request body must arrive, whole, within `BODY_READ_TIMEOUT_MS`
//!   ([`crate::deadline`]);
//! - a handler must answer within `REQUEST_TIMEOUT_MS`;
//! - at most `MAX_HTTP_CONNECTIONS` connections are open at once (never more
//!   than the open-files limit allows, minus a reserve for Redis, PostgreSQL
//!   and logs). Past the cap a connection gets a bare `503` with
//!   `Retry-After` and is closed without being read, so a flood of silent
//!   sockets cannot starve the process of file descriptors. WebSockets keep
//!   their connection's slot for as long as they live ([`ConnectionSlot`]).
//!
//! On shutdown the listener stops, idle connections close, requests in
//! flight are answered, and the server waits for them (bounded).

use crate::settings::HttpLimits;
use anyhow::Context;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// File descriptors kept free for everything that is not a client
/// connection (Redis, PostgreSQL, the listener, logs).
const RESERVED_FILES: usize = 256;
/// Longest graceful shutdown waits for connections to finish.
const DRAIN_FOR: Duration = Duration::from_secs(10);
/// Refusals written at once, at most; past it a connection is just closed.
const MAX_REFUSING: usize = 1024;
/// Connections the kernel keeps waiting for `accept` (it caps this at
/// `net.core.somaxconn`, 4096 by default). A rush opens thousands at once,
/// and a connection past a full queue has its SYN dropped: its client sends
/// it again a second later, so that fan waits a second more. tokio's own
/// `TcpListener::bind` asks for 1024.
const LISTEN_BACKLOG: u32 = 4096;

/// A listener on `addr` with [`LISTEN_BACKLOG`] (and `SO_REUSEADDR`, as
/// tokio's own bind sets it, so a restarted service can bind at once).
fn listen(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        TcpSocket::new_v4()?
    } else {
        TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// One connection's place under the cap, held by the connection and by any
/// WebSocket upgraded from it (take it from the request's extensions and
/// keep it for the socket's life).
#[derive(Clone)]
pub struct ConnectionSlot(#[allow(dead_code)] Arc<OwnedSemaphorePermit>);

/// A bound listener with its limits.
pub struct Server {
    listener: TcpListener,
    limits: HttpLimits,
    max_connections: usize,
}

impl Server {
    pub async fn bind(addr: SocketAddr, limits: HttpLimits) -> anyhow::Result<Self> {
        let listener = listen(addr).with_context(|| format!("binding {addr}"))?;
        let max_connections = effective_connection_cap(limits.max_http_connections);
        Ok(Self {
            listener,
            limits,
            max_connections,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The connection cap in force (the setting, lowered to what the
    /// open-files limit allows).
    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// Serves `router` until `shutdown` is cancelled, then drains.
    pub async fn serve(self, router: Router, shutdown: CancellationToken) -> anyhow::Result<()> {
        let body_deadline = self.limits.body_read_timeout();
        // Around the router, not inside it (`Router::layer` would wrap each
        // route in one more boxed service per layer, cloned and boxed again
        // on every request): the JSON error shape outermost, then the
        // request deadline, then the body deadline.
        let app = tower::ServiceBuilder::new()
            .layer(crate::error::JsonErrorsLayer)
            .layer(tower_http::timeout::TimeoutLayer::with_status_code(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                self.limits.request_timeout(),
            ))
            .layer(crate::deadline::BodyDeadlineLayer::new(body_deadline))
            .service(router);
        let slots = Arc::new(Semaphore::new(self.max_connections));
        let refusing = Arc::new(Semaphore::new(MAX_REFUSING));
        let connections = TaskTracker::new();
        let mut http = hyper::server::conn::http1::Builder::new();
        // The timer starts as soon as hyper waits for a request head: at the
        // connection's start and after each response, so silent and idle
        // connections are closed too, not only slow ones.
        http.timer(TokioTimer::new())
            .header_read_timeout(self.limits.header_read_timeout())
            .keep_alive(true);
        tracing::info!(
            addr = %self.local_addr(),
            max_connections = self.max_connections,
            header_read_timeout = ?self.limits.header_read_timeout(),
            "listening"
        );
        loop {
            let (stream, peer) = tokio::select! {
                _ = shutdown.cancelled() => break,
                accepted = self.listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        // Out of files or a transient network error: wait a
                        // moment rather than spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = slots.clone().try_acquire_owned() else {
                metrics::counter!("http_connections_refused_total").increment(1);
                if let Ok(refusal) = refusing.clone().try_acquire_owned() {
                    tokio::spawn(refuse(stream, refusal));
                }
                continue;
            };
            let _ = stream.set_nodelay(true);
            let slot = ConnectionSlot(Arc::new(permit));
            let app = app.clone();
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(ConnectInfo(peer));
                    request.extensions_mut().insert(slot.clone());
                    app.clone().oneshot(request.map(axum::body::Body::new))
                });
            let connection = http
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            let stop = shutdown.clone();
            connections.spawn(async move {
                tokio::pin!(connection);
                let ended = tokio::select! {
                    ended = connection.as_mut() => ended,
                    _ = stop.cancelled() => {
                        // Idle: closed now; mid-request: answered, then closed.
                        connection.as_mut().graceful_shutdown();
                        connection.await
                    }
                };
                if let Err(error) = ended {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
            });
        }
        drop(self.listener);
        connections.close();
        tracing::info!(
            open = connections.len(),
            "stopped accepting; draining connections"
        );
        if tokio::time::timeout(DRAIN_FOR, connections.wait())
            .await
            .is_err()
        {
            tracing::warn!("connections still open after {DRAIN_FOR:?}; closing anyway");
        }
        Ok(())
    }
}

/// Answers a connection past the cap with a bare 503 and closes it.
async fn refuse(mut stream: TcpStream, _refusal: OwnedSemaphorePermit) {
    const BODY: &str = r#"{"error":"try_again","message":"this server is at its connection limit; try again in a moment"}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         content-length: {}\r\nretry-after: 1\r\nconnection: close\r\n\r\n{BODY}",
        BODY.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(1), async {
        stream.write_all(response.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client is still sending for a moment, so closing
        // does not reset the connection before the answer is read.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    })
    .await;
}

/// The connection cap: the setting, but never more than the process's
/// open-files limit minus [`RESERVED_FILES`].
fn effective_connection_cap(configured: usize) -> usize {
    let cap = match open_files_limit() {
        Some(limit) => configured.min(limit.saturating_sub(RESERVED_FILES).max(1)),
        None => configured,
    };
    if cap < configured {
        tracing::info!(
            configured,
            cap,
            "MAX_HTTP_CONNECTIONS lowered to the open-files limit"
        );
    }
    cap.max(1)
}

/// The soft open-files limit, from `/proc/self/limits` (Linux).
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_respects_the_open_files_limit() {
        let limit = open_files_limit().expect("Linux has /proc/self/limits");
        assert!(effective_connection_cap(usize::MAX) <= limit);
        assert_eq!(effective_connection_cap(3), 3);
    }
}
