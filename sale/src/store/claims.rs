//! Ending seat claims: a hold given up, lapsed or whose order ended stops
//! claiming its seats. Shared by [`super::holds`] and [`super::orders`]
//! (an order cancelled or expired gives its hold's seats back in the same
//! transaction), so neither needs the other for it.

use chrono::{DateTime, Utc};
use uuid::Uuid;

/// Ends the claims of `holds` at `at` (never before they began).
pub async fn end_claims(
    tx: &mut sqlx::PgConnection,
    holds: &[Uuid],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE seat_claims SET live = tstzrange(lower(live), \
           greatest(lower(live) + interval '1 microsecond', least(upper(live), $2))) \
         WHERE hold_id = ANY($1)",
        holds,
        at
    )
    .execute(&mut *tx)
    .await?;
    Ok(())
}

/// Marks the holds of ended seated orders released and ends their seat
/// claims at `at` (in the transaction that ended the orders).
pub async fn release_seats(
    tx: &mut sqlx::PgConnection,
    holds: &[Uuid],
    at: DateTime<Utc>,
) -> sqlx::Result<()> {
    sqlx::query!(
        "UPDATE holds SET released_at = $2 WHERE id = ANY($1) AND released_at IS NULL",
        holds,
        at
    )
    .execute(&mut *tx)
    .await?;
    end_claims(tx, holds, at).await
}
