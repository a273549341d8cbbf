//! `loadtest bots` in small: humans, both farms, replayers and skippers
//! against a queue asking for proof of work and trusting this machine's
//! `X-Forwarded-For`, with the real per-address limits. Every human is
//! admitted, no replay and no skipped proof joins, the farm behind few
//! addresses meets a higher difficulty than the base, the spread farm's
//! young accounts four times the base, and the figures of the report are
//! there.
#![allow(clippy::unwrap_used)]

mod common;

use loadtest::bots::{run, Args};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bots_pay_for_their_places_and_replays_never_join() {
    let stack = common::stack_with(common::redis_url(), |config| {
        config.pow_base_maxnumber = 2_000;
        config.pow_key = Some("bots-test-pow-key-0123456789abcdef0123".into());
        config.service.trusted_proxies = "127.0.0.1".into();
        config.join_rate_per_user = 2;
        config.join_rate_per_ip = 50;
        config.join_rate_per_network = 200;
        config.pump_tick_ms = 100;
    })
    .await;
    let result = run(Args {
        services: loadtest::deployment::Services {
            queue: stack.queue.clone(),
            sale: stack.sale.clone(),
            operator_key: common::OPERATOR_KEY.into(),
            user_secret: common::USER_SECRET.into(),
        },
        humans: 6,
        farm_accounts: 30,
        farm_addresses: 2,
        spread_accounts: 6,
        replayers: 2,
        skippers: 3,
        browser_mhs: 0.45,
        pow_algorithm: "SHA-256".into(),
        browser_argon2_ms: 110.0,
        human_account_days: 400,
        bot_account_days: 1,
        admit_per_sec: 20,
        seconds: 40,
        solver_threads: 2,
        plain_bot_solver: false,
        poll_ms: 700,
        no_baseline: false,
        out: std::env::temp_dir(),
    })
    .await
    .unwrap();
    println!("{}", serde_json::to_string_pretty(&result).unwrap());
    let alone = result.humans_alone.as_ref().unwrap();
    assert_eq!(alone.humans_admitted, 6);
    assert_eq!(alone.bots_admitted, 0);
    let mixed = &result.mixed;
    assert_eq!(mixed.humans_admitted, 6, "every human got in");
    assert!(mixed.bots_admitted > 0);
    assert!(mixed.bot_share > 0.0 && mixed.bot_share < 1.0);
    // Each replayer: its solution twice, its admission token twice.
    assert_eq!(mixed.replays_tried, 8, "{mixed:?}");
    assert_eq!(mixed.replays_joined, 0);
    assert!(mixed.skips_tried > 0);
    assert_eq!(mixed.skips_joined, 0);
    assert!(!mixed.bots_admitted_by_kind.contains_key("skipper"));
    // The farm's /24 asks for challenges fast: its difficulty rose.
    assert!(mixed.max_difficulty_seen > 2_000, "{mixed:?}");
    // The spread farm, each account in a /24 of its own, meets no rate:
    // its young accounts pay POW_NEW_ACCOUNT_FACTOR (4) times the base,
    // the humans' old ones the base.
    let asked = &mixed.mean_maxnumber_by_kind;
    assert_eq!(asked["spread"], 8_000, "{mixed:?}");
    assert_eq!(asked["human"], 2_000, "{mixed:?}");
    assert!(asked["farm"] > asked["spread"], "{mixed:?}");
    let cpu = &mixed.cpu_s_per_admission_by_kind;
    assert!(cpu.get("human").is_some_and(|s| *s > 0.0), "{mixed:?}");
    // The phase ends once every human is in: a spread bot still solving
    // its fourfold challenge then has no admission to divide by.
    if mixed.bots_admitted_by_kind.contains_key("spread") {
        assert!(cpu.get("spread").is_some_and(|s| *s > 0.0), "{mixed:?}");
    }
    assert!(mixed.cpu_s_per_human_admission.unwrap() > 0.0);
    assert!(mixed.cpu_s_per_bot_admission.unwrap() > 0.0);
    assert!(result.human_extra_wait_s.is_some());
}
