//! The invariants a run must leave intact, checked against the durable
//! record (PostgreSQL) and the gate (Redis): sold + pending ≤ stock, nobody
//! over the cap, every order the API acknowledged (201) is recorded, and
//! Redis never counts fewer units than PostgreSQL holds.

use serde::Serialize;
use std::collections::HashSet;

#[derive(Debug, Clone, Default, Serialize, PartialEq, Eq)]
pub struct InvariantReport {
    pub stock: i64,
    /// Units of paid + pending orders in PostgreSQL.
    pub held: i64,
    pub oversold_by: i64,
    pub users_over_cap: Vec<(String, i64)>,
    pub acknowledged: usize,
    pub acknowledged_missing: Vec<String>,
    /// Redis's `sold` counter (None when the drop is not loaded).
    pub redis_sold: Option<i64>,
    pub broken: Vec<String>,
}

impl InvariantReport {
    pub fn holds(&self) -> bool {
        self.broken.is_empty()
    }
}

/// Checks the invariants of `drop` after a run.
pub async fn check(
    db: &sqlx::PgPool,
    redis_url: &str,
    redis_prefix: &str,
    drop: &str,
    acknowledged: &HashSet<String>,
) -> anyhow::Result<InvariantReport> {
    let (stock, cap): (i64, i32) =
        sqlx::query_as("SELECT stock, per_user_cap FROM drops WHERE id = $1")
            .bind(drop)
            .fetch_one(db)
            .await?;
    let per_user: Vec<(String, i64)> = sqlx::query_as(
        "SELECT user_id, sum(quantity)::BIGINT FROM orders \
         WHERE drop_id = $1 AND status IN ('pending', 'paid') GROUP BY user_id",
    )
    .bind(drop)
    .fetch_all(db)
    .await?;
    let held: i64 = per_user.iter().map(|(_, n)| n).sum();
    let recorded: HashSet<String> =
        sqlx::query_scalar::<_, uuid::Uuid>("SELECT id FROM orders WHERE drop_id = $1")
            .bind(drop)
            .fetch_all(db)
            .await?
            .into_iter()
            .map(|id| id.to_string())
            .collect();
    let mut report = InvariantReport {
        stock,
        held,
        oversold_by: (held - stock).max(0),
        users_over_cap: per_user
            .into_iter()
            .filter(|(_, n)| *n > i64::from(cap))
            .collect(),
        acknowledged: acknowledged.len(),
        acknowledged_missing: acknowledged.difference(&recorded).cloned().collect(),
        redis_sold: redis_sold(redis_url, redis_prefix, drop).await?,
        broken: Vec::new(),
    };
    report.broken = report.reasons(cap);
    Ok(report)
}

/// Redis's `sold` counter of `drop` (`None` when the drop is not loaded).
async fn redis_sold(
    redis_url: &str,
    redis_prefix: &str,
    drop: &str,
) -> anyhow::Result<Option<i64>> {
    let mut redis = runtime::redis::connect(redis_url).await?;
    Ok(redis::cmd("HGET")
        .arg(admission::contract::DropKeys::new(redis_prefix, drop).drop())
        .arg("sold")
        .query_async(&mut redis)
        .await?)
}

impl InvariantReport {
    /// Each broken invariant in words (`cap`: the drop's cap per user).
    fn reasons(&self, cap: i32) -> Vec<String> {
        let (held, stock) = (self.held, self.stock);
        let mut broken = Vec::new();
        if self.oversold_by > 0 {
            broken.push(format!("oversold: {held} units held of {stock}"));
        }
        if !self.users_over_cap.is_empty() {
            broken.push(format!(
                "{} users over the cap of {cap}",
                self.users_over_cap.len()
            ));
        }
        if !self.acknowledged_missing.is_empty() {
            broken.push(format!(
                "{} acknowledged orders are not recorded",
                self.acknowledged_missing.len()
            ));
        }
        if let Some(sold) = self.redis_sold.filter(|sold| *sold < held) {
            broken.push(format!(
                "Redis counts {sold} units, PostgreSQL holds {held}"
            ));
        }
        broken
    }
}
