//! `POST /api/dev/login` (dev mode only): a user token for any name, so the
//! pages and `curl` can sign in without an identity provider. Each service
//! says how tokens are issued and whether an operator may be asked for.
//! `account_age_days` makes the token say the account was made that many
//! days ago (`account_created_at`), as a provider that knows it would, so a
//! young account's proof of work can be tried in dev.
//! Dev mode is refused on non-loopback addresses unless insisted on
//! ([`crate::ServiceSettings::check_dev_mode`]).

use crate::error::{json_error, ApiJson};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::Deserialize;
use std::sync::Arc;

/// Signs a token for (user, operator, when the account was made in Unix
/// seconds if the token is to say).
pub type Issue = Arc<dyn Fn(&str, bool, Option<u64>) -> anyhow::Result<String> + Send + Sync>;

/// The oldest account a dev login may ask for, days (a century).
const MAX_ACCOUNT_AGE_DAYS: u64 = 36_500;

#[derive(Clone)]
struct Dev {
    issue: Issue,
    operators: bool,
}

/// The dev-login route, with its own state (merge after `with_state`).
pub fn router(issue: Issue, operators: bool) -> Router {
    Router::new()
        .route("/api/dev/login", post(login))
        .with_state(Dev { issue, operators })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DevLogin {
    user: String,
    #[serde(default)]
    operator: bool,
    #[serde(default)]
    account_age_days: Option<u64>,
}

async fn login(State(dev): State<Dev>, ApiJson(body): ApiJson<DevLogin>) -> Response {
    let user = body.user.trim();
    if user.is_empty() || user.len() > 64 || !user.bytes().all(|b| b.is_ascii_graphic()) {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "user must be 1-64 visible ASCII characters",
        );
    }
    if body.operator && !dev.operators {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "operators sign in at the sale service",
        );
    }
    if body
        .account_age_days
        .is_some_and(|days| days > MAX_ACCOUNT_AGE_DAYS)
    {
        return json_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_field",
            "account_age_days must be 0-36500",
        );
    }
    let created_at = body.account_age_days.map(|days| {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        now.saturating_sub(days * 86_400)
    });
    match (dev.issue)(user, body.operator, created_at) {
        Ok(token) => {
            Json(serde_json::json!({"user": user, "token": token, "operator": body.operator}))
                .into_response()
        }
        Err(error) => {
            tracing::error!(?error, "dev login: signing failed");
            json_error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "internal error",
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use std::sync::Mutex;
    use tower::ServiceExt;

    /// What the issuer was last asked for: user, operator, creation time.
    type Asked = Arc<Mutex<Option<(String, bool, Option<u64>)>>>;

    /// The route, and what its issuer was last asked for.
    fn route() -> (Router, Asked) {
        let asked = Arc::new(Mutex::new(None));
        let seen = asked.clone();
        let issue: Issue = Arc::new(move |user, operator, created| {
            *seen.lock().map_err(|_| anyhow::anyhow!("poisoned"))? =
                Some((user.to_string(), operator, created));
            Ok("token".into())
        });
        (router(issue, true), asked)
    }

    async fn login(router: Router, body: &str) -> StatusCode {
        let request = Request::post("/api/dev/login")
            .header("content-type", "application/json")
            .body(Body::from(body.to_string()))
            .expect("request");
        router.oneshot(request).await.expect("answer").status()
    }

    #[tokio::test]
    async fn an_account_age_makes_the_token_say_when_the_account_was_made() {
        let (router, asked) = route();
        assert_eq!(
            login(router.clone(), r#"{"user": "ann"}"#).await,
            StatusCode::OK
        );
        assert_eq!(
            *asked.lock().expect("lock"),
            Some(("ann".into(), false, None))
        );
        let body = r#"{"user": "bea", "account_age_days": 2}"#;
        assert_eq!(login(router.clone(), body).await, StatusCode::OK);
        let created = asked.lock().expect("lock").clone().and_then(|(_, _, c)| c);
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        let age = now - created.expect("a creation time");
        assert!((2 * 86_400..2 * 86_400 + 5).contains(&age), "{age} s old");

        *asked.lock().expect("lock") = None;
        let too_old = r#"{"user": "cid", "account_age_days": 36501}"#;
        assert_eq!(
            login(router.clone(), too_old).await,
            StatusCode::UNPROCESSABLE_ENTITY
        );
        let negative = r#"{"user": "cid", "account_age_days": -1}"#;
        assert!(login(router, negative).await.is_client_error());
        assert_eq!(*asked.lock().expect("lock"), None, "nothing was issued");
    }
}
