//! Drop endpoints: create, list, show, change, stats; and loading a drop into
//! Redis when it is missing there.

use super::auth::Operator;
use super::error::{ApiError, ApiJson};
use crate::app::AppState;
use crate::store::{self, DropChange, DropRow, NewDrop};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A drop id is a slug: lowercase letters, digits and dashes, 1 to 64 long.
pub fn valid_drop_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !id.starts_with('-')
}

fn default_cap() -> i32 {
    2
}
fn default_timeout() -> i32 {
    3600
}
fn default_rate() -> f64 {
    50.0
}
fn default_max_active() -> i32 {
    1000
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateDrop {
    pub id: String,
    pub name: String,
    pub stock: i64,
    pub price_cents: i64,
    pub currency: String,
    pub opens_at: DateTime<Utc>,
    #[serde(default = "default_cap")]
    pub per_user_cap: i32,
    #[serde(default = "default_timeout")]
    pub order_timeout_secs: i32,
    #[serde(default = "default_rate")]
    pub admission_rate_per_sec: f64,
    #[serde(default = "default_max_active")]
    pub max_active: i32,
}

fn check(ok: bool, message: &str) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::Validation(message.to_string()))
    }
}

fn check_rate(rate: f64) -> Result<(), ApiError> {
    check(
        rate.is_finite() && rate > 0.0 && rate <= 100_000.0,
        "admission_rate_per_sec must be more than 0 and at most 100000",
    )
}

fn check_max_active(max_active: i32) -> Result<(), ApiError> {
    check(
        (1..=10_000_000).contains(&max_active),
        "max_active must be from 1 to 10000000",
    )
}

impl CreateDrop {
    fn validate(self) -> Result<NewDrop, ApiError> {
        check(
            valid_drop_id(&self.id),
            "id must be 1-64 lowercase letters, digits or dashes",
        )?;
        let name = self.name.trim().to_string();
        check(
            !name.is_empty() && name.len() <= 200,
            "name must be 1-200 characters",
        )?;
        check(
            (0..=1_000_000_000).contains(&self.stock),
            "stock must be from 0 to 1000000000",
        )?;
        check(
            (0..=100_000_000_000).contains(&self.price_cents),
            "price_cents must be from 0 to 100000000000",
        )?;
        check(
            self.currency.len() == 3 && self.currency.bytes().all(|b| b.is_ascii_uppercase()),
            "currency must be a three-letter ISO code such as EUR",
        )?;
        check(
            (1..=100).contains(&self.per_user_cap),
            "per_user_cap must be from 1 to 100",
        )?;
        check(
            (1..=7 * 24 * 3600).contains(&self.order_timeout_secs),
            "order_timeout_secs must be from 1 to 604800",
        )?;
        check_rate(self.admission_rate_per_sec)?;
        check_max_active(self.max_active)?;
        Ok(NewDrop {
            id: self.id,
            name,
            stock: self.stock,
            price_cents: self.price_cents,
            currency: self.currency,
            opens_at: self.opens_at,
            per_user_cap: self.per_user_cap,
            order_timeout_secs: self.order_timeout_secs,
            admission_rate_per_sec: self.admission_rate_per_sec,
            max_active: self.max_active,
        })
    }
}

/// A drop as the API shows it.
#[derive(Debug, Serialize)]
pub struct DropView {
    pub id: String,
    pub name: String,
    /// `scheduled`, `open`, `paused`, `sold_out` or `closed`.
    pub state: &'static str,
    pub stock: i64,
    pub remaining: i64,
    pub price_cents: i64,
    pub currency: String,
    pub opens_at: DateTime<Utc>,
    pub per_user_cap: i32,
    pub order_timeout_secs: i32,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// SHA-256 (hex) of the pre-queue draw's secret seed, published from the
    /// start; the seed is revealed by the queue service after opening.
    pub draw_seed_sha256: String,
}

impl DropView {
    fn new(drop: DropRow, remaining: i64, now: DateTime<Utc>) -> Self {
        let state = match drop.state.as_str() {
            "closed" => "closed",
            "paused" => "paused",
            _ if remaining <= 0 => "sold_out",
            _ if now < drop.opens_at => "scheduled",
            _ => "open",
        };
        Self {
            state,
            remaining,
            id: drop.id,
            name: drop.name,
            stock: drop.stock,
            price_cents: drop.price_cents,
            currency: drop.currency,
            opens_at: drop.opens_at,
            per_user_cap: drop.per_user_cap,
            order_timeout_secs: drop.order_timeout_secs,
            admission_rate_per_sec: drop.admission_rate_per_sec,
            max_active: drop.max_active,
            created_at: drop.created_at,
            updated_at: drop.updated_at,
            draw_seed_sha256: {
                use sha2::{Digest, Sha256};
                Sha256::digest(drop.draw_seed.as_bytes())
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect()
            },
        }
    }
}

/// Units left: Redis's live count when it has the drop, else PostgreSQL's.
async fn remaining(app: &AppState, drop: &DropRow) -> i64 {
    match app.gate.counters(&drop.id).await {
        Ok(Some(counters)) => counters.stock - counters.sold,
        _ => drop.stock - drop.held,
    }
}

async fn view(app: &AppState, drop: DropRow) -> DropView {
    let left = remaining(app, &drop).await;
    DropView::new(drop, left, app.clock.now())
}

pub async fn create(
    State(app): State<AppState>,
    _: Operator,
    ApiJson(body): ApiJson<CreateDrop>,
) -> Result<(StatusCode, Json<DropView>), ApiError> {
    let new = body.validate()?;
    let drop = store::insert_drop(&app.db, &new).await?.ok_or_else(|| {
        ApiError::Conflict("drop_exists", format!("a drop with id {} exists", new.id))
    })?;
    // PostgreSQL first: if this process dies here, or Redis is down, the drop
    // is recorded but not loaded; the first order loads it (ensure_loaded).
    if let Err(error) = app.gate.create(&drop.id, &drop.gate_state()).await {
        tracing::warn!(%error, drop = drop.id, "drop created but not loaded into Redis yet");
    }
    tracing::info!(drop = drop.id, stock = drop.stock, "drop created");
    Ok((StatusCode::CREATED, Json(view(&app, drop).await)))
}

pub async fn list(State(app): State<AppState>) -> Result<Json<Vec<DropView>>, ApiError> {
    let mut views = Vec::new();
    for drop in store::list_drops(&app.db).await? {
        views.push(view(&app, drop).await);
    }
    Ok(Json(views))
}

async fn find(app: &AppState, id: &str) -> Result<DropRow, ApiError> {
    if !valid_drop_id(id) {
        return Err(ApiError::NotFound("unknown_drop"));
    }
    store::get_drop(&app.db, id)
        .await?
        .ok_or(ApiError::NotFound("unknown_drop"))
}

pub async fn show(
    State(app): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<DropView>, ApiError> {
    let drop = find(&app, &id).await?;
    Ok(Json(view(&app, drop).await))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChangeDrop {
    pub admission_rate_per_sec: Option<f64>,
    pub max_active: Option<i32>,
    pub add_stock: Option<i64>,
    /// `open` (also: resume), `paused` or `closed`.
    pub state: Option<String>,
}

pub async fn change(
    State(app): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<ChangeDrop>,
) -> Result<Json<DropView>, ApiError> {
    if let Some(rate) = body.admission_rate_per_sec {
        check_rate(rate)?;
    }
    if let Some(max_active) = body.max_active {
        check_max_active(max_active)?;
    }
    if let Some(add) = body.add_stock {
        check(
            (1..=1_000_000_000).contains(&add),
            "add_stock must be from 1 to 1000000000",
        )?;
    }
    if let Some(state) = &body.state {
        check(
            matches!(state.as_str(), "open" | "paused" | "closed"),
            "state must be open, paused or closed",
        )?;
    }
    check(
        body.admission_rate_per_sec.is_some()
            || body.max_active.is_some()
            || body.add_stock.is_some()
            || body.state.is_some(),
        "nothing to change",
    )?;
    let existing = find(&app, &id).await?;
    let change = DropChange {
        admission_rate_per_sec: body.admission_rate_per_sec,
        max_active: body.max_active,
        add_stock: body.add_stock,
        state: body.state,
    };
    let drop = match store::update_drop(&app.db, &id, &change).await? {
        Some(drop) => drop,
        None if existing.state == "closed" => {
            return Err(ApiError::Conflict(
                "drop_closed",
                "a closed drop cannot be reopened or paused".into(),
            ))
        }
        None => return Err(ApiError::NotFound("unknown_drop")),
    };
    // PostgreSQL first, then Redis. Should Redis miss this (down, or this
    // process dies now), the drop sync loop copies it within a few seconds.
    if let Err(error) = app.gate.sync(&drop.id, &drop.gate_state()).await {
        tracing::warn!(%error, drop = drop.id, "drop changed but Redis not updated yet");
    }
    if let Err(error) = app.gate.announce_change(&drop.id).await {
        tracing::debug!(%error, "drop change not announced; queues see it at their next poll");
    }
    tracing::info!(drop = drop.id, ?change, "drop changed");
    Ok(Json(view(&app, drop).await))
}

#[derive(Debug, Serialize)]
pub struct DropStats {
    pub drop_id: String,
    pub state: &'static str,
    pub stock: i64,
    pub remaining: i64,
    /// Units reserved in Redis (pending + paid, including writes in flight).
    pub reserved: i64,
    pub pending: store::StatusTotals,
    pub paid: store::StatusTotals,
    pub cancelled: store::StatusTotals,
    pub expired: store::StatusTotals,
    pub refunded: store::StatusTotals,
    pub admission_rate_per_sec: f64,
    pub max_active: i32,
    /// The waiting room: waiting, admitted so far, active shoppers.
    pub queue: crate::stock::QueueCounters,
}

pub async fn stats(
    State(app): State<AppState>,
    _: Operator,
    Path(id): Path<String>,
) -> Result<Json<DropStats>, ApiError> {
    let drop = find(&app, &id).await?;
    let mut totals = store::totals_by_status(&app.db, &id).await?;
    let reserved = match app.gate.counters(&id).await? {
        Some(counters) => counters.sold,
        None => drop.held,
    };
    let mut take = |status: &str| totals.remove(status).unwrap_or_default();
    let (pending, paid, cancelled, expired, refunded) = (
        take("pending"),
        take("paid"),
        take("cancelled"),
        take("expired"),
        take("refunded"),
    );
    let view = DropView::new(drop.clone(), drop.stock - reserved, app.clock.now());
    let active_since = app.clock.now().timestamp_millis() - 600_000;
    let queue = app.gate.queue_counters(&id, active_since).await?;
    Ok(Json(DropStats {
        drop_id: view.id,
        state: view.state,
        stock: view.stock,
        remaining: view.remaining,
        reserved,
        pending,
        paid,
        cancelled,
        expired,
        refunded,
        admission_rate_per_sec: view.admission_rate_per_sec,
        max_active: view.max_active,
        queue,
    }))
}

/// Loads a drop missing from Redis (new Redis, lost data, or a create whose
/// Redis write never happened) from PostgreSQL: its settings, and the units
/// each user holds. Returns `NotFound` for a drop PostgreSQL does not know.
///
/// Step by step, and why it cannot oversell:
/// 1. Lock the drop row (rebuilds of one drop never overlap, across processes)
///    and check, under the lock, that Redis still lacks the drop.
/// 2. In the same transaction, bump `redis_epoch` and read the holdings. An
///    order batch writing under the old epoch either committed before the
///    lock (so its orders are in the holdings) or is refused by the writer's
///    epoch check after it (so it adds nothing): the count is exact.
/// 3. Commit, then load Redis with the new epoch. Dying between 3's two
///    steps leaves Redis empty: the next order starts another rebuild.
///
/// While one request of this process rebuilds a drop, the others answer 503
/// `unavailable` at once rather than queueing on the lock.
pub async fn ensure_loaded(app: &AppState, drop_id: &str) -> Result<(), ApiError> {
    let Some(_rebuilding) = RebuildGuard::take(app, drop_id) else {
        return Err(ApiError::Unavailable(
            "the drop is being reloaded after a Redis failure; try again in a moment".into(),
        ));
    };
    let mut tx = app.db.begin().await?;
    let locked = store::lock_drop_for_rebuild(&mut tx, drop_id, Duration::from_secs(2)).await;
    match locked {
        Ok(Some(_)) => {}
        Ok(None) => return Err(ApiError::NotFound("unknown_drop")),
        Err(sqlx::Error::Database(e)) if e.code().as_deref() == Some("55P03") => {
            return Err(ApiError::Unavailable(
                "the drop is being reloaded by another process; try again in a moment".into(),
            ))
        }
        Err(e) => return Err(e.into()),
    }
    if app.gate.counters(drop_id).await?.is_some() {
        return Ok(()); // another process loaded it while we waited
    }
    let drop = store::bump_redis_epoch(&mut tx, drop_id).await?;
    let holdings = store::holdings(&mut tx, drop_id).await?;
    tx.commit().await?;
    if app
        .gate
        .rebuild(drop_id, &drop.gate_state(), &holdings)
        .await?
    {
        metrics::counter!("sale_drop_rebuilds_total").increment(1);
        tracing::warn!(
            drop = drop_id,
            epoch = drop.redis_epoch,
            orders = holdings.len(),
            "drop rebuilt into Redis from PostgreSQL"
        );
    }
    Ok(())
}

/// Marks a drop as being rebuilt by this process until dropped.
struct RebuildGuard {
    app: AppState,
    drop_id: String,
}

impl RebuildGuard {
    fn take(app: &AppState, drop_id: &str) -> Option<Self> {
        let mut rebuilding = app.rebuilding.lock().unwrap_or_else(|e| e.into_inner());
        rebuilding.insert(drop_id.to_string()).then(|| Self {
            app: app.clone(),
            drop_id: drop_id.to_string(),
        })
    }
}

impl Drop for RebuildGuard {
    fn drop(&mut self) {
        let mut rebuilding = self
            .app
            .rebuilding
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        rebuilding.remove(&self.drop_id);
    }
}
