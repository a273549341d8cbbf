//! Group commit for holds: the holds of concurrent requests are recorded in
//! PostgreSQL in one transaction ([`holds::insert_batch`]), so a rush of
//! holds costs one commit per batch, not one per hold (one commit per hold
//! made PostgreSQL's flushes the ceiling: a few hundred holds a second).
//!
//! A request hands its hold to [`HoldWriter::write`] and waits for the batch
//! it landed in. When PostgreSQL refuses a seat of the batch (a live claim
//! exists, which the Redis decision makes rare), the batch is recorded
//! again one hold per transaction, so only the hold at fault is refused.
//! What each [`HoldWrite`] means for the Redis hold is the caller's
//! ([`super::holds`]).

use crate::store::holds::{self, BatchFailure, HoldWrite, NewHold};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};

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
    loop {
        let batch = {
            let mut jobs = jobs.lock().await;
            let Some(first) = jobs.recv().await else {
                break;
            };
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match jobs.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            batch
        };
        metrics::histogram!("sale_hold_batch_size").record(batch.len() as f64);
        let new: Vec<&NewHold> = batch.iter().map(|job| &job.hold).collect();
        let answers: Vec<Result<HoldWrite, NotWritten>> =
            match holds::insert_batch(&db, &new, timeout).await {
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
