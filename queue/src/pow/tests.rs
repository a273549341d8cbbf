#![allow(clippy::unwrap_used)]

use super::*;
use admission::contract::PowAlgorithm;
use std::time::Instant;

const KEY: &[u8] = b"test-pow-key-0123456789abcdef0123";

fn challenger() -> Challenger {
    Challenger::new(KEY, 1_000, Duration::from_secs(60))
}

/// A challenger under `key` asking Argon2id of `memory_kib` KiB, one pass,
/// a counter up to 8.
fn argon2_challenger(key: &[u8], memory_kib: u32) -> Challenger {
    Challenger::new(key, 1_000, Duration::from_secs(60)).with_argon2(Argon2Cost {
        iterations: 1,
        memory_kib,
        base_max: 8,
    })
}

#[test]
fn the_tuned_solver_finds_what_the_plain_one_does() {
    // Base 0: the easy challenges below verify too.
    let pow = Challenger::new(KEY, 0, Duration::from_secs(60));
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

/// A cheap Argon2id cost (a debug build derives slowly).
fn hard_challenger() -> Challenger {
    argon2_challenger(KEY, 64)
}

#[test]
fn a_memory_hard_challenge_is_solved_and_verified_with_no_derivation() {
    let pow = hard_challenger();
    let now = 1_000_000;
    let challenge = pow.hard_challenge("d1", "alice", 8, now).unwrap();
    assert_eq!(challenge.parameters.algorithm, ARGON2ID);
    assert_eq!(challenge.parameters.data.max, 8);
    let (solution, tries) = solve_hard(&challenge).unwrap();
    // The secret counter is drawn from max/2..=max.
    assert!((4..=8).contains(&solution.solution.counter));
    assert_eq!(tries, solution.solution.counter + 1);
    let good = encode_hard(&solution);
    assert_eq!(
        pow.verify_for(&good, "d1", "alice", now, PowAlgorithm::Argon2id)
            .unwrap(),
        challenge.parameters.nonce
    );
    // The wire form is ALTCHA PoW v2's: canonical parameters, camelCase.
    let json: serde_json::Value = serde_json::to_value(&challenge).unwrap();
    let keys: Vec<&String> = json["parameters"].as_object().unwrap().keys().collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
    assert!(json["parameters"]["keySignature"].is_string());
    assert_eq!(json["parameters"]["memoryCost"], 64);
}

#[test]
fn every_bad_memory_hard_solution_is_named() {
    let pow = hard_challenger();
    let now = 1_000_000;
    let challenge = pow.hard_challenge("d1", "alice", 8, now).unwrap();
    let (solution, _) = solve_hard(&challenge).unwrap();
    let good = encode_hard(&solution);
    let check = |encoded: &str| pow.verify_for(encoded, "d1", "alice", now, PowAlgorithm::Argon2id);
    assert_eq!(check("").unwrap_err(), PowError::Missing);
    assert_eq!(check("!!").unwrap_err(), PowError::Malformed);
    // Other drop, other user, expired.
    assert_eq!(
        pow.verify_for(&good, "d2", "alice", now, PowAlgorithm::Argon2id)
            .unwrap_err(),
        PowError::OtherDrop
    );
    assert_eq!(
        pow.verify_for(&good, "d1", "bob", now, PowAlgorithm::Argon2id)
            .unwrap_err(),
        PowError::OtherDrop
    );
    assert_eq!(
        pow.verify_for(&good, "d1", "alice", now + 121, PowAlgorithm::Argon2id)
            .unwrap_err(),
        PowError::Expired
    );
    // A wrong key (the next counter's, or a made-up one) is not a solution.
    let mut wrong = solution.clone();
    let mut deriver = Deriver::new(1, 64).unwrap();
    let next = deriver
        .derive(
            &hex::decode(&challenge.parameters.nonce).unwrap(),
            &hex::decode(&challenge.parameters.salt).unwrap(),
            wrong.solution.counter + 1,
        )
        .unwrap();
    wrong.solution.derived_key = hex::encode(next);
    assert_eq!(check(&encode_hard(&wrong)).unwrap_err(), PowError::Unsolved);
    wrong.solution.derived_key = "00".repeat(32);
    assert_eq!(check(&encode_hard(&wrong)).unwrap_err(), PowError::Unsolved);
    // Any change to the signed parameters: forged. Made easier (less
    // memory, re-signed with another key): forged too.
    let mut easier = solution.clone();
    easier.challenge.parameters.memory_cost = 8;
    assert_eq!(check(&encode_hard(&easier)).unwrap_err(), PowError::Forged);
    let mut other_drop = solution.clone();
    other_drop.challenge.parameters.data.drop = "d2".into();
    assert_eq!(
        pow.verify_for(
            &encode_hard(&other_drop),
            "d2",
            "alice",
            now,
            PowAlgorithm::Argon2id
        )
        .unwrap_err(),
        PowError::Forged
    );
    let other = argon2_challenger(b"another-key-0123456789abcdef01234", 8);
    let (forged, _) = solve_hard(&other.hard_challenge("d1", "alice", 8, now).unwrap()).unwrap();
    assert_eq!(check(&encode_hard(&forged)).unwrap_err(), PowError::Forged);
    // Issued here under other settings (less memory, an easier counter):
    // the wrong difficulty.
    let cheaper = argon2_challenger(KEY, 8);
    let (cheap, _) = solve_hard(&cheaper.hard_challenge("d1", "alice", 8, now).unwrap()).unwrap();
    assert_eq!(
        check(&encode_hard(&cheap)).unwrap_err(),
        PowError::WrongDifficulty
    );
    let (easy, _) = solve_hard(&pow.hard_challenge("d1", "alice", 2, now).unwrap()).unwrap();
    assert_eq!(
        check(&encode_hard(&easy)).unwrap_err(),
        PowError::WrongDifficulty
    );
    // The other function's solution, either way round.
    let sha = encode(&solve(&pow.challenge("d1", "alice", 1_000, now)).unwrap());
    assert_eq!(check(&sha).unwrap_err(), PowError::WrongAlgorithm);
    assert_eq!(
        pow.verify_for(&good, "d1", "alice", now, PowAlgorithm::Sha256)
            .unwrap_err(),
        PowError::WrongAlgorithm
    );
    assert!(pow
        .verify_for(&sha, "d1", "alice", now, PowAlgorithm::Sha256)
        .is_ok());
}

/// What the memory-hard function costs each side, printed (`cargo test
/// --workspace --release --lib memory_hard_costs -- --nocapture`, with
/// `POW_ARGON2_MEMORY_KIB` to try another size): verifying (two HMACs),
/// issuing (one derivation) and a native solver's derivations per second.
#[test]
fn memory_hard_costs() {
    let memory_kib = std::env::var("POW_ARGON2_MEMORY_KIB")
        .ok()
        .and_then(|m| m.parse().ok())
        .unwrap_or(64);
    let pow = argon2_challenger(KEY, memory_kib);
    let started = Instant::now();
    let issues = 8;
    let challenges: Vec<_> = (0..issues)
        .map(|_| pow.hard_challenge("d1", "alice", 8, 1).unwrap())
        .collect();
    let issue = started.elapsed() / issues;
    let started = Instant::now();
    let mut derived = 0;
    let mut solutions = Vec::new();
    for challenge in &challenges {
        let (solution, tries) = solve_hard(challenge).unwrap();
        derived += tries;
        solutions.push(encode_hard(&solution));
    }
    let per_key = started.elapsed() / derived;
    let n = 20_000;
    let started = Instant::now();
    for i in 0..n {
        let solution = &solutions[i as usize % solutions.len()];
        assert!(pow
            .verify_for(solution, "d1", "alice", 1, PowAlgorithm::Argon2id)
            .is_ok());
    }
    let verify = started.elapsed() / n;
    println!(
        "argon2id m={memory_kib} KiB t=1 p=1: issue {issue:?} each, native derive {per_key:?} each \
         ({:.1}/s), verify {verify:?} each",
        1.0 / per_key.as_secs_f64()
    );
    assert!(verify < Duration::from_millis(1));
}
