//! A lean HTTP/1.1 client for the order path's hot loop: one keep-alive
//! connection per worker, each request written from bytes formatted once
//! (the buyer's token and key are the only per-request parts), each answer
//! read as its status line, `Content-Length` (or chunks) and body, with
//! nothing else parsed. The generator shares the cores with what it
//! measures, so every microsecond it spends per order is taken from the
//! sale, Redis and PostgreSQL: this client costs a fraction of a general
//! one (reqwest: a pool, a header map, a body stream and a task per
//! request), which raises every measured rate honestly. `wrk` stays the
//! independent check.
//!
//! Only what the sale service answers is supported: HTTP/1.1 with
//! `Content-Length` or chunked bodies; `Connection: close` is honoured (the
//! next request reconnects).

use std::io;
use std::sync::Mutex;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Largest answer head or body read; an answer past it is an error.
const MAX_ANSWER_BYTES: usize = 1 << 20;

/// Where requests go: `host:port` and the `Host` header, from a base URL
/// such as `http://127.0.0.1:8081`.
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

    /// A `POST` of a JSON body to `path` with the given extra header lines
    /// (each `Name: value`, no line end), formatted once.
    pub fn post_json(&self, path: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for (name, value) in headers {
            request.push_str(name);
            request.push_str(": ");
            request.push_str(value);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");
        request.push_str(body);
        request.into_bytes()
    }
}

/// One keep-alive connection.
pub struct Conn {
    stream: TcpStream,
    buf: Vec<u8>,
    /// The server said `Connection: close`: do not reuse.
    closing: bool,
}

impl Conn {
    pub async fn connect(target: &Target) -> io::Result<Self> {
        let stream = TcpStream::connect(&target.addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self {
            stream,
            buf: Vec::with_capacity(4096),
            closing: false,
        })
    }

    /// Whether the connection may carry another request.
    pub fn reusable(&self) -> bool {
        !self.closing
    }

    /// Sends `request` and reads the whole answer; returns its status.
    pub async fn send(&mut self, request: &[u8]) -> io::Result<u16> {
        self.stream.write_all(request).await?;
        self.read_answer().await
    }

    async fn fill(&mut self) -> io::Result<()> {
        if self.buf.len() > MAX_ANSWER_BYTES {
            return Err(invalid("answer too large"));
        }
        self.buf.reserve(4096);
        let n = self.stream.read_buf(&mut self.buf).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "connection closed mid-answer",
            ));
        }
        Ok(())
    }

    async fn read_answer(&mut self) -> io::Result<u16> {
        let head_end = loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                break end + 4;
            }
            self.fill().await?;
        };
        let head = Head::parse(&self.buf[..head_end])?;
        self.closing = head.close;
        match head.body {
            Body::Length(length) => {
                while self.buf.len() < head_end + length {
                    self.fill().await?;
                }
                self.buf.drain(..head_end + length);
            }
            Body::Chunked => {
                self.buf.drain(..head_end);
                self.skip_chunks().await?;
            }
        }
        Ok(head.status)
    }

    /// Reads and drops a chunked body (the buffer starts at its first chunk).
    async fn skip_chunks(&mut self) -> io::Result<()> {
        loop {
            let line_end = loop {
                if let Some(end) = find(&self.buf, b"\r\n") {
                    break end;
                }
                self.fill().await?;
            };
            let size_text = std::str::from_utf8(&self.buf[..line_end])
                .map_err(|_| invalid("chunk size"))?
                .split(';')
                .next()
                .unwrap_or("")
                .trim();
            let size = usize::from_str_radix(size_text, 16).map_err(|_| invalid("chunk size"))?;
            if size > MAX_ANSWER_BYTES {
                return Err(invalid("chunk too large"));
            }
            // The chunk, its CRLF; the last (empty) chunk ends with CRLF
            // after the (absent) trailers.
            let need = line_end + 2 + size + 2;
            while self.buf.len() < need {
                self.fill().await?;
            }
            self.buf.drain(..need);
            if size == 0 {
                return Ok(());
            }
        }
    }
}

/// What an answer's head says.
struct Head {
    status: u16,
    body: Body,
    close: bool,
}

enum Body {
    Length(usize),
    Chunked,
}

impl Head {
    fn parse(head: &[u8]) -> io::Result<Self> {
        let text = std::str::from_utf8(head).map_err(|_| invalid("answer head"))?;
        let mut lines = text.split("\r\n");
        let status_line = lines.next().unwrap_or("");
        let status = status_line
            .strip_prefix("HTTP/1.1 ")
            .or_else(|| status_line.strip_prefix("HTTP/1.0 "))
            .and_then(|rest| rest.get(..3))
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| invalid("status line"))?;
        let mut body = Body::Length(0);
        let mut close = status_line.starts_with("HTTP/1.0");
        for line in lines {
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            if name.eq_ignore_ascii_case("content-length") {
                body = Body::Length(value.parse().map_err(|_| invalid("content-length"))?);
            } else if name.eq_ignore_ascii_case("transfer-encoding")
                && value.eq_ignore_ascii_case("chunked")
            {
                body = Body::Chunked;
            } else if name.eq_ignore_ascii_case("connection") {
                close = value.eq_ignore_ascii_case("close");
            }
        }
        Ok(Self {
            status,
            body,
            close,
        })
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn invalid(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("malformed {what}"))
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

    /// Sends `request` on an idle connection (or a new one), within
    /// `timeout`; the answer's status, or `None` on a timeout.
    ///
    /// The server closes a keep-alive connection idle for a few seconds
    /// (`HEADER_READ_TIMEOUT_MS`), so an idle one taken from the pool may be
    /// dead: when it fails before a byte of an answer came back, the request
    /// is sent once more on a new connection. Safe for what this sends:
    /// every order carries its own `Idempotency-Key`, so a request the
    /// server did see is answered with the same order, never a second one.
    pub async fn send(&self, request: &[u8], timeout: Duration) -> io::Result<Option<u16>> {
        let idle = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let reused = idle.is_some();
        let mut conn = match idle {
            Some(conn) => conn,
            None => Conn::connect(&self.target).await?,
        };
        let deadline = tokio::time::Instant::now() + timeout;
        let mut answer = tokio::time::timeout_at(deadline, conn.send(request)).await;
        if reused && matches!(answer, Ok(Err(_))) && conn.buf.is_empty() {
            conn = Conn::connect(&self.target).await?;
            answer = tokio::time::timeout_at(deadline, conn.send(request)).await;
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

    #[test]
    fn heads_are_read_for_status_length_and_close() {
        let head = Head::parse(b"HTTP/1.1 201 Created\r\ncontent-length: 12\r\n\r\n").unwrap();
        assert_eq!(head.status, 201);
        assert!(matches!(head.body, Body::Length(12)));
        assert!(!head.close);
        let head = Head::parse(
            b"HTTP/1.1 503 x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
        )
        .unwrap();
        assert!(matches!(head.body, Body::Chunked));
        assert!(head.close);
        assert!(Head::parse(b"SPDY 200\r\n\r\n").is_err());
    }

    #[tokio::test]
    async fn answers_with_length_and_chunks_are_read_whole_on_one_connection() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let answers: [&[u8]; 2] = [
                b"HTTP/1.1 201 Created\r\ncontent-length: 5\r\n\r\nhello",
                b"HTTP/1.1 409 Conflict\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
            ];
            let mut seen = Vec::new();
            for answer in answers {
                // Wait for one whole request (its body is "{}").
                while !seen.ends_with(b"\r\n\r\n{}") {
                    let mut chunk = [0u8; 512];
                    let n = socket.read(&mut chunk).await.unwrap();
                    seen.extend_from_slice(&chunk[..n]);
                }
                seen.clear();
                socket.write_all(answer).await.unwrap();
            }
        });
        let target = Target::parse(&format!("http://{addr}")).unwrap();
        let request = target.post_json("/x", &[("Idempotency-Key", "k")], "{}");
        let mut conn = Conn::connect(&target).await.unwrap();
        assert_eq!(conn.send(&request).await.unwrap(), 201);
        assert_eq!(conn.send(&request).await.unwrap(), 409);
        assert!(conn.buf.is_empty());
    }

    #[tokio::test]
    async fn a_pooled_connection_the_server_closed_is_replaced_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            // First connection: one answer, then closed (as an idle
            // keep-alive connection is); the second answers again.
            for _ in 0..2 {
                let (mut socket, _) = listener.accept().await.unwrap();
                let mut seen = Vec::new();
                while !seen.ends_with(b"\r\n\r\n{}") {
                    let mut chunk = [0u8; 512];
                    let n = socket.read(&mut chunk).await.unwrap();
                    seen.extend_from_slice(&chunk[..n]);
                }
                socket
                    .write_all(b"HTTP/1.1 201 Created\r\ncontent-length: 0\r\n\r\n")
                    .await
                    .unwrap();
            }
        });
        let target = Target::parse(&format!("http://{addr}")).unwrap();
        let request = target.post_json("/x", &[], "{}");
        let pool = Pool::new(target);
        let second = Duration::from_secs(5);
        assert_eq!(pool.send(&request, second).await.unwrap(), Some(201));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert_eq!(pool.send(&request, second).await.unwrap(), Some(201));
    }
}
