//! Was the line fair? Read back from Redis who was admitted when, and count
//! FIFO inversions among fans who joined after opening (only pairs whose
//! joins were surely ordered), inversions against the published pre-queue
//! draw (recomputed from the revealed seed), and the admission rate the
//! pump achieved in its busiest ten seconds.

use super::options::RushOptions;
use super::shared::Shared;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// What the fairness check found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fairness {
    pub fifo_inversions: u64,
    pub draw_inversions: u64,
    /// `None` when no pre-queue fan was admitted (nothing to verify).
    pub draw_verified: Option<bool>,
    /// Admissions per second in the busiest 10 s.
    pub admission_rate: f64,
}

/// Checks `drop`'s admissions against the fans' joins in `shared`.
pub(crate) async fn check(
    options: &RushOptions,
    http: &reqwest::Client,
    drop: &str,
    shared: &Mutex<Shared>,
) -> anyhow::Result<Fairness> {
    let mut redis = runtime::redis::connect(&options.redis_url).await?;
    let admitted: Vec<(String, f64)> = redis::cmd("ZRANGE")
        .arg(queue::line::LineKeys::new(&options.redis_prefix, drop).admitted())
        .arg(0)
        .arg(-1)
        .arg("WITHSCORES")
        .query_async(&mut redis)
        .await?;
    let at: HashMap<String, i64> = admitted
        .iter()
        .map(|(u, t)| (u.clone(), *t as i64))
        .collect();
    let times: Vec<i64> = admitted.iter().map(|(_, t)| *t as i64).collect();
    let admission_rate = peak_rate(&times, 10_000);
    let (fifo, prequeue_users) = {
        let s = shared.lock().map_err(|_| anyhow::anyhow!("poisoned"))?;
        let fifo: Vec<((Instant, Instant), i64)> = s
            .fans
            .iter()
            .filter(|f| !f.prequeue)
            .filter_map(|f| Some((f.join_window?, *at.get(&f.user)?)))
            .collect();
        let pre: Vec<String> = s
            .fans
            .iter()
            .filter(|f| f.prequeue && at.contains_key(&f.user))
            .map(|f| f.user.clone())
            .collect();
        (fifo, pre)
    };
    let (draw_inversions, draw_verified) = if prequeue_users.is_empty() {
        (0, None)
    } else {
        draw(options, http, drop, &prequeue_users, &at).await?
    };
    Ok(Fairness {
        fifo_inversions: fifo_inversions(fifo),
        draw_inversions,
        draw_verified,
        admission_rate,
    })
}

/// Inversions of the pre-queue's admissions against the draw recomputed
/// from the revealed seed, and whether the seed matches its published hash
/// with no inversion (`None` while the seed is not revealed).
async fn draw(
    options: &RushOptions,
    http: &reqwest::Client,
    drop: &str,
    prequeue_users: &[String],
    at: &HashMap<String, i64>,
) -> anyhow::Result<(u64, Option<bool>)> {
    let draw: serde_json::Value = http
        .get(format!("{}/api/drops/{drop}/draw", options.queue_url))
        .send()
        .await?
        .json()
        .await?;
    let (Some(seed), Some(hash)) = (draw["seed"].as_str(), draw["seed_sha256"].as_str()) else {
        return Ok((0, None));
    };
    let order = queue::draw::draw_order(seed, prequeue_users);
    let pairs = order
        .iter()
        .enumerate()
        .filter_map(|(rank, u)| Some((rank as u64, *at.get(u)?)))
        .collect();
    let inverted = inversions(pairs);
    Ok((
        inverted,
        Some(queue::draw::seed_hash(seed) == hash && inverted == 0),
    ))
}

/// Admissions per second in the busiest `window_ms` (the whole span when
/// shorter): the rate the pump achieved while it had fans and stock, not
/// diluted by the wait for expiring orders after a sell-out.
pub(crate) fn peak_rate(times_ms: &[i64], window_ms: i64) -> f64 {
    let mut times = times_ms.to_vec();
    times.sort_unstable();
    let (Some(first), Some(last)) = (times.first(), times.last()) else {
        return 0.0;
    };
    if last - first <= window_ms {
        return if last > first {
            (times.len() - 1) as f64 * 1000.0 / (last - first) as f64
        } else {
            0.0
        };
    }
    let (mut best, mut start) = (0usize, 0usize);
    for end in 0..times.len() {
        while times[end] - times[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best as f64 * 1000.0 / window_ms as f64
}

/// FIFO inversions seen from the client: pairs (A, B) where A's join answer
/// arrived before B's join request was sent (so A surely joined first) but
/// B was admitted strictly earlier. Pairs whose joins overlapped in time are
/// not counted: their server order is unknown. O(n log n) with a Fenwick
/// tree over admission times.
pub(crate) fn fifo_inversions(fans: Vec<((Instant, Instant), i64)>) -> u64 {
    let mut times: Vec<i64> = fans.iter().map(|f| f.1).collect();
    times.sort_unstable();
    times.dedup();
    let rank = |t: i64| times.partition_point(|x| *x < t);
    let mut tree = Fenwick(vec![0u64; times.len() + 1]);
    let mut by_done: Vec<&((Instant, Instant), i64)> = fans.iter().collect();
    by_done.sort_by_key(|f| f.0 .1);
    let mut by_sent: Vec<&((Instant, Instant), i64)> = fans.iter().collect();
    by_sent.sort_by_key(|f| f.0 .0);
    let (mut inserted, mut count) = (0usize, 0u64);
    for b in by_sent {
        while inserted < by_done.len() && by_done[inserted].0 .1 < b.0 .0 {
            tree.add(rank(by_done[inserted].1));
            inserted += 1;
        }
        // Of the fans surely ahead of B, those admitted after B.
        count += inserted as u64 - tree.below_or_at(rank(b.1));
    }
    count
}

/// A Fenwick tree of counts over ranks 0..n.
struct Fenwick(Vec<u64>);

impl Fenwick {
    fn add(&mut self, rank: usize) {
        let mut i = rank + 1;
        while i < self.0.len() {
            self.0[i] += 1;
            i += i & i.wrapping_neg();
        }
    }

    /// How many were added at `rank` or below.
    fn below_or_at(&self, rank: usize) -> u64 {
        let (mut i, mut sum) = (rank + 1, 0);
        while i > 0 {
            sum += self.0[i];
            i -= i & i.wrapping_neg();
        }
        sum
    }
}

/// Counts pairs ordered one way by `key` and the other by admission time
/// (strictly), by merge sort: O(n log n).
pub(crate) fn inversions(mut pairs: Vec<(u64, i64)>) -> u64 {
    pairs.sort_by_key(|p| p.0);
    let mut times: Vec<i64> = pairs.into_iter().map(|p| p.1).collect();
    sort_count(&mut times)
}

/// Sorts `v`, returning how many strict inversions it had.
fn sort_count(v: &mut [i64]) -> u64 {
    let n = v.len();
    if n < 2 {
        return 0;
    }
    let (left, right) = v.split_at_mut(n / 2);
    let mut count = sort_count(left) + sort_count(right);
    let (mut merged, mut i, mut j) = (Vec::with_capacity(n), 0, 0);
    while i < left.len() && j < right.len() {
        if left[i] <= right[j] {
            merged.push(left[i]);
            i += 1;
        } else {
            count += (left.len() - i) as u64;
            merged.push(right[j]);
            j += 1;
        }
    }
    merged.extend_from_slice(&left[i..]);
    merged.extend_from_slice(&right[j..]);
    v.copy_from_slice(&merged);
    count
}

#[cfg(test)]
mod tests {
    #[test]
    fn inversions_are_counted() {
        assert_eq!(super::inversions(vec![(1, 10), (2, 20), (3, 30)]), 0);
        assert_eq!(super::inversions(vec![(1, 30), (2, 20), (3, 10)]), 3);
        assert_eq!(super::inversions(vec![(1, 10), (2, 10), (3, 5)]), 2);
    }

    #[test]
    fn fifo_inversions_count_only_sure_orders() {
        let t0 = std::time::Instant::now();
        let at = |ms: u64| t0 + std::time::Duration::from_millis(ms);
        // A joined (0-10) surely before B (20-30) and C (25-40); C overlaps B.
        let fair = vec![
            ((at(0), at(10)), 100),
            ((at(20), at(30)), 200),
            ((at(25), at(40)), 150),
        ];
        assert_eq!(
            super::fifo_inversions(fair),
            0,
            "B and C overlapped: either order is fair"
        );
        let unfair = vec![
            ((at(0), at(10)), 300),
            ((at(20), at(30)), 200),
            ((at(50), at(60)), 100),
        ];
        assert_eq!(super::fifo_inversions(unfair), 3);
    }

    #[test]
    fn the_peak_rate_ignores_idle_stretches() {
        let mut times: Vec<i64> = (0..1000).map(|i| i * 10).collect(); // 100/s for 10 s
        times.extend((0..10).map(|i| 60_000 + i * 1000)); // then a trickle
        assert!((super::peak_rate(&times, 10_000) - 100.0).abs() < 1.0);
    }
}
