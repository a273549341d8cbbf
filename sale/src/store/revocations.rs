//! Revocations in PostgreSQL: the durable record a drop's Redis copy is
//! loaded from (see `crate::revocation`).

use chrono::{DateTime, Utc};
use sqlx::PgPool;
use uuid::Uuid;

/// Records a revoked user; false when they were revoked already.
pub async fn insert_user(db: &PgPool, user_id: &str, reason: &str) -> sqlx::Result<bool> {
    let inserted = sqlx::query!(
        "INSERT INTO revoked_users (user_id, reason) VALUES ($1, $2) ON CONFLICT DO NOTHING",
        user_id,
        reason
    )
    .execute(db)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// Lifts a user's revocation; false when they were not revoked.
pub async fn delete_user(db: &PgPool, user_id: &str) -> sqlx::Result<bool> {
    let deleted = sqlx::query!("DELETE FROM revoked_users WHERE user_id = $1", user_id)
        .execute(db)
        .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Records a revoked admission token of a drop.
pub async fn insert_token(
    db: &PgPool,
    jti: &str,
    drop_id: &str,
    expires_at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO revoked_tokens (jti, drop_id, expires_at) VALUES ($1, $2, $3) \
         ON CONFLICT (jti) DO UPDATE SET expires_at = GREATEST(revoked_tokens.expires_at, EXCLUDED.expires_at)",
        jti,
        drop_id,
        expires_at
    )
    .execute(db)
    .await?;
    Ok(())
}

/// Every revoked user (a drop loaded into Redis gets them all).
pub async fn users(db: &PgPool) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!("SELECT user_id FROM revoked_users ORDER BY user_id")
        .fetch_all(db)
        .await
}

/// A drop's revoked tokens that have not expired yet, with their expiry.
pub async fn live_tokens(
    db: &PgPool,
    drop_id: &str,
    now: DateTime<Utc>,
) -> sqlx::Result<Vec<(String, DateTime<Utc>)>> {
    let rows = sqlx::query!(
        "SELECT jti, expires_at FROM revoked_tokens WHERE drop_id = $1 AND expires_at > $2",
        drop_id,
        now
    )
    .fetch_all(db)
    .await?;
    Ok(rows.into_iter().map(|r| (r.jti, r.expires_at)).collect())
}

/// A user's pending orders (to cancel on revocation), at most 1,000.
pub async fn pending_orders_of(db: &PgPool, user_id: &str) -> sqlx::Result<Vec<Uuid>> {
    sqlx::query_scalar!(
        "SELECT id FROM orders WHERE user_id = $1 AND status = 'pending' ORDER BY created_at LIMIT 1000",
        user_id
    )
    .fetch_all(db)
    .await
}
