//! A total deadline on each request body. `tower_http`'s request-body
//! timeout fires only when the body stalls between two frames, so a client
//! dripping one byte every few hundred milliseconds would hold a request
//! (and a connection slot) forever; this one counts from the request's
//! arrival at the service. Past it the body errors at its next wait for
//! the client, the handler's extractor refuses the request, and whatever
//! the handler answered is replaced by 408 `request_timeout`.

use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::response::Response;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

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

/// A body that fails once `at` has passed.
struct DeadlineBody {
    inner: Body,
    /// When the whole body must be in (`None`: a deadline too far to count).
    at: Option<Instant>,
    /// Armed at the first wait for the client: a body already in when the
    /// handler reads it (most are) never touches the timer wheel.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
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
        let frame = Pin::new(&mut self.inner).poll_frame(cx);
        if frame.is_ready() {
            return frame;
        }
        let Some(at) = self.at else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(at)));
        if timer.as_mut().poll(cx).is_ready() {
            self.exceeded.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(axum::Error::new(Exceeded))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

/// Layer: each request's body must arrive within `total`. A tower layer of
/// its own rather than `axum::middleware::from_fn` (which clones and boxes
/// the inner service and boxes its future on every request).
#[derive(Debug, Clone, Copy)]
pub struct BodyDeadlineLayer {
    total: Duration,
}

impl BodyDeadlineLayer {
    pub fn new(total: Duration) -> Self {
        Self { total }
    }
}

impl<S> tower::Layer<S> for BodyDeadlineLayer {
    type Service = BodyDeadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BodyDeadline {
            inner,
            total: self.total,
        }
    }
}

/// The service of [`BodyDeadlineLayer`].
#[derive(Debug, Clone)]
pub struct BodyDeadline<S> {
    inner: S,
    total: Duration,
}

impl<S> tower::Service<Request> for BodyDeadline<S>
where
    S: tower::Service<Request, Response = Response>,
{
    type Response = Response;
    type Error = S::Error;
    type Future = BodyDeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let exceeded = Arc::new(AtomicBool::new(false));
        let request = request.map(|inner| {
            Body::new(DeadlineBody {
                inner,
                at: Instant::now().checked_add(self.total),
                timer: None,
                exceeded: exceeded.clone(),
            })
        });
        BodyDeadlineFuture {
            inner: self.inner.call(request),
            exceeded,
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`BodyDeadline`]: the inner answer, replaced by 408
    /// when the body ran past its deadline.
    pub struct BodyDeadlineFuture<F> {
        #[pin]
        inner: F,
        exceeded: Arc<AtomicBool>,
    }
}

impl<F, E> Future for BodyDeadlineFuture<F>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.inner.poll(cx))?;
        if this.exceeded.load(Ordering::Relaxed) {
            return Poll::Ready(Ok(crate::error::json_error(
                axum::http::StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                EXCEEDED,
            )));
        }
        Poll::Ready(Ok(response))
    }
}
