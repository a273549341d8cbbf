//! Group commit for holds: the holds of concurrent requests are recorded in
//! PostgreSQL in one transaction ([`insert_batch`], kept here next to its
//! transaction logic, as the orders' batch insert is in [`crate::writer`]),
//! so a rush of holds costs one commit per batch, not one per hold (one
//! commit per hold made PostgreSQL's flushes the ceiling: a few hundred
//! holds a second).
//!
//! A request hands its hold to [`HoldWriter::write`] and waits for the batch
//! it landed in. When PostgreSQL refuses a seat of the batch (a live claim
//! exists, which the Redis decision makes rare), the batch is recorded
//! again one hold per transaction, so only the hold at fault is refused.
//! What each [`HoldWrite`] means for the Redis hold is the caller's
//! ([`super::holds`]). A worker keeps its connection while holds keep
//! coming, as the order writer's do ([`crate::batching::KeptConnection`]).

use crate::batching::{next_batch, KeptConnection};
use crate::store::holds::{self, by_key, fence, HoldRow, HoldWrite, NewHold};
use sqlx::{Connection, PgPool};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

/// Holds gathered into one transaction at the most.
const MAX_BATCH: usize = 256;
/// Holds waiting for a worker at the most; past it a hold is refused at once.
const QUEUE_CAPACITY: usize = 10_000;

/// Why a hold was surely not recorded.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the hold was not recorded: {0}")]
pub struct NotWritten(pub String);

struct Job {
    hold: NewHold,
    reply: oneshot::Sender<Result<HoldWrite, NotWritten>>,
}

/// The handle requests record holds through; cheap to clone.
#[derive(Clone)]
pub struct HoldWriter {
    queue: mpsc::Sender<Job>,
}

impl HoldWriter {
    /// Starts `workers` workers; they stop when every handle is dropped,
    /// after the batches already queued.
    pub fn spawn(
        db: sqlx::PgPool,
        workers: usize,
        timeout: Duration,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
        let jobs = Arc::new(Mutex::new(jobs));
        let handles = (0..workers.max(1))
            .map(|_| tokio::spawn(run_worker(db.clone(), jobs.clone(), timeout)))
            .collect();
        (Self { queue }, handles)
    }

    /// Records `hold` and waits for its batch. `Err` only when it was surely
    /// not recorded; a commit without an answer is [`HoldWrite::Unknown`].
    pub async fn write(&self, hold: NewHold) -> Result<HoldWrite, NotWritten> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { hold, reply })
            .map_err(|_| NotWritten("the hold writer is saturated".into()))?;
        answer.await.unwrap_or_else(|_| {
            Ok(HoldWrite::Unknown(
                "the hold writer stopped before answering".into(),
            ))
        })
    }
}

async fn run_worker(db: sqlx::PgPool, jobs: Arc<Mutex<mpsc::Receiver<Job>>>, timeout: Duration) {
    let mut conn = KeptConnection::new(db.clone(), "sale_hold_writer_connections_taken_total");
    loop {
        let Some(batch) = next_batch(&jobs, MAX_BATCH, || conn.give_back()).await else {
            break;
        };
        metrics::histogram!("sale_hold_batch_size").record(batch.len() as f64);
        let new: Vec<&NewHold> = batch.iter().map(|job| &job.hold).collect();
        let answers: Vec<Result<HoldWrite, NotWritten>> =
            match insert_batch(&db, &mut conn, &new, timeout).await {
                Ok(written) => written.into_iter().map(Ok).collect(),
                Err(BatchFailure::SeatClaimed) => {
                    let mut one_by_one = Vec::with_capacity(new.len());
                    for hold in &new {
                        one_by_one.push(
                            match tokio::time::timeout(timeout, holds::insert(&db, hold)).await {
                                Ok(Ok(written)) => Ok(written),
                                Ok(Err(error)) => Err(NotWritten(error.to_string())),
                                // The transaction may have been committing.
                                Err(_) => Ok(HoldWrite::Unknown("timed out".into())),
                            },
                        );
                    }
                    one_by_one
                }
                Err(BatchFailure::NotWritten(cause)) => {
                    tracing::warn!(%cause, holds = new.len(), "hold batch not written");
                    new.iter().map(|_| Err(NotWritten(cause.clone()))).collect()
                }
                Err(BatchFailure::Unknown(cause)) => new
                    .iter()
                    .map(|_| Ok(HoldWrite::Unknown(cause.clone())))
                    .collect(),
            };
        for (job, answer) in batch.into_iter().zip(answers) {
            let _ = job.reply.send(answer);
        }
    }
}

/// Joins a hold's seat ids into one text for the batch insert (and is split
/// on in SQL): a unit separator, a control character no seat id may hold.
const SEAT_SEPARATOR: &str = "\u{1f}";

/// Why a batch of holds was not recorded as a batch.
#[derive(Debug)]
pub enum BatchFailure {
    /// PostgreSQL refused a seat of one of the holds (a live claim exists):
    /// nothing was committed; record them one by one to tell which.
    SeatClaimed,
    /// Failed before `COMMIT` was sent: surely nothing recorded.
    NotWritten(String),
    /// `COMMIT` was sent and no answer came: every hold may be recorded.
    Unknown(String),
}

/// Records many holds with their claims in one transaction (group commit):
/// one fence per drop, one insert of the holds, one of their claims. The
/// answer has one [`HoldWrite`] per hold, in order. When PostgreSQL refuses
/// a claim (which the Redis decision makes rare) nothing is committed and
/// [`BatchFailure::SeatClaimed`] says to fall back to [`holds::insert`] per hold.
/// The transaction runs on the worker's kept connection `conn`, given back
/// when the batch fails otherwise (broken, or left mid-statement by the
/// timeout); `db` answers a duplicate's lookup after the commit.
pub async fn insert_batch(
    db: &PgPool,
    conn: &mut KeptConnection,
    holds: &[&NewHold],
    timeout: std::time::Duration,
) -> Result<Vec<HoldWrite>, BatchFailure> {
    let commit_sent = std::sync::atomic::AtomicBool::new(false);
    let attempt = async {
        let not_written = |e: sqlx::Error| BatchFailure::NotWritten(e.to_string());
        let mut tx = conn
            .get()
            .await
            .map_err(not_written)?
            .begin()
            .await
            .map_err(not_written)?;
        let mut stale = std::collections::BTreeSet::new();
        let fences: std::collections::BTreeSet<(&str, i64)> = holds
            .iter()
            .map(|h| (h.drop_id.as_str(), h.epoch))
            .collect();
        for (drop_id, epoch) in fences {
            if !fence(&mut tx, drop_id, epoch).await.map_err(not_written)? {
                stale.insert((drop_id, epoch));
            }
        }
        let fresh: Vec<&NewHold> = holds
            .iter()
            .copied()
            .filter(|h| !stale.contains(&(h.drop_id.as_str(), h.epoch)))
            .collect();
        let text =
            |f: fn(&NewHold) -> &str| fresh.iter().map(|h| f(h).to_string()).collect::<Vec<_>>();
        let inserted = sqlx::query_as!(
            HoldRow,
            r#"INSERT INTO holds (id, drop_id, event_id, user_id, seats, total_cents,
                 idempotency_key, admission_jti, created_at, expires_at)
               SELECT t.id, t.drop_id, t.event_id, t.user_id,
                 string_to_array(t.seats, E'\x1f'), t.total_cents, t.idempotency_key,
                 t.admission_jti, t.created_at, t.expires_at
               FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[],
                 $6::bigint[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[])
                 AS t(id, drop_id, event_id, user_id, seats, total_cents, idempotency_key,
                      admission_jti, created_at, expires_at)
               ON CONFLICT (drop_id, user_id, idempotency_key) DO NOTHING
               RETURNING id, drop_id, event_id, user_id, seats, total_cents, created_at,
                 expires_at, order_id, released_at, idempotency_key"#,
            &fresh.iter().map(|h| h.id).collect::<Vec<_>>(),
            &text(|h| &h.drop_id),
            &text(|h| &h.event_id),
            &text(|h| &h.user_id),
            &fresh
                .iter()
                .map(|h| h.seats.join(SEAT_SEPARATOR))
                .collect::<Vec<_>>(),
            &fresh.iter().map(|h| h.total_cents).collect::<Vec<_>>(),
            &text(|h| &h.idempotency_key),
            &text(|h| &h.admission_jti),
            &fresh.iter().map(|h| h.created_at).collect::<Vec<_>>(),
            &fresh.iter().map(|h| h.expires_at).collect::<Vec<_>>(),
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(not_written)?;
        let mut recorded: std::collections::HashMap<Uuid, HoldRow> =
            inserted.into_iter().map(|row| (row.id, row)).collect();
        // One row per claimed seat of every hold inserted above.
        let (mut events, mut seats, mut ids, mut froms, mut untils) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for hold in fresh.iter().filter(|h| recorded.contains_key(&h.id)) {
            for seat in &hold.seats {
                events.push(hold.event_id.clone());
                seats.push(seat.clone());
                ids.push(hold.id);
                froms.push(hold.created_at);
                untils.push(hold.expires_at);
            }
        }
        let claimed = sqlx::query!(
            "INSERT INTO seat_claims (event_id, seat_id, hold_id, live) \
             SELECT e, s, h, tstzrange(f, u) \
             FROM UNNEST($1::text[], $2::text[], $3::uuid[], $4::timestamptz[], $5::timestamptz[]) \
               AS t(e, s, h, f, u)",
            &events,
            &seats,
            &ids,
            &froms,
            &untils
        )
        .execute(&mut *tx)
        .await;
        match claimed {
            Ok(_) => {}
            Err(error) if holds::is_exclusion(&error) => return Err(BatchFailure::SeatClaimed),
            Err(error) => return Err(not_written(error)),
        }
        commit_sent.store(true, std::sync::atomic::Ordering::SeqCst);
        tx.commit()
            .await
            .map_err(|e| BatchFailure::Unknown(e.to_string()))?;
        let mut written = Vec::with_capacity(holds.len());
        for hold in holds {
            written.push(if stale.contains(&(hold.drop_id.as_str(), hold.epoch)) {
                HoldWrite::Stale
            } else if let Some(row) = recorded.remove(&hold.id) {
                HoldWrite::Recorded(row)
            } else {
                // Another hold under this idempotency key was there first.
                match by_key(db, &hold.drop_id, &hold.user_id, &hold.idempotency_key).await {
                    Ok(Some(row)) => HoldWrite::Duplicate(row),
                    Ok(None) => HoldWrite::Stale,
                    Err(error) => HoldWrite::Unknown(error.to_string()),
                }
            });
        }
        Ok(written)
    };
    let outcome = match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        // Dropping an uncommitted transaction rolls it back.
        Err(_) if !commit_sent.load(std::sync::atomic::Ordering::SeqCst) => {
            Err(BatchFailure::NotWritten("timed out before commit".into()))
        }
        Err(_) => Err(BatchFailure::Unknown("timed out waiting for commit".into())),
    };
    // A refused seat rolled its transaction back on a sound connection.
    if let Err(BatchFailure::NotWritten(_) | BatchFailure::Unknown(_)) = outcome {
        conn.give_back();
    }
    outcome
}
