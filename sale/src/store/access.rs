//! Invite-only drops in PostgreSQL: a drop's access mode, its access codes
//! (as hashes) and the users granted access (see `crate::access`).

use sqlx::PgPool;

/// A drop's line settings: who may join (`open`, `code` or `list`) and
/// whether its joins need proof of work and a CAPTCHA (each when the queue
/// asks for one at all), and the proof-of-work function (`SHA-256` or the
/// memory-hard `ARGON2ID`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AccessSettings {
    pub mode: String,
    pub proof_of_work: bool,
    pub captcha: bool,
    pub pow_algorithm: String,
}

impl Default for AccessSettings {
    /// A drop never set: open, proof of work and CAPTCHA on.
    fn default() -> Self {
        Self {
            mode: "open".into(),
            proof_of_work: true,
            captcha: true,
            pow_algorithm: admission::contract::PowAlgorithm::Sha256.as_str().into(),
        }
    }
}

/// What an operator changes; `None` keeps what is set.
#[derive(Debug, Clone, Default)]
pub struct AccessChange<'a> {
    pub mode: Option<&'a str>,
    pub proof_of_work: Option<bool>,
    pub captcha: Option<bool>,
    pub pow_algorithm: Option<&'a str>,
}

/// Sets a drop's access mode, its proof-of-work and CAPTCHA switches and
/// its proof-of-work function;
/// what is left out keeps its value. Returns the settings.
pub async fn set_mode(
    db: &PgPool,
    drop_id: &str,
    change: &AccessChange<'_>,
) -> sqlx::Result<AccessSettings> {
    sqlx::query_as!(
        AccessSettings,
        "INSERT INTO drop_access (drop_id, mode, proof_of_work, captcha, pow_algorithm) \
         VALUES ($1, COALESCE($2, 'open'), COALESCE($3, true), COALESCE($4, true), \
                 COALESCE($5, 'SHA-256')) \
         ON CONFLICT (drop_id) DO UPDATE SET \
           mode = COALESCE($2, drop_access.mode), \
           proof_of_work = COALESCE($3, drop_access.proof_of_work), \
           captcha = COALESCE($4, drop_access.captcha), \
           pow_algorithm = COALESCE($5, drop_access.pow_algorithm), updated_at = now() \
         RETURNING mode, proof_of_work, captcha, pow_algorithm",
        drop_id,
        change.mode,
        change.proof_of_work,
        change.captcha,
        change.pow_algorithm
    )
    .fetch_one(db)
    .await
}

/// A drop's access settings (the defaults when never set).
pub async fn mode(db: &PgPool, drop_id: &str) -> sqlx::Result<AccessSettings> {
    let row = sqlx::query_as!(
        AccessSettings,
        "SELECT mode, proof_of_work, captcha, pow_algorithm FROM drop_access WHERE drop_id = $1",
        drop_id
    )
    .fetch_optional(db)
    .await?;
    Ok(row.unwrap_or_default())
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
