//! What the order writer answers when a batch does not simply commit: the
//! caller releases the reservation on `NotWritten` and keeps it on
//! `Unknown`, so `NotWritten` must mean the order can never be recorded.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use sale::writer::{NewOrder, OrderWriter, WriteError, WriterConfig};
use std::time::Duration;

fn order(drop: &str, user: &str, quantity: i32) -> NewOrder {
    let now = chrono::Utc::now();
    NewOrder {
        id: uuid::Uuid::new_v4(),
        drop_id: drop.into(),
        user_id: user.into(),
        quantity,
        unit_price_cents: 100,
        currency: "EUR".into(),
        idempotency_key: format!("{user}-key"),
        admission_jti: format!("{user}-jti"),
        created_at: now,
        expires_at: now + chrono::Duration::hours(1),
        epoch: 0,
    }
}

async fn recorded(db: &sqlx::PgPool, id: uuid::Uuid) -> bool {
    sqlx::query_scalar::<_, i64>("SELECT count(*) FROM orders WHERE id = $1")
        .bind(id)
        .fetch_one(db)
        .await
        .unwrap()
        == 1
}

/// Takes `drop`'s row lock in a transaction of the test's own, so the
/// writer's next batch of that drop waits for it (until it commits).
async fn lock_drop_row(
    db: &sqlx::PgPool,
    drop: &str,
) -> sqlx::Transaction<'static, sqlx::Postgres> {
    let mut lock = db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM drops WHERE id = $1 FOR UPDATE")
        .bind(drop)
        .execute(&mut *lock)
        .await
        .unwrap();
    lock
}

/// A batch stuck behind the drop's lock past the writer's timeout has not
/// sent its COMMIT: its transaction is rolled back, so it must never commit
/// once the lock goes. `NotWritten` makes the caller release the
/// reservation, and an order recorded after that would be units Redis
/// sells again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_timed_out_before_its_commit_is_not_written_and_never_commits() {
    let app = TestApp::spawn().await;
    app.create_drop("locked", 10).await;
    let config = WriterConfig {
        workers: 1,
        timeout: Duration::from_millis(300),
        ..WriterConfig::default()
    };
    let (writer, _workers) = OrderWriter::spawn(app.db.clone(), config);

    let lock = lock_drop_row(&app.db, "locked").await;
    let slow = order("locked", "ann", 1);
    let answer = writer.write(slow.clone()).await;
    assert!(
        matches!(answer, Err(WriteError::NotWritten(_))),
        "{answer:?}"
    );

    lock.commit().await.unwrap();
    // The writer's next batch goes through, on the connection the stuck one used or another.
    let next = order("locked", "bob", 1);
    assert!(writer.write(next.clone()).await.is_ok());
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !recorded(&app.db, slow.id).await,
        "the timed-out batch committed"
    );
    assert!(recorded(&app.db, next.id).await);
    assert_eq!(app.pg_held_column("locked").await, 1);
    app.stop().await;
}

/// PostgreSQL's refusal (here: the drop's stock in PostgreSQL is short of
/// the batch, so `held + units <= stock` fails) rolls the batch back:
/// `NotWritten`, and nothing changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_postgresql_refuses_is_not_written_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.create_drop("short", 3).await;
    let (writer, _workers) = OrderWriter::spawn(app.db.clone(), WriterConfig::default());
    assert!(writer.write(order("short", "ann", 2)).await.is_ok());

    let refused = writer.write(order("short", "dan", 2)).await;
    assert!(
        matches!(refused, Err(WriteError::NotWritten(_))),
        "{refused:?}"
    );
    assert_eq!(app.pg_held_column("short").await, 2);
    assert_eq!(app.order_count().await, 1);
    app.stop().await;
}

/// Every batch raises its drop's `held`: that update must be HOT (no new
/// index entries), or a hot drop's row grows a dead entry in each of the
/// drop's indexes per batch (migration 0021). Only crossing zero changes
/// what an index reads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raising_a_drops_held_is_a_hot_update() {
    let app = TestApp::spawn().await;
    app.create_drop("hot", 10).await;
    let (writer, _workers) = OrderWriter::spawn(app.db.clone(), WriterConfig::default());
    assert!(writer.write(order("hot", "ann", 1)).await.is_ok());

    let mut tx = app.db.begin().await.unwrap();
    sqlx::query("UPDATE drops SET held = held + 2 WHERE id = 'hot'")
        .execute(&mut *tx)
        .await
        .unwrap();
    let (updated, hot): (i64, i64) = sqlx::query_as(
        "SELECT pg_stat_get_xact_tuples_updated('drops'::regclass), \
                pg_stat_get_xact_tuples_hot_updated('drops'::regclass)",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.rollback().await.unwrap();
    assert_eq!((updated, hot), (1, 1), "the update of held was not HOT");
    app.stop().await;
}

/// A worker keeps its connection while orders are queued. When PostgreSQL
/// closes it mid-batch (a restart, `pg_terminate_backend`), that batch is
/// `NotWritten` and the worker gives the connection up: the order queued
/// behind it is recorded on a fresh one, not refused by a dead socket.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kept_connection_postgresql_closed_is_given_up_for_a_fresh_one() {
    let app = TestApp::spawn().await;
    app.create_drop("busy", 10).await;
    let (writer, _workers) = OrderWriter::spawn(app.db.clone(), WriterConfig::default());

    let lock = lock_drop_row(&app.db, "busy").await;
    let first = order("busy", "ann", 1);
    let stuck = tokio::spawn({
        let (writer, first) = (writer.clone(), first.clone());
        async move { writer.write(first).await }
    });
    let backend = loop {
        let waiting: Option<i32> = sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() \
               AND wait_event_type = 'Lock' AND query LIKE 'UPDATE drops SET held%'",
        )
        .fetch_optional(&app.db)
        .await
        .unwrap();
        match waiting {
            Some(pid) => break pid,
            None => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    };
    // Queued behind the stuck batch: the worker will still have work, so it
    // would keep its connection.
    let next = order("busy", "bob", 1);
    let queued = tokio::spawn({
        let (writer, next) = (writer.clone(), next.clone());
        async move { writer.write(next).await }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    sqlx::query("SELECT pg_terminate_backend($1)")
        .bind(backend)
        .execute(&app.db)
        .await
        .unwrap();
    let answer = stuck.await.unwrap();
    assert!(
        matches!(answer, Err(WriteError::NotWritten(_))),
        "{answer:?}"
    );
    lock.commit().await.unwrap();

    let answer = queued.await.unwrap();
    assert!(
        answer.is_ok(),
        "the order after the closed connection: {answer:?}"
    );
    assert!(!recorded(&app.db, first.id).await);
    assert!(recorded(&app.db, next.id).await);
    assert_eq!(app.pg_held_column("busy").await, 1);
    app.stop().await;
}
