//! The routes every service answers for its operators and orchestrator:
//! `/healthz` (the process is up), `/readyz` (its dependencies answer) and
//! `/metrics` (Prometheus text). `/metrics` is meant for the internal
//! network; `METRICS_TOKEN`, when set, makes it ask for that bearer token.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use futures::future::BoxFuture;
use std::sync::Arc;

/// What readiness checks: each named dependency answers or not.
pub type ReadinessCheck =
    Arc<dyn Fn() -> BoxFuture<'static, Vec<(&'static str, bool)>> + Send + Sync>;

/// A readiness check that runs `check` on a clone of `state` each time.
pub fn readiness<S, F, Fut>(state: S, check: F) -> ReadinessCheck
where
    S: Clone + Send + Sync + 'static,
    F: Fn(S) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Vec<(&'static str, bool)>> + Send + 'static,
{
    Arc::new(move || Box::pin(check(state.clone())))
}

#[derive(Clone)]
struct Ops {
    ready: ReadinessCheck,
    metrics: metrics_exporter_prometheus::PrometheusHandle,
    metrics_token: Option<Arc<str>>,
}

/// The ops routes, with their own state (merge after `with_state`).
pub fn router(ready: ReadinessCheck, metrics_token: Option<String>) -> Router {
    Router::new()
        .route(
            "/healthz",
            get(|| async { Json(serde_json::json!({"status": "ok"})) }),
        )
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(Ops {
            ready,
            metrics: crate::telemetry::prometheus_handle(),
            metrics_token: metrics_token.filter(|t| !t.is_empty()).map(Arc::from),
        })
}

async fn readyz(State(ops): State<Ops>) -> Response {
    let checks = (ops.ready)().await;
    let ready = checks.iter().all(|(_, ok)| *ok);
    let body: serde_json::Map<String, serde_json::Value> = checks
        .into_iter()
        .map(|(name, ok)| (name.to_string(), ok.into()))
        .collect();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

async fn metrics(State(ops): State<Ops>, headers: HeaderMap) -> Response {
    if let Some(token) = &ops.metrics_token {
        let presented = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        if !constant_time_eq(presented.as_bytes(), token.as_bytes()) {
            return crate::error::json_error(
                StatusCode::UNAUTHORIZED,
                "invalid_token",
                "metrics need the METRICS_TOKEN bearer token",
            );
        }
    }
    ops.metrics.render().into_response()
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
