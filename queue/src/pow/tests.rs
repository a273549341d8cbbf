#![allow(clippy::unwrap_used)]

use super::*;

fn challenger() -> Challenger {
    Challenger::new(
        b"test-pow-key-0123456789abcdef0123",
        1_000,
        Duration::from_secs(60),
    )
}

#[test]
fn the_tuned_solver_finds_what_the_plain_one_does() {
    // Base 0: the easy challenges below verify too.
    let pow = Challenger::new(
        b"test-pow-key-0123456789abcdef0123",
        0,
        Duration::from_secs(60),
    );
    for max in [0, 9, 10, 99, 1_000, 20_000] {
        let challenge = pow.challenge("a-drop-with-a-rather-long-name", "bob", max, 1);
        let plain = solve(&challenge).unwrap();
        let tuned = solve_fast(&challenge).unwrap();
        assert_eq!(tuned.number, plain.number);
        assert!(pow
            .verify(&encode(&tuned), "a-drop-with-a-rather-long-name", "bob", 1)
            .is_ok());
    }
}

#[test]
fn salt_params_parse() {
    let p = salt_params("ab?drop=d&user=u&expires=9&max=5").unwrap();
    assert_eq!(
        (p.drop.as_str(), p.user.as_str(), p.expires, p.max),
        ("d", "u", 9, 5)
    );
    assert!(salt_params("no-query").is_none());
    assert!(salt_params("x?expires=soon").is_none());
}

#[test]
fn a_solved_challenge_verifies_and_every_bad_one_is_named() {
    let pow = challenger();
    let now = 1_000_000;
    let challenge = pow.challenge("d1", "alice", 1_000, now);
    let solution = solve(&challenge).unwrap();
    let good = encode(&solution);
    assert!(pow.verify(&good, "d1", "alice", now).is_ok());
    assert_eq!(
        pow.verify("", "d1", "alice", now).unwrap_err(),
        PowError::Missing
    );
    assert_eq!(
        pow.verify("!!", "d1", "alice", now).unwrap_err(),
        PowError::Malformed
    );
    assert_eq!(
        pow.verify(&good, "d2", "alice", now).unwrap_err(),
        PowError::OtherDrop
    );
    assert_eq!(
        pow.verify(&good, "d1", "bob", now).unwrap_err(),
        PowError::OtherDrop
    );
    assert_eq!(
        pow.verify(&good, "d1", "alice", now + 61).unwrap_err(),
        PowError::Expired
    );
    let mut wrong = solution.clone();
    wrong.number = (wrong.number + 1) % 1_001;
    assert_eq!(
        pow.verify(&encode(&wrong), "d1", "alice", now).unwrap_err(),
        PowError::Unsolved
    );
    // A challenge signed with another key, or one made easier.
    let other = Challenger::new(
        b"another-key-0123456789abcdef01234",
        1_000,
        Duration::from_secs(60),
    );
    let forged = solve(&other.challenge("d1", "alice", 1_000, now)).unwrap();
    assert_eq!(
        pow.verify(&encode(&forged), "d1", "alice", now)
            .unwrap_err(),
        PowError::Forged
    );
    let easy = solve(&pow.challenge("d1", "alice", 10, now)).unwrap();
    assert_eq!(
        pow.verify(&encode(&easy), "d1", "alice", now).unwrap_err(),
        PowError::WrongDifficulty
    );
}

/// Verification cost, printed (`cargo test -p queue --release --lib pow
/// -- --nocapture`); bounded loosely here so a slow debug build passes.
#[test]
fn verifying_takes_microseconds() {
    let pow = challenger();
    let solution = encode(&solve(&pow.challenge("d1", "alice", 1_000, 1)).unwrap());
    let n = 20_000;
    let started = Instant::now();
    for _ in 0..n {
        assert!(pow.verify(&solution, "d1", "alice", 1).is_ok());
    }
    let each = started.elapsed() / n;
    println!("pow verify: {each:?} each ({n} runs)");
    // What a native solver pays: hashes per second on one core.
    let hard = pow.challenge("d1", "alice", 300_000, 1);
    let started = Instant::now();
    let found = solve(&hard).unwrap();
    let rate = (found.number + 1) as f64 / started.elapsed().as_secs_f64();
    println!("pow native solve: {:.2} MH/s", rate / 1e6);
    let started = Instant::now();
    let tuned = solve_fast(&hard).unwrap();
    let rate = (tuned.number + 1) as f64 / started.elapsed().as_secs_f64();
    println!("pow native solve, tuned (midstate): {:.2} MH/s", rate / 1e6);
    assert_eq!(tuned.number, found.number);
    assert!(each < Duration::from_millis(1));
}
