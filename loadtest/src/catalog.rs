//! `loadtest catalog`: a realistic catalog for the event search, loaded
//! fast, then searched at a rate.
//!
//! 1. Generates venues in real cities (accents, Cyrillic, Greek, CJK,
//!    Hangul), performers with names from several scripts, and events whose
//!    performers are drawn with Zipf-distributed popularity (some events
//!    are festivals named after their city), a tenth of them with a sale.
//! 2. Loads them with COPY into a database the sale's migrations made, with
//!    the search triggers off and the search table's secondary indexes
//!    dropped; then builds the search rows and the lexicon set-based,
//!    recreates the indexes (from their own definitions) and analyses.
//! 3. Searches at `--rate` for `--seconds` (open loop, latency measured
//!    from each request's planned start): popular artists, typos, city +
//!    dates, near me, big result sets with facets, deep pages, suggestions.
//!    Through a running sale service (`--sale-url`) or in process (the same
//!    `sale::search` code over its own pool).
//!
//! Prints p50/p99 per kind and the sizes of the tables and indexes.

use crate::tally::Latencies;
use anyhow::Context;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use sale::search::pg::PgEngine;
use sale::search::Search;
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// PostgreSQL, migrated by the sale service (`sale --migrate`).
    #[arg(long, env = "DATABASE_URL")]
    pub database_url: String,
    #[arg(long, default_value_t = 1_000_000)]
    pub events: usize,
    #[arg(long, default_value_t = 50_000)]
    pub venues: usize,
    #[arg(long, default_value_t = 200_000)]
    pub performers: usize,
    /// Zipf exponent of performer popularity.
    #[arg(long, default_value_t = 1.0)]
    pub zipf: f64,
    /// Skip generating and loading (search what is there).
    #[arg(long)]
    pub no_load: bool,
    /// Searches per second.
    #[arg(long, default_value_t = 200.0)]
    pub rate: f64,
    #[arg(long, default_value_t = 60)]
    pub seconds: u64,
    /// Most searches in flight.
    #[arg(long, default_value_t = 64)]
    pub concurrency: usize,
    /// A running sale service to search through; default: in process.
    #[arg(long)]
    pub sale_url: Option<String>,
    /// Connections of the in-process search pool.
    #[arg(long, default_value_t = 8)]
    pub search_connections: u32,
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
}

/// name, country, time zone, lat, lon, weight (rough size).
const CITIES: &[(&str, &str, &str, f64, f64, u32)] = &[
    ("Berlin", "DE", "Europe/Berlin", 52.52, 13.40, 30),
    ("Hamburg", "DE", "Europe/Berlin", 53.55, 9.99, 15),
    ("München", "DE", "Europe/Berlin", 48.14, 11.58, 15),
    ("Köln", "DE", "Europe/Berlin", 50.94, 6.96, 12),
    ("Düsseldorf", "DE", "Europe/Berlin", 51.23, 6.78, 8),
    ("Leipzig", "DE", "Europe/Berlin", 51.34, 12.37, 6),
    ("London", "GB", "Europe/London", 51.51, -0.13, 40),
    ("Manchester", "GB", "Europe/London", 53.48, -2.24, 10),
    ("Glasgow", "GB", "Europe/London", 55.86, -4.25, 8),
    ("Paris", "FR", "Europe/Paris", 48.86, 2.35, 35),
    ("Lyon", "FR", "Europe/Paris", 45.76, 4.84, 8),
    ("Montréal", "CA", "America/Toronto", 45.50, -73.57, 10),
    ("Zürich", "CH", "Europe/Zurich", 47.37, 8.54, 8),
    ("Genève", "CH", "Europe/Zurich", 46.20, 6.14, 5),
    ("Wien", "AT", "Europe/Vienna", 48.21, 16.37, 12),
    ("Praha", "CZ", "Europe/Prague", 50.08, 14.44, 10),
    ("Kraków", "PL", "Europe/Warsaw", 50.06, 19.94, 8),
    ("Łódź", "PL", "Europe/Warsaw", 51.76, 19.46, 5),
    ("Warszawa", "PL", "Europe/Warsaw", 52.23, 21.01, 12),
    ("København", "DK", "Europe/Copenhagen", 55.68, 12.57, 10),
    ("Malmö", "SE", "Europe/Stockholm", 55.60, 13.00, 5),
    ("Göteborg", "SE", "Europe/Stockholm", 57.71, 11.97, 6),
    ("Stockholm", "SE", "Europe/Stockholm", 59.33, 18.07, 12),
    ("Oslo", "NO", "Europe/Oslo", 59.91, 10.75, 8),
    ("Reykjavík", "IS", "Atlantic/Reykjavik", 64.15, -21.94, 3),
    ("Amsterdam", "NL", "Europe/Amsterdam", 52.37, 4.90, 15),
    ("Bruxelles", "BE", "Europe/Brussels", 50.85, 4.35, 10),
    ("Madrid", "ES", "Europe/Madrid", 40.42, -3.70, 20),
    ("Barcelona", "ES", "Europe/Madrid", 41.39, 2.17, 20),
    ("Sevilla", "ES", "Europe/Madrid", 37.39, -5.98, 6),
    ("Málaga", "ES", "Europe/Madrid", 36.72, -4.42, 5),
    ("Lisboa", "PT", "Europe/Lisbon", 38.72, -9.14, 10),
    ("Roma", "IT", "Europe/Rome", 41.90, 12.50, 18),
    ("Milano", "IT", "Europe/Rome", 45.46, 9.19, 18),
    ("Napoli", "IT", "Europe/Rome", 40.85, 14.27, 8),
    ("Αθήνα", "GR", "Europe/Athens", 37.98, 23.73, 10),
    ("İstanbul", "TR", "Europe/Istanbul", 41.01, 28.98, 20),
    ("Москва", "RU", "Europe/Moscow", 55.76, 37.62, 25),
    ("Санкт-Петербург", "RU", "Europe/Moscow", 59.94, 30.31, 12),
    ("Київ", "UA", "Europe/Kyiv", 50.45, 30.52, 10),
    ("New York", "US", "America/New_York", 40.71, -74.01, 40),
    (
        "Los Angeles",
        "US",
        "America/Los_Angeles",
        34.05,
        -118.24,
        30,
    ),
    ("Chicago", "US", "America/Chicago", 41.88, -87.63, 20),
    ("Austin", "US", "America/Chicago", 30.27, -97.74, 10),
    ("Nashville", "US", "America/Chicago", 36.16, -86.78, 10),
    ("México", "MX", "America/Mexico_City", 19.43, -99.13, 20),
    ("Bogotá", "CO", "America/Bogota", 4.71, -74.07, 10),
    ("São Paulo", "BR", "America/Sao_Paulo", -23.55, -46.63, 25),
    (
        "Buenos Aires",
        "AR",
        "America/Argentina/Buenos_Aires",
        -34.60,
        -58.38,
        15,
    ),
    ("東京", "JP", "Asia/Tokyo", 35.68, 139.69, 35),
    ("大阪", "JP", "Asia/Tokyo", 34.69, 135.50, 15),
    ("서울", "KR", "Asia/Seoul", 37.57, 126.98, 25),
    ("Sydney", "AU", "Australia/Sydney", -33.87, 151.21, 15),
    ("Melbourne", "AU", "Australia/Melbourne", -37.81, 144.96, 12),
];

const FIRST: &[&str] = &[
    "Taylor",
    "Anna",
    "Björn",
    "Chloé",
    "Diego",
    "Élodie",
    "Fatima",
    "Günther",
    "Hana",
    "Ivan",
    "José",
    "Kai",
    "Léa",
    "Mateo",
    "Nina",
    "Óscar",
    "Paula",
    "Quinn",
    "Renée",
    "Søren",
    "Tomás",
    "Ulla",
    "Valentina",
    "Wojciech",
    "Ximena",
    "Yusuf",
    "Zoë",
    "Amélie",
    "Bruno",
    "Carmen",
    "Dmitri",
    "Emma",
    "Frida",
    "Gabriel",
    "Helene",
    "Inés",
    "Jonas",
    "Katarzyna",
    "Lukas",
    "Marta",
    "Noah",
    "Olivia",
    "Pierre",
    "Rosa",
    "Sofia",
    "Tyler",
    "Ulrich",
    "Vera",
    "William",
    "Yara",
    "Åsa",
    "Jürgen",
    "Françoise",
    "Mikołaj",
    "Zoltán",
    "Ana",
    "Billie",
    "Ed",
    "Dua",
    "Peter",
];

const SYLLABLES: &[&str] = &[
    "ba", "ber", "chi", "dan", "el", "fer", "gar", "hol", "in", "jo", "kai", "lin", "mar", "nor",
    "ol", "pen", "quin", "ros", "sal", "tor", "ul", "van", "wes", "xan", "yor", "zel", "mü", "sé",
    "lá", "ñe", "rø", "kö", "gå", "će", "ža", "ste", "win", "ton", "berg", "son",
];

const NON_LATIN: &[&str] = &[
    "Кино",
    "Звери",
    "Сплин",
    "Мумий",
    "Ночные",
    "宇多田",
    "米津",
    "椎名",
    "星野",
    "あいみょん",
    "방탄",
    "블랙",
    "아이유",
    "Αλκίνοος",
    "Χαρούλα",
    "Σαββόπουλος",
];

const BAND_WORDS: &[&str] = &[
    "Arctic", "Velvet", "Electric", "Midnight", "Crimson", "Silver", "Golden", "Wild", "Northern",
    "Lonely", "Neon", "Paper", "Black", "Blue", "Iron", "Glass", "Fox", "Wolves", "Monkeys",
    "Lights", "Kings", "Rivers", "Hearts", "Ghosts", "Tigers", "Dreams",
];

const GENRES: &[&str] = &[
    "Pop",
    "Rock",
    "Jazz",
    "Classical",
    "Electronic",
    "Hip-hop",
    "R&B",
    "Metal",
    "Folk",
    "Country",
    "Latin",
    "Indie",
    "Punk",
    "Schlager",
    "K-Pop",
    "J-Pop",
    "Opera",
    "Comedy",
];

const VENUE_KINDS: &[&str] = &[
    "Arena",
    "Stadthalle",
    "Theater",
    "Club",
    "Hall",
    "Palais",
    "Teatro",
    "Stadium",
    "Amphitheatre",
    "Music Hall",
    "Konzerthaus",
    "Salle",
    "Dome",
    "Garden",
    "Kino",
    "Loft",
];

const TOURS: &[&str] = &[
    "World Tour",
    "Live",
    "Unplugged",
    "Anniversary Tour",
    "Greatest Hits",
    "In Concert",
    "Acoustic Night",
    "Farewell Tour",
    "Summer Tour",
    "Winter Tour",
];

const FESTIVALS: &[&str] = &[
    "Festival",
    "Calling",
    "Open Air",
    "Jazz Days",
    "Music Week",
    "Nights",
    "Fest",
];

fn syllable_name(rng: &mut StdRng) -> String {
    let n = rng.gen_range(2..=3);
    let mut s: String = (0..n)
        .map(|_| SYLLABLES[rng.gen_range(0..SYLLABLES.len())])
        .collect();
    if let Some(first) = s.chars().next() {
        let upper: String = first.to_uppercase().collect();
        s = upper + &s[first.len_utf8()..];
    }
    s
}

/// Distinct performer names, most popular first.
fn performers(rng: &mut StdRng, n: usize) -> Vec<String> {
    let mut seen = HashSet::with_capacity(n);
    let mut out = Vec::with_capacity(n);
    // A few famous ones on top (the typo queries aim at them).
    for famous in [
        "Taylor Swift",
        "Beyoncé",
        "Björk",
        "Ed Sheeran",
        "Dua Lipa",
        "Billie Eilish",
        "Céline Dion",
        "Måneskin",
        "Rosalía",
        "Mötley Crüe",
    ] {
        seen.insert(famous.to_string());
        out.push(famous.to_string());
    }
    while out.len() < n {
        let name = match rng.gen_range(0..100) {
            0..=59 => format!(
                "{} {}",
                FIRST[rng.gen_range(0..FIRST.len())],
                syllable_name(rng)
            ),
            60..=79 => format!(
                "The {} {}",
                BAND_WORDS[rng.gen_range(0..BAND_WORDS.len())],
                syllable_name(rng)
            ),
            80..=89 => format!(
                "{} {}",
                NON_LATIN[rng.gen_range(0..NON_LATIN.len())],
                rng.gen_range(1..2000)
            ),
            _ => format!("DJ {}{}", syllable_name(rng), rng.gen_range(1..100)),
        };
        if seen.insert(name.clone()) {
            out.push(name);
        }
    }
    out
}

/// Zipf sampler over ranks 0..n by inverse CDF on the cumulative weights.
struct Zipf {
    cumulative: Vec<f64>,
}

impl Zipf {
    fn new(n: usize, s: f64) -> Self {
        let mut total = 0.0;
        let cumulative = (1..=n)
            .map(|k| {
                total += 1.0 / (k as f64).powf(s);
                total
            })
            .collect();
        Self { cumulative }
    }

    fn sample(&self, rng: &mut StdRng) -> usize {
        let total = *self.cumulative.last().unwrap_or(&1.0);
        let x = rng.gen::<f64>() * total;
        self.cumulative.partition_point(|&c| c < x)
    }
}

/// A COPY text field.
fn field(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('\t', "\\t")
        .replace('\n', "\\n")
        .replace('\r', "\\r")
}

/// A COPY text array of strings.
fn array(items: &[&str]) -> String {
    let inner: Vec<String> = items
        .iter()
        .map(|s| format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    field(&format!("{{{}}}", inner.join(",")))
}

async fn copy(
    db: &PgPool,
    statement: &str,
    rows: impl Iterator<Item = String>,
) -> anyhow::Result<u64> {
    let mut conn = db.acquire().await?;
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut buffer = String::with_capacity(1 << 20);
    for row in rows {
        buffer.push_str(&row);
        buffer.push('\n');
        if buffer.len() > (1 << 20) {
            copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.into_bytes()).await?;
    }
    Ok(copy.finish().await?)
}

/// What the search mix draws from.
struct Catalog {
    performers: Vec<String>,
    zipf: Zipf,
}

async fn load(db: &PgPool, args: &Args, rng: &mut StdRng) -> anyhow::Result<Catalog> {
    let started = Instant::now();
    let performers = performers(rng, args.performers);
    let zipf = Zipf::new(performers.len(), args.zipf);
    println!(
        "generated {} performers in {:.1?}",
        performers.len(),
        started.elapsed()
    );

    let mut conn = db.acquire().await?;
    conn.execute(
        "TRUNCATE event_search, search_words, search_names; \
         DELETE FROM drops WHERE id LIKE 'cat-%'; \
         DELETE FROM events WHERE id LIKE 'cat-%'; \
         DELETE FROM venues WHERE id LIKE 'cat-%';",
    )
    .await
    .context("clearing an earlier catalog")?;
    // The search table's secondary indexes, to recreate after the bulk
    // insert (from their own definitions, so they stay the migration's).
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT indexname, indexdef FROM pg_indexes \
         WHERE tablename IN ('event_search', 'search_words', 'search_names') \
           AND indexname NOT LIKE '%_pkey'",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        conn.execute(format!("DROP INDEX {name}").as_str()).await?;
    }
    conn.execute(
        "ALTER TABLE events DISABLE TRIGGER USER; ALTER TABLE drops DISABLE TRIGGER USER; \
         SET maintenance_work_mem = '512MB'",
    )
    .await?;

    // Venues: weighted by city size, jittered within ~15 km.
    let weights: Vec<u32> = CITIES.iter().map(|c| c.5).collect();
    let total_weight: u32 = weights.iter().sum();
    let mut venue_city = Vec::with_capacity(args.venues);
    let venue_rows: Vec<String> = (0..args.venues)
        .map(|i| {
            let mut pick = rng.gen_range(0..total_weight);
            let mut city = 0;
            while pick >= weights[city] {
                pick -= weights[city];
                city += 1;
            }
            venue_city.push(city);
            let (name, country, tz, lat, lon, _) = CITIES[city];
            let kind = VENUE_KINDS[rng.gen_range(0..VENUE_KINDS.len())];
            let venue = match rng.gen_range(0..3) {
                0 => format!("{} {kind}", syllable_name(rng)),
                1 => format!("{kind} {name} {}", i % 97),
                _ => format!("{} {kind}", BAND_WORDS[rng.gen_range(0..BAND_WORDS.len())]),
            };
            format!(
                "cat-v{i}\t{}\t{}\t{country}\t{tz}\t{:.5}\t{:.5}",
                field(&venue),
                field(name),
                lat + rng.gen_range(-0.12..0.12),
                lon + rng.gen_range(-0.18..0.18)
            )
        })
        .collect();
    copy(
        db,
        "COPY venues (id, name, city, country, timezone, lat, lon) FROM STDIN",
        venue_rows.into_iter(),
    )
    .await?;

    // Events over the next two years; a tenth with a sale.
    let now = chrono::Utc::now();
    let mut drops = Vec::new();
    let mut event_rows = Vec::with_capacity(args.events);
    for i in 0..args.events {
        let venue = rng.gen_range(0..args.venues);
        let city = CITIES[venue_city[venue]].0;
        let first = zipf.sample(rng);
        let mut names = vec![performers[first].as_str()];
        if rng.gen_bool(0.25) {
            names.push(performers[zipf.sample(rng)].as_str());
        }
        let name = if rng.gen_bool(0.05) {
            format!("{city} {}", FESTIVALS[rng.gen_range(0..FESTIVALS.len())])
        } else {
            format!("{}: {}", names[0], TOURS[rng.gen_range(0..TOURS.len())])
        };
        let starts = now + chrono::Duration::minutes(rng.gen_range(60..730 * 24 * 60));
        let genre = GENRES[rng.gen_range(0..GENRES.len())];
        event_rows.push(format!(
            "cat-e{i}\t{}\t{}\tcat-v{venue}\t{}\t{}",
            field(&name),
            array(&names),
            starts.to_rfc3339(),
            field(genre)
        ));
        if rng.gen_bool(0.1) {
            let opens = starts - chrono::Duration::days(rng.gen_range(1..120));
            let held = if rng.gen_bool(0.1) { 500 } else { 0 };
            drops.push(format!(
                "cat-d{i}\tSale {i}\t500\t{held}\t{}\tEUR\t{}\t2\t3600\t50\t500\topen\tcat-e{i}",
                rng.gen_range(20..200) * 100,
                opens.to_rfc3339()
            ));
        }
    }
    let copied = Instant::now();
    copy(
        db,
        "COPY events (id, name, performers, venue_id, starts_at, genre) FROM STDIN",
        event_rows.into_iter(),
    )
    .await?;
    copy(
        db,
        "COPY drops (id, name, stock, held, price_cents, currency, opens_at, per_user_cap, \
           order_timeout_secs, admission_rate_per_sec, max_active, state, event_id) FROM STDIN",
        drops.into_iter(),
    )
    .await?;
    println!(
        "copied venues, events and sales in {:.1?}",
        copied.elapsed()
    );

    let step = Instant::now();
    // In two halves on two connections (two cores).
    let halves = (0..2).map(|half: i32| async move {
        sqlx::query(
            "SELECT search_refresh(ARRAY(SELECT id FROM events \
             WHERE id LIKE 'cat-%' AND abs(hashtext(id)) % 2 = $1))",
        )
        .bind(half)
        .execute(db)
        .await
    });
    futures::future::try_join_all(halves).await?;
    println!("search rows built in {:.1?}", step.elapsed());
    let step = Instant::now();
    conn.execute("SELECT search_rebuild_lexicon()").await?;
    println!("lexicon rebuilt in {:.1?}", step.elapsed());
    let step = Instant::now();
    // Each index on its own connection: two build at once on two cores.
    let builds = indexes.iter().map(|(_, def)| async move {
        let mut c = db.acquire().await?;
        c.execute("SET maintenance_work_mem = '256MB'").await?;
        c.execute(def.as_str()).await?;
        anyhow::Ok(())
    });
    futures::future::try_join_all(builds).await?;
    println!("search and lexicon indexes built in {:.1?}", step.elapsed());
    let step = Instant::now();

    // One statement each: VACUUM (which also merges GIN's pending
    // entries) cannot share a command string.
    for statement in [
        "ALTER TABLE events ENABLE TRIGGER USER",
        "ALTER TABLE drops ENABLE TRIGGER USER",
        "ANALYZE venues",
        "ANALYZE events",
        "ANALYZE drops",
        "VACUUM ANALYZE event_search",
        "VACUUM ANALYZE search_words",
        "VACUUM ANALYZE search_names",
    ] {
        conn.execute(statement).await?;
    }
    println!("statistics in {:.1?}", step.elapsed());
    println!(
        "catalog loaded: {} events, {} venues, {} performers in {:.1?}",
        args.events,
        args.venues,
        args.performers,
        started.elapsed()
    );
    Ok(Catalog { performers, zipf })
}

/// Reads back the performers of a loaded catalog, most used first.
async fn existing(db: &PgPool, args: &Args) -> anyhow::Result<Catalog> {
    let performers: Vec<String> = sqlx::query_scalar(
        "SELECT label FROM search_names WHERE kind = 'performer' AND key = search_norm(label) \
         ORDER BY freq DESC LIMIT $1",
    )
    .bind(args.performers as i64)
    .fetch_all(db)
    .await?;
    anyhow::ensure!(
        !performers.is_empty(),
        "no catalog loaded: run without --no-load"
    );
    let zipf = Zipf::new(performers.len(), args.zipf);
    Ok(Catalog { performers, zipf })
}

/// One search of the mix: its kind and query string.
fn pick(catalog: &Catalog, rng: &mut StdRng) -> (&'static str, String) {
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

enum Target {
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

pub async fn main(args: Args) -> anyhow::Result<()> {
    let db = PgPoolOptions::new()
        .max_connections(4)
        .connect(&args.database_url)
        .await
        .context("connecting to PostgreSQL")?;
    let mut rng = StdRng::seed_from_u64(args.seed);
    let catalog = if args.no_load {
        existing(&db, &args).await?
    } else {
        load(&db, &args, &mut rng).await?
    };
    let target = Arc::new(match &args.sale_url {
        Some(url) => Target::Http(
            reqwest::Client::new(),
            url.trim_end_matches('/').to_string(),
        ),
        None => Target::InProcess(Search::new(
            Arc::new(PgEngine::connect(&args.database_url, args.search_connections).await?),
            b"loadtest catalog cursor key",
            Arc::new(sale::clock::SystemClock),
        )),
    });
    let latencies = Arc::new(Latencies::default());
    let errors = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let limit = Arc::new(tokio::sync::Semaphore::new(args.concurrency));
    let interval = Duration::from_secs_f64(1.0 / args.rate.max(0.1));
    let total = (args.rate * args.seconds as f64) as u64;
    let start = tokio::time::Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    println!("searching: {total} requests at {}/s", args.rate);
    for n in 0..total {
        let due = start + interval.mul_f64(n as f64);
        tokio::time::sleep_until(due).await;
        let (kind, query) = pick(&catalog, &mut rng);
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
    let elapsed = start.elapsed();
    println!(
        "{total} searches in {elapsed:.1?} ({:.0}/s), {} failed",
        total as f64 / elapsed.as_secs_f64(),
        errors.load(std::sync::atomic::Ordering::Relaxed)
    );
    println!("| kind | count | p50 ms | p99 ms | max ms |");
    println!("|---|---:|---:|---:|---:|");
    for (kind, r) in latencies.report() {
        println!(
            "| {kind} | {} | {:.1} | {:.1} | {:.1} |",
            r.count, r.p50_ms, r.p99_ms, r.max_ms
        );
    }
    let sizes: Vec<(String, i64)> = sqlx::query_as(
        "SELECT c.relname::text, pg_relation_size(c.oid) FROM pg_class c \
         JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND (c.relname IN ('events', 'venues', 'event_search', \
           'search_words', 'search_names') OR c.relname LIKE 'event_search_%' \
           OR c.relname LIKE 'search_%') AND c.relkind IN ('r', 'i') \
         ORDER BY pg_relation_size(c.oid) DESC",
    )
    .fetch_all(&db)
    .await?;
    println!("| table or index | size MiB |");
    println!("|---|---:|");
    for (name, bytes) in sizes {
        println!("| {name} | {:.1} |", bytes as f64 / (1024.0 * 1024.0));
    }
    Ok(())
}
