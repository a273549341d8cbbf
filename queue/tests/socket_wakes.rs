//! What wakes a waiting fan's session between the ticks of its socket (once
//! a second): its admission, and after it a revocation, each at once. The
//! session keeps its waiters registered across its loop, made again only
//! after one fired; these check that a wake-up in the middle of a tick is
//! not left for the next one, and that the admission's waiter is armed
//! again once it fired. Progress alone (the line moved) wakes nobody: the
//! fans behind read it on their next tick.
#![allow(clippy::unwrap_used)]

mod common;

use common::sockets::{closed_with, connect_as, until_state};
use common::{Deployment, Node};
use std::time::{Duration, Instant};

const TICK: Duration = Duration::from_millis(100);
/// Well under the socket's tick (1 s), well over the announcement's trip.
const AT_ONCE: Duration = Duration::from_millis(600);
/// A snapshot of the line (every 0.5 s), a tick (1 s), and a margin.
const PROGRESS_WITHIN: Duration = Duration::from_millis(2_500);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_admission_then_a_revocation_reach_the_socket_between_its_ticks() {
    let deployment = Deployment::new().await;
    deployment.create_drop("wakes", 100, 10.0, 100, 0).await;
    let mut node = Node::start(&deployment, |_| {}).await;
    node.knows("wakes").await;
    let mut fan = connect_as(&node, &deployment, "wakes", "ann").await;
    // The first status goes out on the socket's first tick: the next one
    // is a second later.
    until_state(&mut fan, "waiting").await;
    let mut behind = connect_as(&node, &deployment, "wakes", "bob").await;
    assert_eq!(until_state(&mut behind, "waiting").await["position"], 2);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let started = Instant::now();
    assert_eq!(node.pump_for(&deployment.clock, TICK, 2).await, ["ann"]);
    let admitted = until_state(&mut fan, "admitted").await;
    assert!(admitted["admission_token"].is_string());
    let took = started.elapsed();
    assert!(took < AT_ONCE, "the admission took {took:?}");
    // Bob moves up: the next snapshot of the line (every half second),
    // read on his next tick.
    loop {
        let status = until_state(&mut behind, "waiting").await;
        if status["position"] == 1 {
            break;
        }
    }
    let took = started.elapsed();
    assert!(took < PROGRESS_WITHIN, "progress took {took:?}");

    // Admitted, the session still waits for its user's signal.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let redis = runtime::redis::connect(&common::redis_url()).await.unwrap();
    let gate = sale::gate::StockGate::new(redis, &deployment.prefix);
    let started = Instant::now();
    assert!(gate.revoke_user("wakes", "ann").await.unwrap());
    assert_eq!(closed_with(&mut fan).await, Some(4403));
    let took = started.elapsed();
    assert!(took < AT_ONCE, "the revocation took {took:?}");
}
