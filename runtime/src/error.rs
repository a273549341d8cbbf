//! The API error shape: every error either service answers is
//! `{"error": "<code>", "message": "<human text>"}` with a fitting status.
//!
//! Handlers build it through their own error enums (which call
//! [`json_error`]); what the framework answers by itself (an unknown route,
//! a wrong method, a path that is not UTF-8, a request timeout) is rewritten
//! into the same shape by [`JsonErrorsLayer`], so no client ever sees an empty
//! or plain-text error.

use axum::body::Body;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures::future::BoxFuture;
use http_body_util::BodyExt;
use serde::de::DeserializeOwned;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What each service's error enum tells the renderer.
pub trait ApiFailure: std::fmt::Display {
    /// The status and the machine-readable code.
    fn status_and_code(&self) -> (StatusCode, &'static str);
    /// Seconds a client should wait before trying again, when it should.
    fn retry_after_secs(&self) -> Option<u64> {
        None
    }
    /// The cause of an internal error: logged with its chain, never shown
    /// (the client reads "internal error").
    fn internal_cause(&self) -> Option<&anyhow::Error> {
        None
    }
}

/// Renders a service's error as `{"error", "message"}` (with
/// `Retry-After` when asked).
pub fn render(failure: &impl ApiFailure) -> Response {
    let (status, code) = failure.status_and_code();
    let message = match failure.internal_cause() {
        Some(cause) => {
            tracing::error!(error = ?cause, "internal error");
            "internal error".to_string()
        }
        None => failure.to_string(),
    };
    let response = json_error(status, code, message);
    match failure.retry_after_secs() {
        Some(secs) => with_retry_after(response, secs),
        None => response,
    }
}

/// `{"error": code, "message": message}` with `status`.
pub fn json_error(status: StatusCode, code: &str, message: impl Into<String>) -> Response {
    let body = serde_json::json!({ "error": code, "message": message.into() });
    (status, axum::Json(body)).into_response()
}

/// `{"error": code, "message": message, ...extra}` with `status`: an error
/// that carries details (e.g. the seats that were taken).
pub fn json_error_with(
    status: StatusCode,
    code: &str,
    message: impl Into<String>,
    extra: serde_json::Map<String, serde_json::Value>,
) -> Response {
    let mut body = extra;
    body.insert("error".into(), code.into());
    body.insert("message".into(), message.into().into());
    (status, axum::Json(serde_json::Value::Object(body))).into_response()
}

/// Adds `Retry-After: secs` to a response.
pub fn with_retry_after(mut response: Response, secs: u64) -> Response {
    if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, value);
    }
    response
}

/// The code an error status gets when the framework, not a handler, answered.
pub fn code_for(status: StatusCode) -> &'static str {
    match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "invalid_token",
        StatusCode::FORBIDDEN => "forbidden",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "request_timeout",
        StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid_field",
        StatusCode::TOO_MANY_REQUESTS => "rate_limited",
        StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE => "headers_too_large",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        StatusCode::GATEWAY_TIMEOUT => "timeout",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    }
}

/// `fallback` for unknown routes.
pub async fn not_found() -> Response {
    json_error(
        StatusCode::NOT_FOUND,
        "not_found",
        "no such page or endpoint",
    )
}

/// `method_not_allowed_fallback` for known routes asked with another method.
pub async fn method_not_allowed() -> Response {
    json_error(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "this endpoint does not take that method",
    )
}

fn is_json(response: &Response) -> bool {
    response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Layer: an error response that is not JSON (axum's rejections, a
/// timeout) is rewritten as `{"error", "message"}`, keeping its status and
/// headers and using its text, if any, as the message. A tower layer of its
/// own rather than `axum::middleware::from_fn`, which clones and boxes the
/// inner service and boxes its future on every request: here a response
/// that needs no rewriting (nearly all) passes through as it is.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonErrorsLayer;

impl<S> tower::Layer<S> for JsonErrorsLayer {
    type Service = JsonErrors<S>;

    fn layer(&self, inner: S) -> Self::Service {
        JsonErrors { inner }
    }
}

/// The service of [`JsonErrorsLayer`].
#[derive(Debug, Clone)]
pub struct JsonErrors<S> {
    inner: S,
}

impl<S, R> tower::Service<R> for JsonErrors<S>
where
    S: tower::Service<R, Response = Response>,
    S::Error: Send + 'static,
{
    type Response = Response;
    type Error = S::Error;
    type Future = JsonErrorsFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: R) -> Self::Future {
        JsonErrorsFuture::Inner {
            inner: self.inner.call(request),
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`JsonErrors`]: the inner answer, then (rarely) its
    /// rewriting, which reads the body.
    #[project = JsonErrorsState]
    pub enum JsonErrorsFuture<F, E> {
        Inner { #[pin] inner: F },
        Rewriting { rewriting: BoxFuture<'static, Result<Response, E>> },
    }
}

impl<F, E> Future for JsonErrorsFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
    E: Send + 'static,
{
    type Output = Result<Response, E>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        loop {
            match self.as_mut().project() {
                JsonErrorsState::Inner { inner } => {
                    let response = std::task::ready!(inner.poll(cx))?;
                    let status = response.status();
                    if !(status.is_client_error() || status.is_server_error()) || is_json(&response)
                    {
                        return Poll::Ready(Ok(response));
                    }
                    let rewriting = Box::pin(async move { Ok(as_json_error(response).await) });
                    self.set(JsonErrorsFuture::Rewriting { rewriting });
                }
                JsonErrorsState::Rewriting { rewriting } => return rewriting.as_mut().poll(cx),
            }
        }
    }
}

/// A non-JSON error response in the API's shape, its text as the message.
async fn as_json_error(response: Response) -> Response {
    let status = response.status();
    let (mut parts, body) = response.into_parts();
    let text = match http_body_util::Limited::new(body, 4096).collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes())
            .trim()
            .to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() {
        status
            .canonical_reason()
            .unwrap_or("request refused")
            .to_string()
    } else {
        text
    };
    let body = serde_json::json!({ "error": code_for(status), "message": message }).to_string();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// `axum::Json`, but a bad body answers in the API's error shape: 400
/// `invalid_json` (not JSON, wrong content type), 422 `invalid_field` (JSON
/// of the wrong shape), 413 `payload_too_large`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_rejection(rejection)),
        }
    }
}

/// The API's answer to a JSON body axum refused.
pub fn json_rejection(rejection: JsonRejection) -> Response {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => json_error(
            StatusCode::BAD_REQUEST,
            "invalid_json",
            "send a JSON body with Content-Type: application/json",
        ),
        JsonRejection::JsonDataError(e) => json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            e.body_text(),
        ),
        JsonRejection::JsonSyntaxError(e) => {
            json_error(StatusCode::BAD_REQUEST, "invalid_json", e.body_text())
        }
        JsonRejection::BytesRejection(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => {
            json_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                "the request body is too large",
            )
        }
        other => json_error(StatusCode::BAD_REQUEST, "invalid_json", other.body_text()),
    }
}
