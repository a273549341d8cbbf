//! The search mix, run at a rate: what each search asks (popular artists,
//! typos, city + dates, near me, near by distance, a city's name as text
//! with facets, deep pages, suggestions), where it goes (a running sale
//! service, or `sale::search` in process) and the open loop that measures
//! each from its planned start.

use super::names::{Zipf, CITIES};
use crate::tally::Latencies;
use rand::rngs::StdRng;
use rand::Rng;
use sale::search::Search;
use std::sync::Arc;
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
        50..=59 => (
            "near",
            format!("near={:.3},{:.3}&radius_km=25", city.3, city.4),
        ),
        60..=64 => (
            "near_distance",
            format!(
                "near={:.3},{:.3}&radius_km=50&sort=distance",
                city.3, city.4
            ),
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

impl Target {
    /// One request; the cursor of the next page when there is one.
    async fn ask(&self, kind: &str, query: &str) -> anyhow::Result<Option<String>> {
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
                let body: serde_json::Value = response.json().await?;
                Ok(body["next_cursor"].as_str().map(str::to_string))
            }
            Target::InProcess(search) => {
                if kind == "suggest" {
                    search.suggest(Some(query)).await?;
                    Ok(None)
                } else {
                    Ok(search.search(Some(query)).await?.next_cursor)
                }
            }
        }
    }
}

/// Follows a search to its fifth page; how long that page took.
async fn deep(target: &Target, query: &str) -> anyhow::Result<Duration> {
    let mut cursor = target.ask("deep", query).await?;
    let mut last = Duration::ZERO;
    for _ in 0..4 {
        let Some(c) = cursor else { break };
        let started = Instant::now();
        cursor = target.ask("deep", &format!("{query}&cursor={c}")).await?;
        last = started.elapsed();
    }
    Ok(last)
}

/// Searches at `rate` for `seconds` (at most `concurrency` in flight);
/// the latencies per kind, how many failed, and the elapsed time.
pub async fn run(
    target: Arc<Target>,
    catalog: &Catalog,
    rng: &mut StdRng,
    rate: f64,
    seconds: u64,
    concurrency: usize,
) -> (Arc<Latencies>, u64, Duration) {
    let latencies = Arc::new(Latencies::default());
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
        let (target, latencies, errors, limit) = (
            target.clone(),
            latencies.clone(),
            errors.clone(),
            limit.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let Ok(_permit) = limit.acquire().await else {
                return;
            };
            let outcome = if kind == "deep" {
                deep(&target, &query).await
            } else {
                target.ask(kind, &query).await.map(|_| due.elapsed())
            };
            match outcome {
                // Deep: the fifth page alone; others: from the planned start.
                Ok(took) => latencies.record(kind, took, None),
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
    let failed = errors.load(std::sync::atomic::Ordering::Relaxed);
    (latencies, failed, start.elapsed())
}
