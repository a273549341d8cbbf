//! A total deadline on each request body. `tower_http`'s request-body
//! timeout fires only when the body stalls between two frames, so a client
//! dripping one byte every few hundred milliseconds would hold a request
//! (and a connection slot) forever; this one counts from the first poll.
//! Past it the body errors, the handler's extractor refuses the request,
//! and whatever the handler answered is replaced by 408 `request_timeout`.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

/// The error text a body past its deadline fails with.
pub const EXCEEDED: &str = "the request body did not arrive in time";

#[derive(Debug)]
struct Exceeded;

impl std::fmt::Display for Exceeded {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(EXCEEDED)
    }
}

impl std::error::Error for Exceeded {}

/// A body that fails once `deadline` has passed.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    exceeded: Arc<AtomicBool>,
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, axum::Error>>> {
        if self.inner.is_end_stream() {
            return Poll::Ready(None);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.exceeded.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(Exceeded))));
        }
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Middleware: the request's body must arrive within `total`.
pub async fn limit_body(total: Duration, request: Request, next: Next) -> Response {
    let exceeded = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(DeadlineBody {
            inner,
            deadline: Box::pin(tokio::time::sleep(total)),
            exceeded: exceeded.clone(),
        })
    });
    let response = next.run(request).await;
    if exceeded.load(Ordering::Relaxed) {
        return crate::error::json_error(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            EXCEEDED,
        );
    }
    response
}
