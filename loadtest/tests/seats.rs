//! A small seated sale under `loadtest seats` against a real stack: fans
//! through the waiting room holding, ordering, paying and walking away,
//! viewers on the seat stream, then the invariants (no seat in two live
//! claims, nobody over the cap, Redis agreeing with PostgreSQL seat by
//! seat); and the hold-decision bench.
#![allow(clippy::unwrap_used)]

mod common;

use common::{redis_url, stack, OPERATOR_KEY, USER_SECRET};

fn args(stack: &common::Stack) -> loadtest::seats::Args {
    loadtest::seats::Args {
        services: loadtest::deployment::Services {
            sale: stack.sale.clone(),
            queue: stack.queue.clone(),
            operator_key: OPERATOR_KEY.into(),
            user_secret: USER_SECRET.into(),
        },
        keys: loadtest::tokens::MintKeys {
            key: stack.key.clone(),
            mac_key: Some(common::MAC_KEY.into()),
        },
        stores: loadtest::deployment::Stores {
            database: stack.database.clone(),
            redis: redis_url(),
            redis_prefix: stack.prefix.clone(),
        },
        seats: 1_200,
        fans: 500,
        arrival_secs: 3,
        hot_share: 0.4,
        abandon_share: 0.2,
        pay_share: 0.5,
        cap: 4,
        hold_secs: 60,
        admission_rate: 2_000.0,
        viewers: 20,
        max_seconds: 60,
        settle: false,
        bench: false,
        rate: None,
        concurrency: 32,
        seconds: 3,
        source_addresses: 0,
        out: std::env::temp_dir().join(format!("lineup-seats-{}", uuid::Uuid::new_v4())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_seated_crowd_and_a_hold_bench_keep_every_invariant() {
    let stack = stack().await;
    let crowd = args(&stack);
    assert!(
        loadtest::seats::main(crowd.clone()).await.unwrap(),
        "the crowd run's invariants"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(crowd.out.join("seats.json")).unwrap()).unwrap();
    let counts = &report["crowd"];
    eprintln!("crowd: {counts}; latencies {}", report["latencies"]);
    assert!(counts["admitted"].as_u64().unwrap() >= 400, "{counts}");
    assert!(counts["holds"].as_u64().unwrap() >= 300, "{counts}");
    assert!(counts["orders"].as_u64().unwrap() > 0 && counts["abandoned"].as_u64().unwrap() > 0);
    assert!(report["invariants"]["live_claims"].as_u64().unwrap() > 0);
    assert!(
        report["probes"].as_u64().unwrap() >= 1,
        "the probe held seats"
    );
    assert!(
        report["latencies"]["seat change to every map"]["count"]
            .as_u64()
            .unwrap()
            > 0
    );

    let bench = loadtest::seats::Args {
        bench: true,
        viewers: 0,
        out: std::env::temp_dir().join(format!("lineup-seats-{}", uuid::Uuid::new_v4())),
        ..args(&stack)
    };
    assert!(
        loadtest::seats::main(bench.clone()).await.unwrap(),
        "the bench's invariants"
    );
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bench.out.join("seats.json")).unwrap()).unwrap();
    let decisions = &report["decisions"];
    eprintln!("bench: {decisions}");
    assert!(decisions["held"].as_u64().unwrap() > 0, "{decisions}");
    assert_eq!(decisions["failed"], 0, "{decisions}");
}
