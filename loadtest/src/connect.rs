//! Client connections for many simulated fans from one machine: WebSockets
//! with small buffers, and HTTP clients, optionally bound to one of several
//! loopback source addresses (127.0.0.1, 127.0.0.2, ...) so that more than
//! one address's worth of ephemeral ports (~28k towards one server port) can
//! be open at once. Binding only makes sense when the deployment is on this
//! machine's loopback; the file limit (`ulimit -n`) must be raised too.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use tokio::net::{TcpSocket, TcpStream};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::WebSocketStream;

/// The loopback source address for fan `n` of `count` addresses; `None` when
/// `count` is 0 (the system picks).
pub fn source_address(n: usize, count: u8) -> Option<Ipv4Addr> {
    (count > 0).then(|| Ipv4Addr::new(127, 0, 0, 1 + (n % count as usize) as u8))
}

/// Opens a WebSocket to `url` (ws://host:port/...) from `source`, with an
/// optional bearer token in the upgrade request; small buffers, as an idle
/// fan needs.
pub async fn websocket(
    url: &str,
    source: Option<Ipv4Addr>,
    bearer: Option<&str>,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    websocket_with(url, source, bearer, None).await
}

/// [`websocket`], with a proof-of-work solution in the upgrade (`X-Pow`).
pub async fn websocket_with(
    url: &str,
    source: Option<Ipv4Addr>,
    bearer: Option<&str>,
    pow: Option<&str>,
) -> anyhow::Result<WebSocketStream<TcpStream>> {
    let mut request = url.into_client_request()?;
    let host = request.uri().host().unwrap_or("127.0.0.1").to_string();
    let port = request.uri().port_u16().unwrap_or(80);
    if let Some(token) = bearer {
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {token}").parse()?);
    }
    if let Some(pow) = pow {
        request.headers_mut().insert("x-pow", pow.parse()?);
    }
    let server: SocketAddr = tokio::net::lookup_host((host.as_str(), port))
        .await?
        .find(SocketAddr::is_ipv4)
        .ok_or_else(|| anyhow::anyhow!("{host} has no IPv4 address"))?;
    let socket = TcpSocket::new_v4()?;
    if let Some(source) = source {
        socket.bind((source, 0).into())?;
    }
    let stream = socket.connect(server).await?;
    // An idle fan reads a status now and then (a few hundred bytes; a
    // larger frame grows the buffer while it is read), and tungstenite
    // zeroes the whole read size on every read: 512 bytes, as the queue's
    // own sockets (4 KiB cost a memset per read and a fresh page per fan).
    let config = WebSocketConfig::default()
        .read_buffer_size(512)
        .write_buffer_size(0)
        .max_write_buffer_size(64 * 1024);
    let (ws, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await?;
    Ok(ws)
}

/// One HTTP client per source address (a single one when `count` is 0); fan
/// `n` uses `clients[n % clients.len()]`.
pub fn http_clients(count: u8) -> anyhow::Result<Vec<reqwest::Client>> {
    (0..count.max(1) as usize)
        .map(|n| {
            let builder = reqwest::Client::builder()
                .timeout(std::time::Duration::from_secs(30))
                .pool_max_idle_per_host(256);
            let builder = match source_address(n, count) {
                Some(source) => builder.local_address(IpAddr::V4(source)),
                None => builder,
            };
            Ok(builder.build()?)
        })
        .collect()
}
