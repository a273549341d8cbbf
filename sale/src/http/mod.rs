//! The HTTP surface of the sale service: a thin layer over the domain
//! ([`crate::Sale`]). Each route module parses and authenticates, calls one
//! domain operation, and shapes the answer.
//!
//! - [`drops`]: create, list, show, change, stats.
//! - [`orders`]: place, show, mine, cancel.
//! - [`payments`]: pay an order, the provider's webhook.
//! - [`venues`]: venues and their seat maps.
//! - [`events`]: events with their venue and sales.
//! - [`search`]: event search and suggestions, with cache headers.
//! - [`access`]: invite-only lines: access mode, codes, the list.
//! - [`revocations`]: an operator revokes a user or an admission token.
//! - [`seats`]: holds, the seat snapshot and its event stream.
//! - [`pages`]: the operator console and its assets, with security headers.
//! - [`versions`]: `If-Match` and `ETag` of edited events and venues.
//! - [`auth`]: user, operator and admission credentials.
//! - [`error`]: the error every endpoint answers with.

pub mod access;
pub mod auth;
pub mod drops;
pub mod error;
pub mod events;
pub mod orders;
pub mod pages;
pub mod payments;
pub mod revocations;
pub mod search;
pub mod seats;
pub mod venues;
pub mod versions;

use crate::domain::Sale;
use admission::identity::{DevIssuer, UserVerifier};
use admission::token::AdmissionVerifier;
use axum::extract::DefaultBodyLimit;
use axum::Router;
use runtime::limiter::KeyedLimiter;
use std::sync::Arc;

/// Request bodies larger than this are refused with 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// What the HTTP layer needs besides the domain: credentials and limits.
/// Cheap to clone (one reference count), as axum clones it per request.
pub type HttpState = Arc<HttpParts>;

/// What an [`HttpState`] holds.
pub struct HttpParts {
    pub sale: Sale,
    /// Event search over its engine.
    pub search: crate::search::Search,
    pub admission: AdmissionVerifier,
    pub users: UserVerifier,
    pub operator_key: Option<Arc<str>>,
    pub dev_issuer: Option<DevIssuer>,
    pub order_limiter: KeyedLimiter<String>,
    /// Where an event page sends a fan into a sale's line (`{drop}`
    /// replaced by its id).
    pub fan_page_url: Arc<str>,
    /// Origins allowed to call the API from a browser.
    pub cors_origins: Arc<str>,
}

impl HttpParts {
    pub fn is_operator_key(&self, presented: &str) -> bool {
        self.operator_key
            .as_deref()
            .is_some_and(|key| auth::key_matches(presented, key))
    }
}

/// Every route of the service, with the body limit, CORS and the JSON
/// error shape for unknown routes and methods.
pub fn router(state: HttpState) -> Router {
    let cors = cors(&state.cors_origins);
    let dev = state.dev_issuer.clone().map(|issuer| {
        let issue: runtime::dev::Issue = Arc::new(move |user, operator, created| {
            issuer.issue_for(user, operator, 24 * 3600, created)
        });
        runtime::dev::router(issue, true)
    });
    let api = Router::new()
        .merge(drops::router())
        .merge(orders::router())
        .merge(payments::router())
        .merge(venues::router())
        .merge(events::router())
        .merge(search::router())
        .merge(seats::router())
        .merge(revocations::router())
        .merge(access::router())
        .merge(pages::router())
        .fallback(runtime::error::not_found)
        .method_not_allowed_fallback(runtime::error::method_not_allowed)
        .with_state(state);
    let api = match dev {
        Some(dev) => api.merge(dev),
        None => api,
    };
    api.layer(DefaultBodyLimit::max(MAX_BODY_BYTES)).layer(cors)
}

/// CORS for the configured origins: the fan page (served by the queue
/// service) buys, holds seats, follows the seat stream and pays here from
/// the browser. `Last-Event-ID` is allowed because an `EventSource` that
/// reconnects by itself sends it (the stream resumes from it).
fn cors(origins: &str) -> tower_http::cors::CorsLayer {
    use axum::http::{header, HeaderName, HeaderValue, Method};
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins = origins.trim();
    let allow = if origins == "*" {
        AllowOrigin::any()
    } else {
        AllowOrigin::list(
            origins
                .split(',')
                .filter_map(|o| HeaderValue::from_str(o.trim()).ok()),
        )
    };
    CorsLayer::new()
        .allow_origin(allow)
        .allow_methods([Method::GET, Method::POST, Method::PATCH, Method::DELETE])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static("idempotency-key"),
            HeaderName::from_static(orders::USER_TOKEN_HEADER),
            HeaderName::from_static("last-event-id"),
        ])
}
