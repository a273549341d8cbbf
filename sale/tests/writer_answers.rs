//! What the order writer answers when a batch does not simply commit: the
//! caller releases the reservation on `NotWritten` and keeps it on
//! `Unknown`, so `NotWritten` must mean the order can never be recorded.
//! A batch is one statement in autocommit (migration 0021): once it is
//! sent, only PostgreSQL's error says it rolled back.
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

/// A batch stuck behind the drop's lock past the writer's timeout was
/// sent: it commits once the lock goes. So its answer must be `Unknown`
/// (the reservation kept), never `NotWritten` (released: Redis would sell
/// the units again while PostgreSQL records them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_sent_and_not_answered_in_time_is_unknown_and_may_commit() {
    let app = TestApp::spawn().await;
    app.create_drop("locked", 10).await;
    let config = WriterConfig {
        workers: 1,
        timeout: Duration::from_millis(300),
        ..WriterConfig::default()
    };
    let (writer, _workers) = OrderWriter::spawn(app.db.clone(), config);

    let mut lock = app.db.begin().await.unwrap();
    sqlx::query("SELECT 1 FROM drops WHERE id = 'locked' FOR UPDATE")
        .execute(&mut *lock)
        .await
        .unwrap();
    let slow = order("locked", "ann", 1);
    let answer = writer.write(slow.clone()).await;
    assert!(matches!(answer, Err(WriteError::Unknown(_))), "{answer:?}");
    assert!(!recorded(&app.db, slow.id).await);

    lock.commit().await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    while !recorded(&app.db, slow.id).await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the sent batch never committed"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
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
