//! The sale service as a run drives it: an HTTP client sized for a run,
//! drops created and their state changed with the operator key, and an API
//! error read back as `"<status> <code>"` for the report.

use anyhow::Context;

/// An HTTP client keeping up to `idle_per_host` connections open (one per
/// concurrent buyer is what a closed loop needs).
pub fn client(idle_per_host: usize) -> anyhow::Result<reqwest::Client> {
    Ok(reqwest::Client::builder()
        .pool_max_idle_per_host(idle_per_host)
        .build()?)
}

/// Creates a drop (`body` is the `POST /api/drops` JSON, with its `id`).
pub async fn create_drop(
    http: &reqwest::Client,
    sale: &str,
    operator_key: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    let created = http
        .post(format!("{sale}/api/drops"))
        .bearer_auth(operator_key)
        .json(body)
        .send()
        .await
        .with_context(|| format!("creating drop {} at {sale}", body["id"]))?;
    anyhow::ensure!(
        created.status() == 201,
        "creating the drop: {}",
        error_code(created).await
    );
    Ok(())
}

/// Creates an open drop with ample stock for an order-path run and returns
/// its id (`load-<ms>`); each user may hold `per_user_cap` units.
pub async fn create_load_drop(
    http: &reqwest::Client,
    sale: &str,
    operator_key: &str,
    per_user_cap: u32,
) -> anyhow::Result<String> {
    let drop = format!("load-{}", chrono::Utc::now().timestamp_millis());
    let body = serde_json::json!({"id": drop, "name": "Load test", "stock": 100_000_000,
        "price_cents": 100, "currency": "EUR", "opens_at": "2020-01-01T00:00:00Z",
        "per_user_cap": per_user_cap});
    create_drop(http, sale, operator_key, &body).await?;
    Ok(drop)
}

/// Sets a drop's state (`open`, `paused`, `closed`) as an operator would.
pub async fn set_drop_state(
    http: &reqwest::Client,
    sale: &str,
    operator_key: &str,
    drop: &str,
    state: &str,
) -> anyhow::Result<()> {
    http.patch(format!("{sale}/api/drops/{drop}"))
        .bearer_auth(operator_key)
        .json(&serde_json::json!({ "state": state }))
        .send()
        .await
        .with_context(|| format!("setting drop {drop} {state}"))?
        .error_for_status()?;
    Ok(())
}

/// Changes a drop's access settings (`PUT /api/drops/{id}/access`) as an
/// operator would.
pub async fn set_access(
    http: &reqwest::Client,
    sale: &str,
    operator_key: &str,
    drop: &str,
    body: &serde_json::Value,
) -> anyhow::Result<()> {
    http.put(format!("{sale}/api/drops/{drop}/access"))
        .bearer_auth(operator_key)
        .json(body)
        .send()
        .await
        .with_context(|| format!("setting drop {drop}'s access"))?
        .error_for_status()?;
    Ok(())
}

/// An error answer as `"<status> <code>"` (e.g. `"409 sold_out"`).
pub async fn error_code(response: reqwest::Response) -> String {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap_or_default();
    format!("{status} {}", body["error"].as_str().unwrap_or(""))
}
