//! Group commit: the orders of concurrent requests are written to PostgreSQL in
//! one transaction, so the durable write costs one commit per batch, not per
//! order.
//!
//! A request hands its order to [`OrderWriter::write`] and waits for the batch
//! it landed in to commit. Several workers share one queue: while one commits,
//! the next gathers the orders that arrived meanwhile.
//!
//! A batch is one statement, `record_order_batch` (migration 0021), sent in
//! autocommit: one round trip, the commit included. In that statement each drop's `held` is raised by the batch's units,
//! guarded by `held + units <= stock` (PostgreSQL refuses an oversell even if
//! Redis were wrong) and by `redis_epoch = <the epoch the units were reserved
//! under>`: a reservation made on a Redis copy that has since been rebuilt
//! from PostgreSQL is refused, so it can never add to the rebuilt count. Such
//! stale orders are taken out of the batch (answered `NotWritten`) and the
//! rest is committed without them.
//!
//! **The cap, in PostgreSQL too.** After a Redis master failover the
//! promoted replica may lack an acknowledged reservation (replication is
//! asynchronous), and until the rebuild its per-user count is short. So the
//! insert itself keeps only orders that leave their user within the drop's
//! `per_user_cap`, counting the user's holding orders (found by the unique
//! key's `(drop_id, user_id)` prefix) and, for a user twice in one batch,
//! the batch's earlier orders. The `held` update runs *before* the insert: it
//! locks the drop row, so concurrent batches of one drop take turns and each
//! insert (a new snapshot: each statement of the PL/pgSQL function takes one,
//! read committed) sees every order committed before it; the units of orders
//! the insert left out (over the cap, or an idempotency key already used) are
//! taken back off `held` in a second update, only when there are any. Cost on
//! the common path: one condition in the insert. An order refused this way is
//! answered [`WriteOutcome::OverCap`]; its reservation is released.
//!
//! One statement rather than BEGIN, UPDATE, INSERT and COMMIT because the
//! drop's row stays locked from the UPDATE to the commit: with four round
//! trips every batch of a hot drop queued behind three of another's, each a
//! wait for the scheduler on a busy box.
//!
//! What a failure means matters to the caller, who holds a Redis reservation:
//! - [`WriteError::NotWritten`]: the batch surely did not commit (not sent, or
//!   PostgreSQL answered with an error, which rolled it back). The caller
//!   releases the reservation.
//! - [`WriteError::Unknown`]: the batch was sent and no answer came (timeout,
//!   lost connection). The order may be recorded, so the reservation must stay;
//!   reconciliation against PostgreSQL settles it later. Keeping units reserved
//!   can only undersell, never oversell.

use crate::store::OrderRow;
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot, Mutex};
use uuid::Uuid;

/// An order to record as `pending`.
#[derive(Debug, Clone)]
pub struct NewOrder {
    pub id: Uuid,
    pub drop_id: String,
    pub user_id: String,
    pub quantity: i32,
    pub unit_price_cents: i64,
    pub currency: String,
    pub idempotency_key: String,
    pub admission_jti: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The drop's Redis epoch the units were reserved under.
    pub epoch: i64,
}

/// What became of a written order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOutcome {
    /// Recorded, durably: the row as PostgreSQL stored it.
    Recorded(Box<OrderRow>),
    /// Not recorded: the user already has an order under this idempotency key.
    DuplicateKey,
    /// Not recorded: PostgreSQL's record says it would put the user over
    /// the drop's cap (Redis had lost some of their orders).
    OverCap,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum WriteError {
    #[error("the order was not written: {0}")]
    NotWritten(String),
    #[error("the order may or may not be written: {0}")]
    Unknown(String),
}

/// Tuning of the group-commit writer.
#[derive(Debug, Clone, Copy)]
pub struct WriterConfig {
    pub workers: usize,
    pub max_batch: usize,
    pub queue_capacity: usize,
    /// Upper bound on one batch's transaction; past it the requests are answered.
    pub timeout: Duration,
}

impl Default for WriterConfig {
    fn default() -> Self {
        Self {
            workers: 4,
            max_batch: 512,
            queue_capacity: 20_000,
            timeout: Duration::from_secs(3),
        }
    }
}

struct Job {
    order: NewOrder,
    reply: oneshot::Sender<Result<WriteOutcome, WriteError>>,
}

/// The handle requests write through; cheap to clone.
#[derive(Clone)]
pub struct OrderWriter {
    queue: mpsc::Sender<Job>,
}

impl OrderWriter {
    /// Starts the workers. They stop when every handle is dropped, after
    /// finishing the batches already queued.
    pub fn spawn(
        db: sqlx::PgPool,
        config: WriterConfig,
    ) -> (Self, Vec<tokio::task::JoinHandle<()>>) {
        let (queue, jobs) = mpsc::channel(config.queue_capacity);
        let jobs = Arc::new(Mutex::new(jobs));
        let workers = (0..config.workers.max(1))
            .map(|n| tokio::spawn(run_worker(n, db.clone(), jobs.clone(), config)))
            .collect();
        (Self { queue }, workers)
    }

    /// Records `order` and waits for its batch to commit.
    pub async fn write(&self, order: NewOrder) -> Result<WriteOutcome, WriteError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .try_send(Job { order, reply })
            .map_err(|_| WriteError::NotWritten("the order writer is saturated".into()))?;
        answer
            .await
            .unwrap_or_else(|_| Err(WriteError::Unknown("the order writer stopped".into())))
    }
}

async fn run_worker(
    n: usize,
    db: sqlx::PgPool,
    jobs: Arc<Mutex<mpsc::Receiver<Job>>>,
    config: WriterConfig,
) {
    tracing::info!(worker = n, "order writer started");
    loop {
        let Some(batch) = next_batch(&jobs, config.max_batch).await else {
            break;
        };
        metrics::histogram!("sale_order_batch_size").record(batch.len() as f64);
        let mut batch = batch;
        // At most two rounds: the second without orders found stale in the first.
        for round in 0..2 {
            let orders: Vec<&NewOrder> = batch.iter().map(|job| &job.order).collect();
            match commit_batch(&db, &orders, config.timeout).await {
                Ok(Committed {
                    mut recorded,
                    over_cap,
                }) => {
                    for job in batch.drain(..) {
                        let outcome = match recorded.remove(&job.order.id) {
                            Some(updated_at) => {
                                WriteOutcome::Recorded(Box::new(job.order.into_row(updated_at)))
                            }
                            None if over_cap.contains(&job.order.id) => WriteOutcome::OverCap,
                            None => WriteOutcome::DuplicateKey,
                        };
                        let _ = job.reply.send(Ok(outcome));
                    }
                    break;
                }
                Err(BatchError::Stale(stale)) if round == 0 => {
                    let (stale_jobs, fresh): (Vec<Job>, Vec<Job>) =
                        batch.drain(..).partition(|job| {
                            stale.contains(&(job.order.drop_id.clone(), job.order.epoch))
                        });
                    tracing::warn!(
                        worker = n,
                        stale = stale_jobs.len(),
                        "orders reserved on a rebuilt Redis copy refused"
                    );
                    metrics::counter!("sale_orders_stale_epoch_total")
                        .increment(stale_jobs.len() as u64);
                    for job in stale_jobs {
                        let _ = job.reply.send(Err(WriteError::NotWritten(
                            "reserved on a Redis copy that has since been rebuilt".into(),
                        )));
                    }
                    batch = fresh;
                    if batch.is_empty() {
                        break;
                    }
                }
                Err(error) => {
                    let error = error.into_write_error();
                    tracing::warn!(worker = n, %error, orders = batch.len(), "order batch failed");
                    for job in batch.drain(..) {
                        let _ = job.reply.send(Err(error.clone()));
                    }
                    break;
                }
            }
        }
    }
    tracing::info!(worker = n, "order writer stopped");
}

/// The next batch for a worker of a group-commit writer: waits for one job,
/// then takes what else is queued, up to `max`; `None` once every sender is
/// gone. The lock makes the workers take turns: while one commits, the next
/// gathers what arrived meanwhile.
pub(crate) async fn next_batch<T>(jobs: &Mutex<mpsc::Receiver<T>>, max: usize) -> Option<Vec<T>> {
    let mut jobs = jobs.lock().await;
    let first = jobs.recv().await?;
    let mut batch = vec![first];
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// Why a batch was not committed.
enum BatchError {
    /// Some orders were reserved under an epoch PostgreSQL no longer accepts:
    /// these (drop, epoch) pairs. Nothing was committed.
    Stale(HashSet<(String, i64)>),
    Write(WriteError),
}

impl BatchError {
    fn into_write_error(self) -> WriteError {
        match self {
            Self::Stale(_) => WriteError::NotWritten("reserved on a rebuilt Redis copy".into()),
            Self::Write(error) => error,
        }
    }
}

/// What a committed batch holds: the orders inserted (with the
/// `updated_at` PostgreSQL gave them: everything else in the row is what
/// was sent, so only that comes back), and the orders left out because
/// they would put their user over the cap (the rest left out were
/// duplicate keys).
struct Committed {
    recorded: HashMap<Uuid, DateTime<Utc>>,
    over_cap: HashSet<Uuid>,
}

impl NewOrder {
    /// The row PostgreSQL recorded for this order (as the insert writes
    /// it: pending, the total from the unit price, no payment, no hold;
    /// times at PostgreSQL's microsecond precision, truncated as sqlx
    /// sends them).
    fn into_row(self, updated_at: DateTime<Utc>) -> OrderRow {
        use chrono::SubsecRound;
        OrderRow {
            id: self.id,
            total_cents: self.unit_price_cents * i64::from(self.quantity),
            drop_id: self.drop_id,
            user_id: self.user_id,
            quantity: self.quantity,
            unit_price_cents: self.unit_price_cents,
            currency: self.currency,
            status: "pending".into(),
            created_at: self.created_at.trunc_subsecs(6),
            expires_at: self.expires_at.trunc_subsecs(6),
            updated_at,
            paid_at: None,
            idempotency_key: self.idempotency_key,
            hold_id: None,
        }
    }
}

/// Writes one batch in one statement, `record_order_batch` (migration
/// 0021), sent in autocommit: one round trip, the drop's row locked only
/// while the function runs and commits.
async fn commit_batch(
    db: &sqlx::PgPool,
    orders: &[&NewOrder],
    timeout: Duration,
) -> Result<Committed, BatchError> {
    let sent = AtomicBool::new(false);
    let attempt = async {
        let mut conn = db
            .acquire()
            .await
            .map_err(|e| BatchError::Write(WriteError::NotWritten(e.to_string())))?;
        let column = |f: fn(&NewOrder) -> String| orders.iter().map(|o| f(o)).collect::<Vec<_>>();
        sent.store(true, Ordering::SeqCst);
        let rows = sqlx::query!(
            r#"SELECT outcome AS "outcome!", order_id AS "order_id!", updated_at
               FROM record_order_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"#,
            &orders.iter().map(|o| o.id).collect::<Vec<_>>(),
            &column(|o| o.drop_id.clone()),
            &column(|o| o.user_id.clone()),
            &orders.iter().map(|o| o.quantity).collect::<Vec<_>>(),
            &orders
                .iter()
                .map(|o| o.unit_price_cents)
                .collect::<Vec<_>>(),
            &column(|o| o.currency.clone()),
            &column(|o| o.idempotency_key.clone()),
            &column(|o| o.admission_jti.clone()),
            &orders.iter().map(|o| o.created_at).collect::<Vec<_>>(),
            &orders.iter().map(|o| o.expires_at).collect::<Vec<_>>(),
            &orders.iter().map(|o| o.epoch).collect::<Vec<_>>(),
        )
        .fetch_all(&mut *conn)
        .await
        .map_err(batch_error)?;
        let mut committed = Committed {
            recorded: HashMap::with_capacity(rows.len()),
            over_cap: HashSet::new(),
        };
        for row in rows {
            // The function's two outcomes: recorded (with its time), or over the cap.
            match (row.outcome.as_str(), row.updated_at) {
                ("recorded", Some(updated_at)) => {
                    committed.recorded.insert(row.order_id, updated_at);
                }
                _ => {
                    committed.over_cap.insert(row.order_id);
                }
            }
        }
        if !committed.over_cap.is_empty() {
            tracing::warn!(
                orders = committed.over_cap.len(),
                "PostgreSQL refused orders over the per-user cap"
            );
            metrics::counter!("sale_orders_over_cap_refused_total")
                .increment(committed.over_cap.len() as u64);
        }
        Ok(committed)
    };
    match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        // Not sent, or dropped before its answer: an unsent statement
        // surely wrote nothing; a sent one may have committed.
        Err(_) if !sent.load(Ordering::SeqCst) => Err(BatchError::Write(
            WriteError::NotWritten("timed out before the batch was sent".into()),
        )),
        Err(_) => Err(BatchError::Write(WriteError::Unknown(
            "timed out waiting for the batch's commit".into(),
        ))),
    }
}

/// What a failed batch statement means. An error PostgreSQL answered
/// rolled the statement's transaction back: nothing was written (the
/// stale epochs are one such answer, 'LU001', listed in its detail).
/// Anything else (the connection lost, a protocol fault) came after
/// the statement may have been sent, so it may have committed.
fn batch_error(error: sqlx::Error) -> BatchError {
    let sqlx::Error::Database(answered) = &error else {
        return BatchError::Write(WriteError::Unknown(error.to_string()));
    };
    let pg = answered.try_downcast_ref::<sqlx::postgres::PgDatabaseError>();
    if let Some(stale) = pg
        .filter(|pg| pg.code() == "LU001")
        .and_then(|pg| pg.detail())
        .and_then(|detail| serde_json::from_str::<Vec<(String, i64)>>(detail).ok())
    {
        return BatchError::Stale(stale.into_iter().collect());
    }
    if pg.is_some_and(|pg| pg.code() == "LU002") {
        tracing::error!(%error, "PostgreSQL refused a batch that would oversell");
    }
    BatchError::Write(WriteError::NotWritten(error.to_string()))
}
