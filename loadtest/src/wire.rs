//! The order path's HTTP/1.1 client: hyper's connection-level client
//! (`hyper::client::conn::http1`), one keep-alive connection per worker,
//! without reqwest's pool, redirect and header handling per request. Each
//! request is prepared once ([`Post`]: its path, headers and body, the
//! buyer's token and key being the only per-request parts) and only cloned
//! (reference-counted bytes) when sent; each answer is read as its status,
//! its `Connection` header and a drained body. The generator shares the
//! cores with what it measures, so every microsecond it spends per order is
//! taken from the sale, Redis and PostgreSQL. `wrk` stays the independent
//! check.

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderMap, HeaderName, HeaderValue, CONNECTION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use std::io;
use std::sync::Mutex;
use std::time::Duration;
use tokio::net::TcpStream;

/// Where requests go: `host:port` (also the `Host` header), from a base
/// URL such as `http://127.0.0.1:8081`.
#[derive(Debug, Clone)]
pub struct Target {
    addr: String,
}

impl Target {
    /// Parses `http://host:port` (no TLS, no path).
    pub fn parse(base_url: &str) -> anyhow::Result<Self> {
        let rest = base_url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow::anyhow!("only http:// URLs are supported: {base_url}"))?;
        let addr = rest.trim_end_matches('/');
        anyhow::ensure!(
            !addr.is_empty() && !addr.contains('/'),
            "a base URL without a path is expected: {base_url}"
        );
        let addr = if addr.contains(':') {
            addr.to_string()
        } else {
            format!("{addr}:80")
        };
        Ok(Self { addr })
    }

    /// A `POST` of a JSON body to `path` with the given extra headers,
    /// prepared once.
    pub fn post_json(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> anyhow::Result<Post> {
        let mut map = HeaderMap::with_capacity(headers.len() + 2);
        map.insert(HOST, HeaderValue::from_str(&self.addr)?);
        map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        for (name, value) in headers {
            map.insert(
                HeaderName::from_bytes(name.as_bytes())?,
                HeaderValue::from_str(value)?,
            );
        }
        Ok(Post {
            uri: path.parse()?,
            headers: map,
            body: Bytes::copy_from_slice(body.as_bytes()),
        })
    }
}

/// A prepared `POST`: sending it clones reference-counted parts only.
#[derive(Debug, Clone)]
pub struct Post {
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
}

impl Post {
    fn request(&self) -> Request<Full<Bytes>> {
        let mut request = Request::new(Full::new(self.body.clone()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = self.uri.clone();
        *request.headers_mut() = self.headers.clone();
        request
    }
}

/// One keep-alive connection; hyper's connection task runs beside it.
pub struct Conn {
    sender: SendRequest<Full<Bytes>>,
    /// The server said `Connection: close`: do not reuse.
    closing: bool,
}

impl Conn {
    pub async fn connect(target: &Target) -> io::Result<Self> {
        let stream = TcpStream::connect(&target.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(broken)?;
        // Ends when the connection closes; its error (if any) is also the
        // pending request's, which `send` reports.
        tokio::spawn(connection);
        Ok(Self {
            sender,
            closing: false,
        })
    }

    /// Whether the connection may carry another request.
    pub fn reusable(&self) -> bool {
        !self.closing && !self.sender.is_closed()
    }

    /// Sends `post` and reads the whole answer; returns its status.
    pub async fn send(&mut self, post: &Post) -> io::Result<u16> {
        self.sender.ready().await.map_err(broken)?;
        let answer = self
            .sender
            .send_request(post.request())
            .await
            .map_err(broken)?;
        let status = answer.status().as_u16();
        if answer
            .headers()
            .get(CONNECTION)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"close"))
        {
            self.closing = true;
        }
        let mut body = answer.into_body();
        while let Some(frame) = body.frame().await {
            frame.map_err(broken)?;
        }
        Ok(status)
    }
}

fn broken(error: hyper::Error) -> io::Error {
    io::Error::other(error)
}

/// Idle connections to one target, shared by the tasks of an open loop: a
/// task takes one (or connects) and gives it back after a clean answer.
pub struct Pool {
    target: Target,
    idle: Mutex<Vec<Conn>>,
}

impl Pool {
    pub fn new(target: Target) -> Self {
        Self {
            target,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// An idle connection still open, if any.
    fn take_idle(&self) -> Option<Conn> {
        let mut idle = self.idle.lock().ok()?;
        while let Some(conn) = idle.pop() {
            if conn.reusable() {
                return Some(conn);
            }
        }
        None
    }

    /// Sends `post` on an idle connection (or a new one), within
    /// `timeout`; the answer's status, or `None` on a timeout.
    ///
    /// The server closes a keep-alive connection idle for a few seconds
    /// (`HEADER_READ_TIMEOUT_MS`), so an idle one taken from the pool may be
    /// dead even if hyper has not noticed yet: when it fails before an
    /// answer came back, the request is sent once more on a new connection.
    /// Safe for what this sends: every order carries its own
    /// `Idempotency-Key`, so a request the server did see is answered with
    /// the same order, never a second one.
    pub async fn send(&self, post: &Post, timeout: Duration) -> io::Result<Option<u16>> {
        let idle = self.take_idle();
        let reused = idle.is_some();
        let mut conn = match idle {
            Some(conn) => conn,
            None => Conn::connect(&self.target).await?,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answer = tokio::time::timeout_at(deadline, conn.send(post)).await;
        if reused && matches!(answer, Ok(Err(_))) {
            conn = Conn::connect(&self.target).await?;
            answer = tokio::time::timeout_at(deadline, conn.send(post)).await;
        }
        let Ok(answer) = answer else {
            return Ok(None);
        };
        let status = answer?;
        if conn.reusable() {
            if let Ok(mut idle) = self.idle.lock() {
                idle.push(conn);
            }
        }
        Ok(Some(status))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn a_base_url_gives_the_address() {
        assert_eq!(
            Target::parse("http://127.0.0.1:8081/").unwrap().addr,
            "127.0.0.1:8081"
        );
        assert_eq!(Target::parse("http://sale").unwrap().addr, "sale:80");
        assert!(Target::parse("https://sale").is_err());
        assert!(Target::parse("http://sale/api").is_err());
    }

    /// A server on a fresh port answering the requests of each accepted
    /// connection with `answers` in turn (one list per connection, after
    /// reading one whole request, whose body is `{}`), then closing it.
    /// Returns its URL and what it was sent.
    async fn server(
        answers: Vec<Vec<&'static [u8]>>,
    ) -> (String, tokio::task::JoinHandle<Vec<String>>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let served = tokio::spawn(async move {
            let mut requests = Vec::new();
            for connection in answers {
                let (mut socket, _) = listener.accept().await.unwrap();
                for answer in connection {
                    let mut seen = Vec::new();
                    while !seen.ends_with(b"\r\n\r\n{}") {
                        let mut chunk = [0u8; 512];
                        let n = socket.read(&mut chunk).await.unwrap();
                        assert!(n > 0, "the client closed mid-request");
                        seen.extend_from_slice(&chunk[..n]);
                    }
                    requests.push(String::from_utf8(seen).unwrap());
                    socket.write_all(answer).await.unwrap();
                }
            }
            requests
        });
        (format!("http://{addr}"), served)
    }

    #[tokio::test]
    async fn answers_with_length_and_chunks_are_read_whole_on_one_connection() {
        let (url, served) = server(vec![vec![
            b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello",
            b"HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        ]])
        .await;
        let target = Target::parse(&url).unwrap();
        let post = target
            .post_json("/x", &[("Idempotency-Key", "k")], "{}")
            .unwrap();
        let mut conn = Conn::connect(&target).await.unwrap();
        assert_eq!(conn.send(&post).await.unwrap(), 201);
        assert!(conn.reusable());
        assert_eq!(conn.send(&post).await.unwrap(), 409);
        let requests = served.await.unwrap();
        assert_eq!(requests.len(), 2, "both requests on the one connection");
        let request = requests[0].to_ascii_lowercase();
        assert!(request.starts_with("post /x http/1.1\r\n"), "{request}");
        for header in [
            format!("host: {}", target.addr),
            "idempotency-key: k".into(),
            "content-type: application/json".into(),
            "content-length: 2".into(),
        ] {
            assert!(request.contains(&header), "{header} missing in {request}");
        }
    }

    #[tokio::test]
    async fn an_answer_saying_connection_close_ends_reuse() {
        let (url, _served) = server(vec![vec![
            b"HTTP/1.1 503 Unavailable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        ]])
        .await;
        let target = Target::parse(&url).unwrap();
        let post = target.post_json("/x", &[], "{}").unwrap();
        let mut conn = Conn::connect(&target).await.unwrap();
        assert_eq!(conn.send(&post).await.unwrap(), 503);
        assert!(!conn.reusable());
    }

    #[tokio::test]
    async fn a_pooled_connection_the_server_closed_is_replaced_once() {
        // First connection: one answer, then closed (as an idle keep-alive
        // connection is); the second answers again.
        let answer: &[u8] = b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n";
        let (url, served) = server(vec![vec![answer], vec![answer]]).await;
        let target = Target::parse(&url).unwrap();
        let post = target.post_json("/x", &[], "{}").unwrap();
        let pool = Pool::new(target);
        let second = Duration::from_secs(5);
        assert_eq!(pool.send(&post, second).await.unwrap(), Some(201));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.send(&post, second).await.unwrap(), Some(201));
        assert_eq!(served.await.unwrap().len(), 2);
    }
}
