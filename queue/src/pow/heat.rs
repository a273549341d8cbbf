//! How hot a drop and a network are: challenges asked per second, over a
//! sliding 10 s window, as every queue node together counts them.
//!
//! A challenge asked here is counted here at once, with no I/O on the
//! challenge path ([`Heat::count`]). About once a second ([`run`], a
//! background task of the service) [`Heat::share`] adds this node's counts
//! since the last share to counters in Redis that every node adds to, and
//! reads back their totals, in one pipeline (on a cluster, one per slot
//! group, concurrently):
//!
//! - per drop: `{prefix}:{<drop>}:heat:<window>`, under the drop's hash tag;
//! - per network (the client's /24 or /64):
//!   `{prefix}:{heat-<shard>}:net:<network>:<window>`, the shard a hash of
//!   the network (one of [`NETWORK_SHARDS`]), so networks spread over the
//!   cluster's slots instead of heating one.
//!
//! `<window>` is the number of the 10 s window since the Unix epoch (the
//! same on every node), a counter lives two windows and a bit; the rate is
//! the sliding-window estimate `(previous × the part of the window still
//! ahead + current) / 10 s`. What a challenge reads is every node's count as
//! last read plus this node's counts since, or this node's own count if that
//! is higher: a burst here counts at once, one on other nodes about a
//! second later. Except a warm network's ([`WARM`] or more challenges
//! in the window): each of its challenges is shared at once, one pipeline
//! on the challenge path ([`Heat::count_shared`]), so a farm's burst split
//! over the nodes behind a balancer meets its whole rate while it lasts.
//! If Redis does not answer, the totals read before are
//! dropped and the node goes on with its own counts until a share succeeds
//! (joins are never refused for it; the counts of a failed share stay
//! local).
//!
//! One module (about 470 lines before its tests): counting, the shares
//! and the warm path write the same entries under one lock.
//!
//! Memory: a drop or network is kept while it was counted in the current or
//! the previous window (pruned at each share), at most [`MAX_KEPT`] of them,
//! and a share carries every drop and the [`MAX_SHARED_NETWORKS`] networks
//! with the most counts since the last one (the others keep theirs for a
//! later share).

use admission::contract::DropKeys;
use redis::{Pipeline, RedisResult, Value};
use runtime::redis::Redis;
use runtime::shutdown::CancellationToken;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The window rates are counted over.
pub const WINDOW: Duration = Duration::from_secs(10);
const WINDOW_MS: u64 = 10_000;
/// How long a window's shared counter lives from its first share: it is
/// read as the previous window's during the next one.
const COUNTER_TTL_MS: u64 = 2 * WINDOW_MS + 5_000;
/// Most networks one share carries (the hottest).
pub const MAX_SHARED_NETWORKS: usize = 1_024;
/// Most drops and networks a node keeps counts for (about 100 bytes
/// each); past it a network not counted yet is taken as cold until the
/// next share prunes the cold ones.
pub const MAX_KEPT: usize = 200_000;
/// Challenges of a network in the current window past which each one is
/// shared at once ([`Heat::count_shared`]): a fan's home network asks one
/// or two, a farm's /24 many.
pub const WARM: u64 = 3;
/// How long a challenge waits for its network's counts to be shared.
const COUNT_SHARED_TIMEOUT: Duration = Duration::from_millis(250);
/// How many hash tags the per-network counters are spread over.
pub const NETWORK_SHARDS: u16 = 64;

/// What is counted: a drop, or a client network.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    Drop(String),
    Network(IpAddr),
}

impl Subject {
    /// The client network (/24 or /64) of `ip`.
    pub fn network_of(ip: IpAddr) -> Self {
        Self::Network(runtime::client_ip::network_of(ip))
    }

    /// The group its shared counters are sent in: one per hash tag (the
    /// drop's, or the network's shard), so each group is one slot's.
    fn tag(&self) -> String {
        match self {
            Self::Drop(drop) => format!("drop:{drop}"),
            Self::Network(network) => format!("heat-{}", network_shard(*network)),
        }
    }

    /// Its shared counter for `window`.
    fn key(&self, prefix: &str, window: u64) -> String {
        match self {
            Self::Drop(drop) => DropKeys::new(prefix, drop).key(&format!("heat:{window}")),
            Self::Network(network) => format!(
                "{prefix}:{{heat-{}}}:net:{network}:{window}",
                network_shard(*network)
            ),
        }
    }
}

/// The shard of a network's counters: the same on every node.
fn network_shard(network: IpAddr) -> u16 {
    let digest = Sha256::digest(network.to_string().as_bytes());
    u16::from_be_bytes([digest[0], digest[1]]) % NETWORK_SHARDS
}

/// Counts in a window and the one before it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    window: u64,
    current: u64,
    previous: u64,
}

impl Counts {
    /// The same counts as seen from `window` (later windows start empty).
    fn at(self, window: u64) -> Self {
        match window.checked_sub(self.window) {
            Some(0) | None => self,
            Some(1) => Self {
                window,
                current: 0,
                previous: self.current,
            },
            Some(_) => Self {
                window,
                ..Self::default()
            },
        }
    }

    fn add(&mut self, window: u64, n: u64) {
        *self = self.at(window);
        self.current = self.current.saturating_add(n);
    }

    fn is_empty(&self) -> bool {
        self.current == 0 && self.previous == 0
    }

    /// Events per second at `now_ms`: the previous window weighted by the
    /// part of it still inside the sliding window, plus the current one.
    fn rate(self, now_ms: u64) -> u64 {
        let counts = self.at(now_ms / WINDOW_MS);
        let ahead = WINDOW_MS - now_ms % WINDOW_MS;
        let weighted = u128::from(counts.previous) * u128::from(ahead) / u128::from(WINDOW_MS);
        let total = weighted + u128::from(counts.current);
        u64::try_from(total / u128::from(WINDOW.as_secs())).unwrap_or(u64::MAX)
    }
}

/// One drop's or network's counts.
#[derive(Debug, Default)]
struct Entry {
    /// Counted on this node.
    local: Counts,
    /// Counted on this node since the last share.
    unshared: u64,
    /// Every node's counts as last read; `None` before the first share
    /// and after a failed one.
    shared: Option<Counts>,
}

impl Entry {
    fn rate(&self, now_ms: u64) -> u64 {
        let local = self.local.rate(now_ms);
        let shared = self.shared.map_or(0, |shared| {
            let mut shared = shared;
            shared.add(now_ms / WINDOW_MS, self.unshared);
            shared.rate(now_ms)
        });
        local.max(shared)
    }
}

/// Challenges asked per drop and per network, on this node and on all;
/// shared by the clones of a `ProofOfWork`.
#[derive(Default)]
pub struct Heat {
    entries: Mutex<HashMap<Subject, Entry>>,
    /// Set when a share failed, cleared when one succeeds: meanwhile no
    /// challenge waits for Redis ([`Heat::count_shared`] is not used).
    unreachable: AtomicBool,
}

/// The counts one share carries: the subject and how many it adds.
type Batch = Vec<(Subject, u64)>;

impl Heat {
    /// Counts one challenge for `subject`; its rate, per second, as far
    /// as this node knows (no I/O).
    pub fn count(&self, subject: Subject) -> u64 {
        self.count_at(subject, now_ms())
    }

    fn count_at(&self, subject: Subject, now_ms: u64) -> u64 {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_KEPT
            && matches!(subject, Subject::Network(_))
            && !entries.contains_key(&subject)
        {
            // Full until the next share prunes: a network new here counts
            // as cold (as it would be anyway).
            return 0;
        }
        let entry = entries.entry(subject).or_default();
        entry.local.add(now_ms / WINDOW_MS, 1);
        entry.unshared = entry.unshared.saturating_add(1);
        entry.rate(now_ms)
    }

    /// Whether this node has seen at least `WARM` challenges of `subject`
    /// in the current window (its own, or every node's as last read), and
    /// Redis answered the last share: a challenge of it is then shared at
    /// once.
    pub fn is_warm(&self, subject: &Subject) -> bool {
        if self.unreachable.load(Ordering::Relaxed) {
            return false;
        }
        let window = now_ms() / WINDOW_MS;
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(subject).is_some_and(|entry| {
            let shared = entry.shared.map_or(0, |shared| shared.at(window).current);
            entry.local.at(window).current.max(shared) >= WARM
        })
    }

    /// Counts one challenge for `subject` and shares its counts at once
    /// (this one and any not shared yet): its rate with every node's
    /// counts as they are now. For a warm network, so a burst split over
    /// the nodes meets its whole rate while it lasts, not 1/N of it until
    /// the next share. If Redis fails or is slow (it may have counted them
    /// all the same), the counts taken are not shared again, so none is
    /// counted twice: other nodes miss them (this one keeps them), and no
    /// challenge waits for Redis until a share succeeds; a caller
    /// cancelled meanwhile loses them the same way.
    pub async fn count_shared(&self, redis: &Redis, prefix: &str, subject: Subject) -> u64 {
        let now_ms = now_ms();
        let window = now_ms / WINDOW_MS;
        let unshared = {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = entries.entry(subject.clone()).or_default();
            entry.local.add(window, 1);
            std::mem::take(&mut entry.unshared).saturating_add(1)
        };
        let batch = vec![(subject.clone(), unshared)];
        let (groups, order) = commands(&batch, prefix, window);
        let totals = tokio::time::timeout(COUNT_SHARED_TIMEOUT, redis.query_groups(&groups))
            .await
            .ok()
            .and_then(Result::ok)
            .and_then(|replies| totals(&order, &replies, window));
        if totals.is_none() {
            self.unreachable.store(true, Ordering::Relaxed);
        }
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let Some(entry) = entries.get_mut(&subject) else {
            return 0;
        };
        if let Some((_, counts)) = totals.and_then(|totals| totals.into_iter().next()) {
            entry.shared = Some(counts);
        }
        entry.rate(now_ms)
    }

    /// The rate of `subject` without counting (tests, diagnostics).
    pub fn rate(&self, subject: &Subject) -> u64 {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries.get(subject).map_or(0, |entry| entry.rate(now_ms()))
    }

    /// How many drops and networks this node keeps counts for.
    pub fn len(&self) -> usize {
        self.entries.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds this node's counts since the last share to every node's, and
    /// reads their totals back (one pipeline; see the module's doc). On an
    /// error the totals read before are dropped: the node uses its own
    /// counts until a share succeeds.
    pub async fn share(&self, redis: &Redis, prefix: &str) -> RedisResult<()> {
        let now_ms = now_ms();
        let window = now_ms / WINDOW_MS;
        let batch = self.take_batch(now_ms);
        if batch.is_empty() {
            return Ok(());
        }
        let (groups, replies_per_subject) = commands(&batch, prefix, window);
        let result = redis.query_groups(&groups).await.and_then(|replies| {
            totals(&replies_per_subject, &replies, window).ok_or_else(|| {
                redis::RedisError::from((redis::ErrorKind::TypeError, "unexpected heat reply"))
            })
        });
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        match result {
            Ok(totals) => {
                self.unreachable.store(false, Ordering::Relaxed);
                for (subject, counts) in totals {
                    if let Some(entry) = entries.get_mut(&subject) {
                        entry.shared = Some(counts);
                    }
                }
                Ok(())
            }
            Err(error) => {
                self.unreachable.store(true, Ordering::Relaxed);
                for entry in entries.values_mut() {
                    entry.shared = None;
                }
                Err(error)
            }
        }
    }

    /// Prunes what went cold and takes what the next share carries: every
    /// drop and the hottest networks, by their counts since the last share
    /// (zero for one only counted before: its total is still read).
    fn take_batch(&self, now_ms: u64) -> Batch {
        let window = now_ms / WINDOW_MS;
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        // Counts from before the previous window are over, shared or not.
        entries.retain(|_, entry| !entry.local.at(window).is_empty());
        let mut networks: Vec<(u64, u64, &Subject)> = Vec::new();
        let mut batch = Batch::new();
        for (subject, entry) in entries.iter() {
            match subject {
                Subject::Drop(_) => batch.push((subject.clone(), entry.unshared)),
                Subject::Network(_) => {
                    networks.push((entry.unshared, entry.local.at(window).current, subject))
                }
            }
        }
        if networks.len() > MAX_SHARED_NETWORKS {
            networks
                .select_nth_unstable_by(MAX_SHARED_NETWORKS, |a, b| (b.0, b.1).cmp(&(a.0, a.1)));
            networks.truncate(MAX_SHARED_NETWORKS);
        }
        batch.extend(
            networks
                .into_iter()
                .map(|(unshared, _, subject)| (subject.clone(), unshared)),
        );
        for (subject, _) in &batch {
            if let Some(entry) = entries.get_mut(subject) {
                entry.unshared = 0;
            }
        }
        batch
    }
}

/// Where a subject's replies are: how many, and which is its current
/// window's total (the previous window's is the last).
type Replies = (Subject, usize, usize);

/// The commands of a share, grouped by hash tag, and where each subject's
/// replies are, in the order the groups run them. A subject with counts to
/// add: `SET <current> 0 NX PX <ttl>` (the counter is made with its
/// lifetime, before anything is added to it, so a share cut short never
/// leaves a counter without one), `INCRBY <current> n`, `GET <previous>`.
/// One without: `GET` of both (no empty counter is made).
fn commands(batch: &Batch, prefix: &str, window: u64) -> (Vec<Pipeline>, Vec<Replies>) {
    let mut groups: BTreeMap<String, (Pipeline, Vec<Replies>)> = BTreeMap::new();
    for (subject, n) in batch {
        let (pipe, order) = groups
            .entry(subject.tag())
            .or_insert_with(|| (redis::pipe(), Vec::new()));
        let current = subject.key(prefix, window);
        let previous = subject.key(prefix, window.saturating_sub(1));
        if *n > 0 {
            pipe.cmd("SET")
                .arg(&current)
                .arg(0)
                .arg("NX")
                .arg("PX")
                .arg(COUNTER_TTL_MS);
            pipe.cmd("INCRBY").arg(&current).arg(*n);
            pipe.cmd("GET").arg(&previous);
            order.push((subject.clone(), 3, 1));
        } else {
            pipe.cmd("GET").arg(&current);
            pipe.cmd("GET").arg(&previous);
            order.push((subject.clone(), 2, 0));
        }
    }
    let mut pipelines = Vec::with_capacity(groups.len());
    let mut order = Vec::with_capacity(batch.len());
    for (pipe, subjects) in groups.into_values() {
        pipelines.push(pipe);
        order.extend(subjects);
    }
    (pipelines, order)
}

/// Every node's counts per subject, from the replies of [`commands`].
fn totals(order: &[Replies], replies: &[Value], window: u64) -> Option<Vec<(Subject, Counts)>> {
    let mut at = 0;
    let mut totals = Vec::with_capacity(order.len());
    for (subject, count, current_at) in order {
        let mine = replies.get(at..at + count)?;
        at += count;
        let current = number(mine.get(*current_at)?)?;
        let previous = number(mine.last()?)?;
        totals.push((
            subject.clone(),
            Counts {
                window,
                current,
                previous,
            },
        ));
    }
    (at == replies.len()).then_some(totals)
}

/// A counter's value: an integer reply, a string of digits, or none (0).
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Nil => Some(0),
        Value::Int(n) => u64::try_from(*n).ok(),
        Value::BulkString(bytes) => std::str::from_utf8(bytes).ok()?.parse().ok(),
        Value::SimpleString(text) => text.parse().ok(),
        _ => None,
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Shares `heat` every `every` until `stop` (the queue's background task;
/// see the module's doc). A failure is logged once, and the recovery.
pub async fn run(
    heat: Arc<Heat>,
    redis: Redis,
    prefix: Arc<str>,
    every: Duration,
    stop: CancellationToken,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut failing = false;
    loop {
        tokio::select! {
            _ = stop.cancelled() => break,
            _ = tick.tick() => {}
        }
        match heat.share(&redis, &prefix).await {
            Ok(()) if failing => {
                failing = false;
                tracing::info!("proof of work: join rates shared across nodes again");
            }
            Ok(()) => {}
            Err(error) if !failing => {
                failing = true;
                tracing::warn!(%error, "proof of work: join rates not shared (Redis); using this node's counts");
            }
            Err(_) => {}
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const W: u64 = WINDOW_MS;

    #[test]
    fn the_rate_slides_from_one_window_into_the_next() {
        let mut counts = Counts::default();
        counts.add(5, 100);
        // 100 in the window so far: 10 a second.
        assert_eq!(counts.rate(5 * W + 9_000), 10);
        // A quarter into the next window three quarters of them still count.
        assert_eq!(counts.rate(6 * W + 2_500), 7);
        counts.add(6, 40);
        assert_eq!(counts.rate(6 * W + 2_500), 11);
        // Two windows on, nothing is left.
        assert_eq!(counts.rate(8 * W), 0);
    }

    #[test]
    fn a_node_reads_the_larger_of_its_own_counts_and_everyones() {
        let heat = Heat::default();
        let drop = Subject::Drop("d".into());
        let t = 100 * W + 1_000;
        for _ in 0..50 {
            heat.count_at(drop.clone(), t);
        }
        assert_eq!(heat.count_at(drop.clone(), t), 5);
        // Every node's total, as a share reads it: 300 (this node's 51
        // among them); then 20 more here.
        let batch = heat.take_batch(t);
        assert_eq!(batch, vec![(drop.clone(), 51)]);
        {
            let mut entries = heat.entries.lock().unwrap_or_else(|e| e.into_inner());
            let entry = entries.get_mut(&drop).unwrap();
            entry.shared = Some(Counts {
                window: 100,
                current: 300,
                previous: 0,
            });
        }
        for _ in 0..19 {
            heat.count_at(drop.clone(), t);
        }
        assert_eq!(heat.count_at(drop.clone(), t), 32);
    }

    #[test]
    fn a_share_carries_every_drop_and_only_the_hottest_networks() {
        let heat = Heat::default();
        let t = 100 * W;
        heat.count_at(Subject::Drop("d".into()), t);
        for i in 0..(MAX_SHARED_NETWORKS + 10) {
            let ip = IpAddr::from([10, (i / 256) as u8, (i % 256) as u8, 1]);
            let times = if i < 5 { 3 } else { 1 };
            for _ in 0..times {
                heat.count_at(Subject::network_of(ip), t);
            }
        }
        let batch = heat.take_batch(t);
        assert_eq!(batch.len(), 1 + MAX_SHARED_NETWORKS);
        assert!(batch.contains(&(Subject::Drop("d".into()), 1)));
        let hottest = batch.iter().filter(|(_, n)| *n == 3).count();
        assert_eq!(hottest, 5);
        // The networks left out keep their counts for the next share; the
        // ones shared have none left.
        let next = heat.take_batch(t);
        assert_eq!(next.iter().filter(|(_, n)| *n == 1).count(), 10);
        // Two windows later everything went cold and is pruned.
        assert!(heat.take_batch(t + 2 * W).is_empty());
        assert!(heat.is_empty());
    }

    #[test]
    fn past_the_cap_a_new_network_counts_as_cold_until_a_share_prunes() {
        let heat = Heat::default();
        let t = 100 * W;
        for i in 0..MAX_KEPT as u32 {
            heat.count_at(Subject::Network(IpAddr::from((i << 8).to_be_bytes())), t);
        }
        // One already counted goes on counting.
        let known = Subject::Network(IpAddr::from([0, 0, 1, 0]));
        heat.count_at(known.clone(), t);
        let counted = |subject: &Subject| {
            let entries = heat.entries.lock().unwrap();
            entries.get(subject).map(|entry| entry.local.current)
        };
        assert_eq!(counted(&known), Some(2));
        let new = Subject::Network(IpAddr::from([255, 255, 255, 0]));
        assert_eq!(heat.count_at(new.clone(), t), 0);
        assert_eq!(counted(&new), None);
        assert_eq!(heat.len(), MAX_KEPT);
        // A drop is still counted; two windows on the share prunes them all.
        heat.count_at(Subject::Drop("d".into()), t);
        assert_eq!(heat.len(), MAX_KEPT + 1);
        heat.take_batch(t + 2 * W);
        assert!(heat.is_empty());
        heat.count_at(new, t + 2 * W);
        assert_eq!(heat.len(), 1);
    }

    #[test]
    fn networks_spread_over_shards_the_same_on_every_node() {
        let a = network_shard(IpAddr::from([203, 0, 113, 0]));
        assert_eq!(a, network_shard(IpAddr::from([203, 0, 113, 0])));
        let shards: std::collections::HashSet<u16> = (0..=255u8)
            .map(|c| network_shard(IpAddr::from([198, 51, c, 0])))
            .collect();
        assert!(shards.len() > NETWORK_SHARDS as usize / 2, "{shards:?}");
        assert!(Subject::network_of(IpAddr::from([203, 0, 113, 9]))
            .key("p", 7)
            .starts_with(&format!("p:{{heat-{a}}}:net:203.0.113.0:7")));
        assert_eq!(Subject::Drop("d".into()).key("p", 7), "p:{d}:heat:7");
    }

    /// What counting costs a challenge, printed (`cargo test --workspace
    /// --release --lib pow:: -- --nocapture`): 20,000 networks, two counts
    /// (drop and network) per challenge, as the challenge path does.
    #[test]
    fn counting_a_challenge_takes_microseconds_at_most() {
        let heat = Heat::default();
        let n: u32 = 200_000;
        let started = std::time::Instant::now();
        for i in 0..n {
            let ip = IpAddr::from((i % 20_000 * 256 + 1).to_be_bytes());
            heat.count(Subject::Drop("d".into()));
            heat.count(Subject::network_of(ip));
        }
        let each = started.elapsed() / n;
        println!("pow heat: counting a challenge (drop and network) {each:?} each ({n} runs, 20,000 networks)");
        assert_eq!(heat.len(), 20_001);
        assert!(each < std::time::Duration::from_millis(1));
    }
}
