//! Join, poll and leave over HTTP (for clients without WebSockets), the
//! draw, and the admission keys.

use super::error::QueueError;
use super::{check_rate, claims_of, client_ip, user_of, HttpState};
use crate::status::Status;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::HeaderMap;
use axum::routing::get;
use axum::{Json, Router};
use std::net::SocketAddr;

pub fn router() -> Router<HttpState> {
    Router::new()
        .route("/api/drops/{id}/queue", get(poll).post(join).delete(leave))
        .route("/api/drops/{id}/draw", get(draw))
        .route("/api/drops/{id}/queue/challenge", get(challenge))
        .route("/.well-known/jwks.json", get(jwks))
}

/// A fan's request: who, from where, within their rate.
struct Fan(String, std::net::IpAddr);

impl axum::extract::FromRequestParts<HttpState> for Fan {
    type Rejection = QueueError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        http: &HttpState,
    ) -> Result<Self, QueueError> {
        let user = user_of(http, &parts.headers)?;
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(peer)| peer.ip())
            .ok_or_else(|| anyhow::anyhow!("no peer address"))?;
        let client = client_ip(http, peer, &parts.headers);
        check_rate(http, &user, client)?;
        Ok(Self(user, client))
    }
}

/// `POST /api/drops/{id}/queue`.
async fn join(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    Fan(user, client): Fan,
    headers: HeaderMap,
) -> Result<Json<Status>, QueueError> {
    let state = http.room.drop_state(&drop_id).await?;
    let proofs = super::Proofs::from_headers(&headers);
    super::check_entry(&http, &state, &user, &proofs, client).await?;
    let code = super::access_code(&headers);
    Ok(Json(
        http.room
            .join_status(&drop_id, &user, code.as_deref())
            .await?,
    ))
}

/// `GET /api/drops/{id}/queue/challenge`: a proof-of-work challenge for
/// this user and drop (ALTCHA's shape, plus `"required"`: the classic
/// SHA-256 one, or PoW v2's `{"parameters", "signature"}` when the drop
/// asks for the memory-hard function), or
/// `{"required": false}` when joins of this drop need none. The
/// difficulty is the rates' (see `pow`) times the young-account factor
/// when the user token says the account is young.
async fn challenge(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, QueueError> {
    let claims = claims_of(&http, &headers)?;
    let user = claims.sub;
    let client = client_ip(&http, peer.ip(), &headers);
    check_rate(&http, &user, client)?;
    let state = http.room.drop_state(&drop_id).await?;
    if !http.pow.required(state.settings.proof_of_work) {
        return Ok(Json(serde_json::json!({"required": false})));
    }
    let now = u64::try_from(http.room.statuses.clock.now().timestamp()).unwrap_or(0);
    let (age, account_factor) = http.pow.account_factor(claims.account_created_at, now);
    metrics::counter!("queue_pow_challenges_total", "account" => age.name()).increment(1);
    let mut body = if state.settings.pow_algorithm == admission::contract::PowAlgorithm::Argon2id {
        // One Argon2id derivation (milliseconds, megabytes): off the async
        // threads.
        let max = http
            .pow
            .hard_difficulty(&drop_id, client)
            .await
            .saturating_mul(account_factor);
        let challenger = http.pow.challenger.clone();
        let challenge = tokio::task::spawn_blocking(move || {
            challenger.hard_challenge(&drop_id, &user, max, now)
        })
        .await
        .map_err(anyhow::Error::from)?
        .ok_or_else(|| anyhow::anyhow!("the Argon2id cost cannot derive keys"))?;
        serde_json::to_value(challenge).map_err(anyhow::Error::from)?
    } else {
        let maxnumber = http
            .pow
            .difficulty(&drop_id, client)
            .await
            .saturating_mul(account_factor);
        let challenge = http
            .pow
            .challenger
            .challenge(&drop_id, &user, maxnumber, now);
        serde_json::to_value(challenge).map_err(anyhow::Error::from)?
    };
    body["required"] = serde_json::Value::Bool(true);
    Ok(Json(body))
}

/// `GET /api/drops/{id}/queue`: the status; also counts as a sign of life.
async fn poll(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    Fan(user, _): Fan,
) -> Result<Json<Status>, QueueError> {
    Ok(Json(http.room.poll_status(&drop_id, &user).await?))
}

/// `DELETE /api/drops/{id}/queue`.
async fn leave(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, QueueError> {
    let user = user_of(&http, &headers)?;
    let left = http.room.leave(&drop_id, &user).await?;
    Ok(Json(serde_json::json!({"left": left})))
}

/// `GET /api/drops/{id}/draw`: the commitment, and after opening the seed,
/// so anyone can recompute the pre-queue order.
async fn draw(
    State(http): State<HttpState>,
    Path(drop_id): Path<String>,
) -> Result<Json<serde_json::Value>, QueueError> {
    let state = http.room.drop_state(&drop_id).await?;
    let open = state.is_open(http.room.statuses.clock.now());
    let seed = &state.settings.draw_seed;
    Ok(Json(serde_json::json!({
        "drop": drop_id,
        "seed_sha256": crate::draw::seed_hash(seed),
        "seed": open.then_some(seed),
        "opens_at": state.settings.opens_at,
        "order": "users who joined before opens_at, sorted by the first 52 bits of \
                  HMAC-SHA256(key = seed, message = user id) as a big-endian integer, then by user id",
    })))
}

/// `GET /.well-known/jwks.json`.
async fn jwks(State(http): State<HttpState>) -> Json<admission::keys::Jwks> {
    Json((*http.jwks).clone())
}
