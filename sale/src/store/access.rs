//! Invite-only drops in PostgreSQL: a drop's access mode, its access codes
//! (as hashes) and the users granted access (see `crate::access`).

use sqlx::PgPool;

/// Sets a drop's access mode (`open`, `code` or `list`).
pub async fn set_mode(db: &PgPool, drop_id: &str, mode: &str) -> sqlx::Result<()> {
    sqlx::query!(
        "INSERT INTO drop_access (drop_id, mode) VALUES ($1, $2) \
         ON CONFLICT (drop_id) DO UPDATE SET mode = EXCLUDED.mode, updated_at = now()",
        drop_id,
        mode
    )
    .execute(db)
    .await?;
    Ok(())
}

/// A drop's access mode (`open` when never set).
pub async fn mode(db: &PgPool, drop_id: &str) -> sqlx::Result<String> {
    let mode = sqlx::query_scalar!("SELECT mode FROM drop_access WHERE drop_id = $1", drop_id)
        .fetch_optional(db)
        .await?;
    Ok(mode.unwrap_or_else(|| "open".into()))
}

/// Adds codes (by hash) allowing `max_uses` each; returns the hashes that
/// were new (a code that exists keeps its cap).
pub async fn insert_codes(
    db: &PgPool,
    drop_id: &str,
    hashes: &[String],
    max_uses: i32,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar!(
        "INSERT INTO access_codes (drop_id, code_hash, max_uses) \
         SELECT $1, h, $3 FROM UNNEST($2::text[]) AS h \
         ON CONFLICT DO NOTHING RETURNING code_hash",
        drop_id,
        hashes,
        max_uses
    )
    .fetch_all(db)
    .await
}

/// Grants users access (the operator's list); returns how many were new.
pub async fn grant_users(db: &PgPool, drop_id: &str, users: &[String]) -> sqlx::Result<u64> {
    let done = sqlx::query!(
        "INSERT INTO access_grants (drop_id, user_id) \
         SELECT $1, u FROM UNNEST($2::text[]) AS u ON CONFLICT DO NOTHING",
        drop_id,
        users
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected())
}
