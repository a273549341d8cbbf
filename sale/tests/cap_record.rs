//! The per-user cap in PostgreSQL too: after a Redis master failover the
//! promoted replica may lack a user's acknowledged orders, so Redis lets
//! them past the cap; the order writer's insert refuses what would put them
//! over it in PostgreSQL's record, also when their requests race.
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use futures::future::join_all;

/// What a failover can do to one user's count: their entry in the drop's
/// `held` hash is gone.
async fn forget_holding(app: &TestApp, drop: &str, user: &str) {
    let _: i64 = redis::cmd("HDEL")
        .arg(format!("{}:{{{drop}}}:held", app.prefix))
        .arg(user)
        .query_async(&mut app.redis.clone())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgresql_refuses_an_order_over_the_cap_redis_forgot() {
    let app = TestApp::spawn().await;
    app.create_drop("forgot", 10).await;
    let token = app.admit("alice", "forgot");
    assert_eq!(app.place(&token, "k1", r#"{"quantity": 2}"#).await.0, 201);
    forget_holding(&app, "forgot", "alice").await;

    let (status, body) = app.place(&token, "k2", r#"{"quantity": 1}"#).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (409, Some("cap_exceeded"))
    );
    let (units, per_user) = app.pg_holdings("forgot").await;
    assert_eq!((units, per_user), (2, vec![("alice".to_string(), 2)]));
    assert_eq!(app.pg_held_column("forgot").await, 2, "held taken back");
    assert_eq!(
        app.redis_sold("forgot").await,
        2,
        "the reservation released"
    );
    // Others are not affected, and alice's retry of her first key is still hers.
    let bob = app.admit("bob", "forgot");
    assert_eq!(app.place(&bob, "k1", r#"{"quantity": 2}"#).await.0, 201);
    assert_eq!(app.pg_held_column("forgot").await, 4);
    app.stop().await;
}

/// She holds 1 of a cap of 2 and Redis forgot it: ten requests at once,
/// over two processes (two group-commit writers), get exactly one more unit.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_requests_over_a_forgotten_count_get_exactly_the_cap() {
    let app = TestApp::spawn().await;
    let peer = app.peer().await;
    app.create_drop("race-cap", 50).await;
    let token = app.admit("alice", "race-cap");
    assert_eq!(
        app.place(&token, "first", r#"{"quantity": 1}"#).await.0,
        201
    );
    forget_holding(&app, "race-cap", "alice").await;

    let results = join_all((0..10).map(|n| {
        let node = if n % 2 == 0 { &app } else { &peer };
        let token = token.clone();
        async move {
            node.place(&token, &format!("k{n}"), r#"{"quantity": 1}"#)
                .await
        }
    }))
    .await;
    let placed = results.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(placed, 1, "{results:?}");
    assert!(results
        .iter()
        .all(|(s, b)| *s == 201 || b["error"] == "cap_exceeded"));
    let (units, _) = app.pg_holdings("race-cap").await;
    assert_eq!(units, 2, "never over the cap in PostgreSQL");
    assert_eq!(app.pg_held_column("race-cap").await, 2);
    peer.stop().await;
    app.stop().await;
}

/// Migration 0013 took the foreign key from orders to drops off the order
/// path; a trigger on drops keeps what it guarded: a drop with orders can
/// be neither deleted nor renamed, and its orders stay where they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_drop_with_orders_can_be_neither_deleted_nor_renamed() {
    let app = TestApp::spawn().await;
    app.create_drop("kept", 10).await;
    let token = app.admit("alice", "kept");
    assert_eq!(app.place(&token, "k1", r#"{"quantity": 1}"#).await.0, 201);

    for statement in [
        "DELETE FROM drops WHERE id = 'kept'",
        "UPDATE drops SET id = 'moved' WHERE id = 'kept'",
    ] {
        let refused = sqlx::query(statement).execute(&app.db).await.unwrap_err();
        let code = refused.as_database_error().and_then(|e| e.code());
        assert_eq!(code.as_deref(), Some("23503"), "{statement}: {refused}");
    }
    let (units, _) = app.pg_holdings("kept").await;
    assert_eq!(units, 1, "the order is still the drop's");
    // Other changes of the drop's row go through.
    sqlx::query("UPDATE drops SET name = 'Kept' WHERE id = 'kept'")
        .execute(&app.db)
        .await
        .unwrap();
}
