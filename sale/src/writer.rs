//! Group commit: the orders of concurrent requests are written to PostgreSQL in
//! one transaction, so the durable write costs one commit per batch, not per
//! order.
//!
//! A request hands its order to [`OrderWriter::write`] and waits for the batch
//! it landed in to commit. The workers (one by default) share one queue:
//! what arrives while a batch commits is the next batch. A batch of a drop
//! holds the drop's row lock until its commit, so a second worker on one
//! hot drop mostly waits for that lock, and splits the queue into smaller
//! batches (more commits for the same orders).
//!
//! In the same transaction each drop's `held` is raised by the batch's units,
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
//! insert (a new snapshot, read committed) sees every order committed before
//! it; the units of orders the insert left out (over the cap, or an
//! idempotency key already used) are taken back off `held` in a second
//! update, only when there are any. Cost on the common path: one condition
//! in the insert, no extra round trip. An order refused this way is
//! answered [`WriteOutcome::OverCap`]; its reservation is released.
//!
//! **A kept connection.** A worker keeps its PostgreSQL connection from one
//! batch to the next while orders keep coming, and gives it back to the
//! pool when the queue runs dry or a batch fails
//! ([`crate::batching::KeptConnection`]).
//!
//! Over 400 lines on purpose: the batch's one transaction (drop rows, the
//! guarded insert, the correction) reads best in one place, next to the
//! worker that decides what each outcome means for the caller.
//!
//! What a failure means matters to the caller, who holds a Redis reservation:
//! - [`WriteError::NotWritten`]: the transaction surely did not commit (failed
//!   before `COMMIT` was sent). The caller releases the reservation.
//! - [`WriteError::Unknown`]: `COMMIT` was sent and no answer came (timeout,
//!   lost connection). The order may be recorded, so the reservation must stay;
//!   reconciliation against PostgreSQL settles it later. Keeping units reserved
//!   can only undersell, never oversell.

use crate::batching::{next_batch, KeptConnection};
use crate::store::OrderRow;
use chrono::{DateTime, Utc};
use sqlx::{Connection, PgConnection};
use std::collections::{BTreeMap, HashMap, HashSet};
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
            workers: 1,
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
    let mut conn = KeptConnection::new(db, "sale_order_writer_connections_taken_total");
    loop {
        let Some(batch) = next_batch(&jobs, config.max_batch, || conn.give_back()).await else {
            break;
        };
        metrics::histogram!("sale_order_batch_size").record(batch.len() as f64);
        let mut batch = batch;
        // At most two rounds: the second without orders found stale in the first.
        for round in 0..2 {
            let orders: Vec<&NewOrder> = batch.iter().map(|job| &job.order).collect();
            match commit_batch(&mut conn, &orders, config.timeout).await {
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

/// Writes one batch in one transaction, on the worker's kept connection.
/// A batch that fails gives the connection back: it may be broken, or left
/// mid-statement by the timeout.
async fn commit_batch(
    conn: &mut KeptConnection,
    orders: &[&NewOrder],
    timeout: Duration,
) -> Result<Committed, BatchError> {
    let commit_sent = AtomicBool::new(false);
    let attempt = async {
        let conn = conn.get().await.map_err(not_written)?;
        write_batch(conn, orders, &commit_sent).await
    };
    let outcome = match tokio::time::timeout(timeout, attempt).await {
        Ok(result) => result,
        // Dropping an uncommitted transaction rolls it back: surely not written.
        Err(_) if !commit_sent.load(Ordering::SeqCst) => Err(BatchError::Write(
            WriteError::NotWritten("timed out before commit".into()),
        )),
        Err(_) => Err(BatchError::Write(WriteError::Unknown(
            "timed out waiting for commit".into(),
        ))),
    };
    if let Err(BatchError::Write(_)) = outcome {
        conn.give_back();
    }
    outcome
}

/// A statement's failure before `COMMIT` was sent: the transaction rolls
/// back, so nothing of the batch is written.
fn not_written(error: sqlx::Error) -> BatchError {
    BatchError::Write(WriteError::NotWritten(error.to_string()))
}

/// The batch's transaction on `conn`; `commit_sent` is set just before
/// `COMMIT` goes out.
async fn write_batch(
    conn: &mut PgConnection,
    orders: &[&NewOrder],
    commit_sent: &AtomicBool,
) -> Result<Committed, BatchError> {
    let mut tx = conn.begin().await.map_err(not_written)?;

    // First the drop rows (sorted by drop id, so concurrent batches lock
    // them in one order), for every order of the batch.
    let mut units: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for order in orders {
        *units
            .entry((order.drop_id.as_str(), order.epoch))
            .or_default() += i64::from(order.quantity);
    }
    let mut stale = HashSet::new();
    for (&(drop_id, epoch), &units) in &units {
        let updated = sqlx::query!(
            "UPDATE drops SET held = held + $2 \
             WHERE id = $1 AND held + $2 <= stock AND redis_epoch = $3",
            drop_id,
            units,
            epoch
        )
        .execute(&mut *tx)
        .await
        .map_err(not_written)?;
        if updated.rows_affected() == 1 {
            continue;
        }
        let current = sqlx::query_scalar!("SELECT redis_epoch FROM drops WHERE id = $1", drop_id)
            .fetch_one(&mut *tx)
            .await
            .map_err(not_written)?;
        if current != epoch {
            stale.insert((drop_id.to_string(), epoch));
            continue;
        }
        tracing::error!(
            drop = drop_id,
            units,
            "PostgreSQL refused a batch that would oversell"
        );
        return Err(BatchError::Write(WriteError::NotWritten(format!(
            "drop {drop_id} has not {units} units left in PostgreSQL"
        ))));
    }
    if !stale.is_empty() {
        return Err(BatchError::Stale(stale));
    }

    let column = |f: fn(&NewOrder) -> String| orders.iter().map(|o| f(o)).collect::<Vec<_>>();
    let inserted = sqlx::query!(
        "INSERT INTO orders (id, drop_id, user_id, quantity, unit_price_cents, total_cents, \
           currency, status, idempotency_key, admission_jti, created_at, expires_at) \
         SELECT id, drop_id, user_id, quantity, unit_price_cents, \
           unit_price_cents * quantity, currency, 'pending', \
           idempotency_key, admission_jti, created_at, expires_at \
         FROM (SELECT t.*, sum(t.quantity) OVER (PARTITION BY t.drop_id, t.user_id \
                 ORDER BY t.n) AS in_batch \
               FROM UNNEST($1::uuid[], $2::text[], $3::text[], $4::int[], $5::bigint[], \
                 $6::text[], $7::text[], $8::text[], $9::timestamptz[], $10::timestamptz[]) \
                 WITH ORDINALITY AS t(id, drop_id, user_id, quantity, unit_price_cents, \
                   currency, idempotency_key, admission_jti, created_at, expires_at, n)) b \
         WHERE b.in_batch + COALESCE((SELECT sum(o.quantity) FROM orders o \
             WHERE o.drop_id = b.drop_id AND o.user_id = b.user_id \
               AND o.status IN ('pending', 'paid')), 0) \
           <= (SELECT d.per_user_cap FROM drops d WHERE d.id = b.drop_id) \
         ON CONFLICT (drop_id, user_id, idempotency_key) DO NOTHING \
         RETURNING id, updated_at",
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
    )
    .fetch_all(&mut *tx)
    .await
    .map_err(not_written)?;

    let mut over_cap = HashSet::new();
    if inserted.len() < orders.len() {
        // Rare: some were left out. Give their units back to `held`, and
        // tell a used key from a refusal by the cap.
        let recorded: HashSet<Uuid> = inserted.iter().map(|row| row.id).collect();
        let left_out: Vec<&NewOrder> = orders
            .iter()
            .copied()
            .filter(|o| !recorded.contains(&o.id))
            .collect();
        let mut back: BTreeMap<&str, i64> = BTreeMap::new();
        for order in &left_out {
            *back.entry(order.drop_id.as_str()).or_default() += i64::from(order.quantity);
        }
        for (drop_id, units) in back {
            sqlx::query!(
                "UPDATE drops SET held = held - $2 WHERE id = $1",
                drop_id,
                units
            )
            .execute(&mut *tx)
            .await
            .map_err(not_written)?;
        }
        let column = |f: fn(&NewOrder) -> String| left_out.iter().map(|o| f(o)).collect::<Vec<_>>();
        let used = sqlx::query!(
            "SELECT o.drop_id, o.user_id, o.idempotency_key FROM orders o \
             JOIN UNNEST($1::text[], $2::text[], $3::text[]) AS k(drop_id, user_id, key) \
               ON o.drop_id = k.drop_id AND o.user_id = k.user_id \
              AND o.idempotency_key = k.key",
            &column(|o| o.drop_id.clone()),
            &column(|o| o.user_id.clone()),
            &column(|o| o.idempotency_key.clone()),
        )
        .fetch_all(&mut *tx)
        .await
        .map_err(not_written)?;
        let used: HashSet<(String, String, String)> = used
            .into_iter()
            .map(|row| (row.drop_id, row.user_id, row.idempotency_key))
            .collect();
        for order in left_out {
            let key = (
                order.drop_id.clone(),
                order.user_id.clone(),
                order.idempotency_key.clone(),
            );
            if !used.contains(&key) {
                over_cap.insert(order.id);
            }
        }
        if !over_cap.is_empty() {
            tracing::warn!(
                orders = over_cap.len(),
                "PostgreSQL refused orders over the per-user cap"
            );
            metrics::counter!("sale_orders_over_cap_refused_total")
                .increment(over_cap.len() as u64);
        }
    }
    commit_sent.store(true, Ordering::SeqCst);
    tx.commit()
        .await
        .map_err(|e| BatchError::Write(WriteError::Unknown(e.to_string())))?;
    Ok(Committed {
        recorded: inserted
            .into_iter()
            .map(|row| (row.id, row.updated_at))
            .collect(),
        over_cap,
    })
}
