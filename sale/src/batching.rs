//! What the group-commit workers share (the orders' [`crate::writer`] and
//! the seat holds' [`crate::seats::writer`]): taking the next batch off
//! their queue, and the PostgreSQL connection a worker keeps while jobs
//! keep coming.

use sqlx::pool::PoolConnection;
use sqlx::{PgConnection, PgPool, Postgres};
use tokio::sync::{mpsc, Mutex};

/// The next batch for a worker of a group-commit writer: waits for one job,
/// then takes what else is queued, up to `max`; `None` once every sender is
/// gone. `when_idle` runs first when no job is queued (the worker is about
/// to wait). The lock makes the workers take turns: while one commits, the
/// next gathers what arrived meanwhile.
pub(crate) async fn next_batch<T>(
    jobs: &Mutex<mpsc::Receiver<T>>,
    max: usize,
    when_idle: impl FnOnce(),
) -> Option<Vec<T>> {
    let mut jobs = jobs.lock().await;
    let first = match jobs.try_recv() {
        Ok(job) => job,
        Err(mpsc::error::TryRecvError::Empty) => {
            when_idle();
            jobs.recv().await?
        }
        Err(mpsc::error::TryRecvError::Disconnected) => return None,
    };
    let mut batch = vec![first];
    while batch.len() < max {
        match jobs.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

/// A worker's connection, kept from one batch to the next while jobs keep
/// coming. Taking one from the pool for every batch costs a round trip
/// (the pool's liveness check) before `BEGIN`, and on a busy box each
/// round trip waits for the scheduler twice (the backend's wake-up, then
/// the worker's): ~0.9 ms of a rush's ~4.9 ms order batch. The worker
/// gives it back ([`KeptConnection::give_back`]) when its queue runs dry
/// and after a batch that failed (the connection may be broken, or left
/// mid-statement by a timeout).
pub struct KeptConnection {
    db: PgPool,
    kept: Option<PoolConnection<Postgres>>,
    /// The counter of connections taken from the pool.
    taken_counter: &'static str,
}

impl KeptConnection {
    pub fn new(db: PgPool, taken_counter: &'static str) -> Self {
        Self {
            db,
            kept: None,
            taken_counter,
        }
    }

    /// The kept connection, or a fresh one from the pool (kept from now on).
    pub async fn get(&mut self) -> sqlx::Result<&mut PgConnection> {
        let conn = match self.kept.take() {
            Some(conn) => conn,
            None => {
                let conn = self.db.acquire().await?;
                metrics::counter!(self.taken_counter).increment(1);
                conn
            }
        };
        Ok(&mut **self.kept.insert(conn))
    }

    /// Returns the connection to the pool (or closes it, if broken).
    pub fn give_back(&mut self) {
        self.kept = None;
    }
}
