//! The invariants of a seated sale after a run, read straight from
//! PostgreSQL and Redis: no seat in two live claims, nobody over the cap
//! (seats of live holds and of pending or paid orders), and Redis agreeing
//! with PostgreSQL seat by seat (every live claim held in Redis by the same
//! hold and nothing more; once every hold's time has passed, that also says
//! each lapsed hold was given back, exactly once: the count matches).

use super::setup::SeatedSale;
use serde::Serialize;
use std::collections::HashMap;

/// What the check found.
#[derive(Debug, Default, Serialize)]
pub struct Invariants {
    pub live_claims: usize,
    pub seats_in_two_claims: i64,
    pub users_over_cap: i64,
    /// Seats PostgreSQL claims that Redis does not hold for the same hold.
    pub claimed_not_held: usize,
    /// Seats Redis holds that PostgreSQL does not claim.
    pub held_not_claimed: usize,
    pub redis_sold: i64,
}

impl Invariants {
    pub fn hold(&self) -> bool {
        self.seats_in_two_claims == 0
            && self.users_over_cap == 0
            && self.claimed_not_held == 0
            && self.held_not_claimed == 0
            && self.redis_sold == self.live_claims as i64
    }
}

/// Reads both stores and compares.
pub async fn check(
    database_url: &str,
    redis_url: &str,
    redis_prefix: &str,
    sale: &SeatedSale,
    cap: u32,
) -> anyhow::Result<Invariants> {
    let db = sqlx::PgPool::connect(database_url).await?;
    let doubled: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT seat_id FROM seat_claims WHERE event_id = $1 \
         AND live @> now() GROUP BY seat_id HAVING count(*) > 1) d",
    )
    .bind(&sale.event)
    .fetch_one(&db)
    .await?;
    let over: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT h.user_id FROM holds h \
           LEFT JOIN orders o ON o.id = h.order_id \
         WHERE h.drop_id = $1 AND h.released_at IS NULL \
           AND ((h.order_id IS NULL AND h.expires_at > now()) OR o.status IN ('pending', 'paid')) \
         GROUP BY h.user_id HAVING sum(cardinality(h.seats)) > $2) u",
    )
    .bind(&sale.drop)
    .bind(i64::from(cap))
    .fetch_one(&db)
    .await?;
    let claims: Vec<(String, uuid::Uuid)> = sqlx::query_as(
        "SELECT seat_id, hold_id FROM seat_claims WHERE event_id = $1 AND live @> now()",
    )
    .bind(&sale.event)
    .fetch_all(&db)
    .await?;
    let mut redis = runtime::redis::connect(redis_url).await?;
    let base = format!("{redis_prefix}:{{{}}}", sale.drop);
    let owners: HashMap<u32, String> = redis::cmd("HGETALL")
        .arg(format!("{base}:seat:owner"))
        .query_async(&mut redis)
        .await?;
    let sold: Option<i64> = redis::cmd("HGET")
        .arg(format!("{base}:drop"))
        .arg("sold")
        .query_async(&mut redis)
        .await?;
    let claimed: HashMap<u32, String> = claims
        .iter()
        .filter_map(|(seat, hold)| Some((sale.map.index_of(seat)?, hold.to_string())))
        .collect();
    Ok(Invariants {
        live_claims: claims.len(),
        seats_in_two_claims: doubled,
        users_over_cap: over,
        claimed_not_held: claimed
            .iter()
            .filter(|(seat, hold)| owners.get(seat) != Some(hold))
            .count(),
        held_not_claimed: owners.keys().filter(|s| !claimed.contains_key(s)).count(),
        redis_sold: sold.unwrap_or(0),
    })
}
