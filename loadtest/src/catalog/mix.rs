//! The search mix, run at a rate: what each search asks (popular artists,
//! typos, city + dates, near me, near by distance, a city's name as text
//! with facets, deep pages, suggestions), where it goes (a running sale
//! service, or `sale::search` in process) and the open loop that measures
//! each from its planned start.

use super::names::{Zipf, CITIES};
use crate::tally::Latencies;
use rand::rngs::StdRng;
use rand::Rng;
use sale::search::cache::Served;
use sale::search::Search;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the search mix draws from.
pub struct Catalog {
    pub performers: Vec<String>,
    pub zipf: Zipf,
}

/// One search of the mix: its kind and query string.
pub fn pick(catalog: &Catalog, rng: &mut StdRng) -> (&'static str, String) {
    let enc = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => {
                    (b as char).to_string()
                }
                b' ' => "+".into(),
                _ => format!("%{b:02X}"),
            })
            .collect::<String>()
    };
    let performer = &catalog.performers[catalog.zipf.sample(rng).min(catalog.performers.len() - 1)];
    let city = CITIES[rng.gen_range(0..CITIES.len())];
    // A fan somewhere in or around the city (up to ~10 km off its centre).
    let (lat, lon) = (
        city.3 + rng.gen_range(-0.09..0.09),
        city.4 + rng.gen_range(-0.14..0.14),
    );
    match rng.gen_range(0..100) {
        0..=24 => ("popular", format!("q={}", enc(performer))),
        25..=34 => {
            // One edit in the longest word.
            let words: Vec<&str> = performer.split(' ').collect();
            let longest = words
                .iter()
                .max_by_key(|w| w.chars().count())
                .copied()
                .unwrap_or("");
            let mut chars: Vec<char> = longest.chars().collect();
            if chars.len() >= 5 {
                let at = rng.gen_range(1..chars.len() - 1);
                chars.swap(at, at + 1);
            }
            let typo: String = chars.into_iter().collect();
            (
                "typo",
                format!("q={}", enc(&performer.replacen(longest, &typo, 1))),
            )
        }
        35..=49 => {
            let from =
                chrono::Utc::now().date_naive() + chrono::Duration::days(rng.gen_range(0..600));
            let to = from + chrono::Duration::days(30);
            (
                "city_dates",
                format!("city={}&from={from}&to={to}", enc(city.0)),
            )
        }
        50..=59 => ("near", format!("near={lat:.5},{lon:.5}&radius_km=25")),
        60..=64 => (
            "near_distance",
            format!("near={lat:.5},{lon:.5}&radius_km=50&sort=distance"),
        ),
        65..=74 => ("big_facets", format!("q={}", enc(city.0))),
        75..=79 => ("deep", format!("q={}", enc(performer))),
        _ => {
            let mut prefix: String = performer.chars().take(rng.gen_range(2..=7)).collect();
            if rng.gen_bool(0.2) && prefix.chars().count() >= 4 {
                prefix.push('x');
            }
            ("suggest", format!("q={}", enc(&prefix)))
        }
    }
}

pub enum Target {
    Http(reqwest::Client, String),
    InProcess(Search),
}

/// How many of each kind were answered from the search's cache.
#[derive(Default)]
pub struct CacheTally(Mutex<BTreeMap<&'static str, (u64, u64)>>);

impl CacheTally {
    fn record(&self, kind: &'static str, hit: bool) {
        let mut counts = self.0.lock().unwrap_or_else(|e| e.into_inner());
        let c = counts.entry(kind).or_default();
        c.0 += u64::from(hit);
        c.1 += 1;
    }

    /// Per kind: (answered from the cache, asked).
    pub fn report(&self) -> BTreeMap<&'static str, (u64, u64)> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl Target {
    /// One request; the cursor of the next page when there is one, and
    /// whether the answer came from the cache (a hit, or an identical
    /// search already running).
    async fn ask(&self, kind: &str, query: &str) -> anyhow::Result<(Option<String>, bool)> {
        let path = if kind == "suggest" {
            "/api/events/suggest"
        } else {
            "/api/events"
        };
        match self {
            Target::Http(client, base) => {
                let response = client.get(format!("{base}{path}?{query}")).send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "{} for {query}",
                    response.status()
                );
                let hit = response
                    .headers()
                    .get("x-search-cache")
                    .is_some_and(|v| v == "hit" || v == "coalesced");
                let body: serde_json::Value = response.json().await?;
                Ok((body["next_cursor"].as_str().map(str::to_string), hit))
            }
            Target::InProcess(search) => {
                let cached = |s: Served| matches!(s, Served::Hit(_) | Served::Coalesced);
                if kind == "suggest" {
                    let (_, served) = search.suggest_served(Some(query)).await?;
                    Ok((None, cached(served)))
                } else {
                    let (answer, served) = search.search_served(Some(query)).await?;
                    Ok((answer.value.next_cursor.clone(), cached(served)))
                }
            }
        }
    }
}

/// Follows a search to its fifth page; how long that page took (and
/// whether it was cached: never, a page after the first is not).
async fn deep(target: &Target, query: &str) -> anyhow::Result<(Duration, bool)> {
    let (mut cursor, mut hit) = target.ask("deep", query).await?;
    let mut last = Duration::ZERO;
    for _ in 0..4 {
        let Some(c) = cursor else { break };
        let started = Instant::now();
        (cursor, hit) = target.ask("deep", &format!("{query}&cursor={c}")).await?;
        last = started.elapsed();
    }
    Ok((last, hit))
}

/// What a run measured.
pub struct Measured {
    pub latencies: Arc<Latencies>,
    pub cache: Arc<CacheTally>,
    pub failed: u64,
    pub elapsed: Duration,
}

/// Searches at `rate` for `seconds` (at most `concurrency` in flight);
/// the latencies and cache hits per kind, how many failed, and the elapsed
/// time.
pub async fn run(
    target: Arc<Target>,
    catalog: &Catalog,
    rng: &mut StdRng,
    rate: f64,
    seconds: u64,
    concurrency: usize,
) -> Measured {
    let latencies = Arc::new(Latencies::default());
    let cache = Arc::new(CacheTally::default());
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency));
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.1));
    let total = (rate * seconds as f64) as u64;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    println!("searching: {total} requests at {rate}/s");
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        let (kind, query) = pick(catalog, rng);
        let (target, latencies, errors, limit, cache) = (
            target.clone(),
            latencies.clone(),
            errors.clone(),
            limit.clone(),
            cache.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            let outcome = if kind == "deep" {
                deep(&target, &query).await
            } else {
                target
                    .ask(kind, &query)
                    .await
                    .map(|(_, hit)| (due.elapsed(), hit))
            };
            match outcome {
                // Deep: the fifth page alone; others: from the planned start.
                Ok((took, hit)) => {
                    latencies.record(kind, took, None);
                    cache.record(kind, hit);
                }
                Err(e) => {
                    if errors.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < 5 {
                        eprintln!("{kind} failed: {e:#}");
                    }
                }
            }
        }));
    }
    for task in tasks {
        let _ = task.await;
    }
    Measured {
        latencies,
        cache,
        failed: errors.load(std::sync::atomic::Ordering::Relaxed),
        elapsed: start.elapsed(),
    }
}
