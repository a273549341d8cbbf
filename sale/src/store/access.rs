//! Invite-only drops in PostgreSQL: a drop's access mode, its access codes
//! (as hashes) and the users granted access (see `crate::access`).

use sqlx::PgPool;

/// Sets a drop's access mode (`open`, `code` or `list`) and whether its
/// joins need proof of work; `None` keeps what is set. Returns both.
pub async fn set_mode(
    db: &PgPool,
    drop_id: &str,
    mode: Option<&str>,
    proof_of_work: Option<bool>,
) -> sqlx::Result<(String, bool)> {
    let row = sqlx::query!(
        "INSERT INTO drop_access (drop_id, mode, proof_of_work) \
         VALUES ($1, COALESCE($2, 'open'), COALESCE($3, true)) \
         ON CONFLICT (drop_id) DO UPDATE SET \
           mode = COALESCE($2, drop_access.mode), \
           proof_of_work = COALESCE($3, drop_access.proof_of_work), updated_at = now() \
         RETURNING mode, proof_of_work",
        drop_id,
        mode,
        proof_of_work
    )
    .fetch_one(db)
    .await?;
    Ok((row.mode, row.proof_of_work))
}

/// A drop's access mode and proof-of-work switch (`open`, on: when never set).
pub async fn mode(db: &PgPool, drop_id: &str) -> sqlx::Result<(String, bool)> {
    let row = sqlx::query!(
        "SELECT mode, proof_of_work FROM drop_access WHERE drop_id = $1",
        drop_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map_or(("open".into(), true), |r| (r.mode, r.proof_of_work)))
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
