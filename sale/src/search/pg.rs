//! The PostgreSQL engine: one denormalised row per event (`event_search`,
//! kept by triggers, migration 0006) searched with a weighted tsvector,
//! filters on indexed columns, the earth's surface for `near`.
//!
//! How a text is searched: it is normalised (unaccented, lower case, split
//! into words) by PostgreSQL's `search_norm`; a word the lexicon
//! (`search_words`) does not know is corrected to the closest known words
//! (one-edit variants looked up exactly, and trigram neighbours; ranked in
//! [`super::typo`]), or else taken as a prefix; the words are AND-ed.
//!
//! What keeps it fast at a million events: relevance is ranked over at most
//! [`CANDIDATES`] matches (the soonest), never over all of them; facets are
//! counted over at most [`FACET_BOUND`] (and say so); date and distance
//! sorts walk an index or a bounded box and stop at the page.
//! `near` is a latitude/longitude box first (btree, and estimated well by
//! the planner, unlike a GiST box: it walks by date where the place is
//! dense and by the box where it is sparse), then the exact distance; a
//! box that crosses the antimeridian filters on latitude only. The
//! distance is the haversine on earthdistance's sphere, in plain arithmetic
//! (a function call per row cost ten times more).
//! Every query is planned with its actual values (see [`PgEngine::connect`]),
//! so the filters left out cost nothing and the planner sees each constant.

use super::{
    typo, After, EngineAnswer, EngineQuery, FacetCount, Facets, Hit, HitVenue, PriceRange,
    SaleSummary, SearchEngine, SearchError, Sort, Suggestion,
};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::PgPool;

/// Most matches ranked by relevance (the soonest ones).
pub const CANDIDATES: i64 = 1000;
/// Most matches counted for facets (the soonest ones).
pub const FACET_BOUND: i64 = 1000;
/// Trigram neighbours fetched per misspelt word.
const SIMILAR_WORDS: i32 = 30;

/// Searches the catalog in PostgreSQL.
#[derive(Clone)]
pub struct PgEngine {
    db: PgPool,
}

impl PgEngine {
    /// An engine over its own pool (a replica's URL, or the primary's):
    /// search load is bounded by `connections` and never takes the order
    /// path's connections. Every statement is planned with its actual
    /// values (`plan_cache_mode = force_custom_plan`: the filters left out
    /// cost nothing) and is cancelled after [`super::SEARCH_TIMEOUT`].
    pub async fn connect(url: &str, connections: u32) -> anyhow::Result<Self> {
        use anyhow::Context;
        use sqlx::Executor;
        let timeout_ms = super::SEARCH_TIMEOUT.as_millis();
        let db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(connections)
            .acquire_timeout(std::time::Duration::from_secs(1))
            .after_connect(move |conn, _| {
                Box::pin(async move {
                    conn.execute(
                        format!(
                            "SET plan_cache_mode = force_custom_plan; \
                             SET statement_timeout = {timeout_ms}"
                        )
                        .as_str(),
                    )
                    .await?;
                    Ok(())
                })
            })
            .connect_lazy(url)
            .context("the search database's URL")?;
        Ok(Self { db })
    }
}

/// A hit as the queries return it.
struct HitRow {
    id: String,
    name: String,
    performers: Vec<String>,
    venue_id: String,
    venue_name: String,
    city: String,
    country: String,
    timezone: String,
    starts_at: DateTime<Utc>,
    local_start: NaiveDateTime,
    genre: String,
    status: String,
    sale_opens_at: Option<DateTime<Utc>>,
    sold_out: bool,
    price_min: Option<i64>,
    price_max: Option<i64>,
    currency: Option<String>,
    distance_km: Option<f64>,
    rank: Option<f32>,
    knn: Option<f64>,
}

impl HitRow {
    fn into_hit(self, now: DateTime<Utc>) -> (Hit, After) {
        let after = After {
            rank: self.rank,
            distance: self.knn,
            starts_at: self.starts_at,
            id: self.id.clone(),
        };
        let price = match (self.price_min, self.price_max, self.currency) {
            (Some(min_cents), Some(max_cents), Some(currency)) => Some(PriceRange {
                min_cents,
                max_cents,
                currency,
            }),
            _ => None,
        };
        let hit = Hit {
            id: self.id,
            name: self.name,
            performers: self.performers,
            venue: HitVenue {
                id: self.venue_id,
                name: self.venue_name,
                city: self.city,
                country: self.country,
                timezone: self.timezone,
            },
            starts_at: self.starts_at,
            local_start: self.local_start,
            genre: self.genre,
            status: self.status,
            sale: SaleSummary::new(self.sale_opens_at, self.sold_out, now),
            price,
            distance_km: self.distance_km,
        };
        (hit, after)
    }
}

/// A lexeme quoted for a tsquery (the words are letters and digits only,
/// quoting is belt and braces).
fn lexeme(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// The filter values as the queries take them.
struct Filters<'a> {
    tsquery: Option<String>,
    city: Option<&'a str>,
    venue: Option<&'a str>,
    country: Option<&'a str>,
    genre: Option<&'a str>,
    from: Option<chrono::NaiveDate>,
    to: Option<chrono::NaiveDate>,
    on_sale: bool,
    lat: Option<f64>,
    lon: Option<f64>,
    radius_m: Option<f64>,
    now: DateTime<Utc>,
}

impl PgEngine {
    /// The tsquery for a text, and the corrected text when a word was
    /// corrected.
    pub async fn understand(&self, text: &str) -> Result<(String, Option<String>), SearchError> {
        let words = sqlx::query!(
            r#"SELECT t.word AS "word!",
                 EXISTS (SELECT 1 FROM search_words w WHERE w.word = t.word) AS "known!"
               FROM unnest(string_to_array(search_norm($1), ' ')) WITH ORDINALITY AS t(word, n)
               WHERE t.word <> ''
               ORDER BY t.n
               LIMIT 10"#,
            text
        )
        .fetch_all(&self.db)
        .await?;
        let mut parts = Vec::new();
        let mut shown = Vec::new();
        let mut corrected = false;
        for word in words {
            if word.known || typo::allowed_edits(word.word.chars().count()) == 0 {
                parts.push(lexeme(&word.word));
                shown.push(word.word);
                continue;
            }
            let fixes = self.corrections(&word.word).await?;
            if fixes.is_empty() {
                // Not a known word nor close to one: perhaps still being
                // typed.
                parts.push(format!("{}:*", lexeme(&word.word)));
                shown.push(word.word);
            } else {
                corrected = true;
                let alternatives: Vec<String> = fixes.iter().map(|f| lexeme(f)).collect();
                parts.push(format!("({})", alternatives.join(" | ")));
                shown.push(fixes[0].clone());
            }
        }
        Ok((parts.join(" & "), corrected.then(|| shown.join(" "))))
    }

    /// The known words closest to a misspelt one.
    async fn corrections(&self, word: &str) -> Result<Vec<String>, SearchError> {
        let variants = typo::variants(word);
        let candidates = sqlx::query!(
            r#"SELECT w.word AS "word!", w.freq::BIGINT AS "freq!"
               FROM search_words w WHERE w.word = ANY($1)
               UNION
               SELECT s.word, s.freq::BIGINT FROM search_similar_words($2, $3) s"#,
            &variants,
            word,
            SIMILAR_WORDS
        )
        .fetch_all(&self.db)
        .await?;
        let candidates: Vec<(String, i64)> =
            candidates.into_iter().map(|c| (c.word, c.freq)).collect();
        Ok(typo::corrections(word, &candidates))
    }

    async fn page(&self, f: &Filters<'_>, query: &EngineQuery) -> Result<Vec<HitRow>, SearchError> {
        let limit = i64::from(query.params.limit) + 1;
        let after = query.after.as_ref();
        let rows = match query.params.sort {
            Sort::Relevance => {
                sqlx::query_as!(
                    HitRow,
                    r#"WITH cand AS MATERIALIZED (
                         SELECT s.event_id, s.starts_at, ts_rank(s.doc, $1::text::tsquery) AS rank
                         FROM event_search s
                         WHERE s.status <> 'cancelled'
                           AND ($1::text IS NULL OR s.doc @@ $1::text::tsquery)
                           AND ($2::text IS NULL OR s.city_key = search_norm($2::text))
                           AND ($3::text IS NULL OR s.venue_id = $3::text)
                           AND ($4::text IS NULL OR s.country = $4::text)
                           AND ($5::text IS NULL OR s.genre_key = search_norm($5::text))
                           AND s.starts_at >= COALESCE(($6::date - 1)::timestamp AT TIME ZONE 'UTC',
                                                       $12::timestamptz)
                           AND ($6::date IS NULL OR s.local_start >= $6::date)
                           AND ($7::date IS NULL
                                OR (s.starts_at < ($7::date + 2)::timestamp AT TIME ZONE 'UTC'
                                    AND s.local_start < $7::date + 1))
                           AND ($8::bool IS NOT TRUE OR s.sale_opens_at <= $12::timestamptz)
                           AND ($9::float8 IS NULL
                                OR (s.lat BETWEEN $9::float8 - $11::float8 / 111000.0
                                              AND $9::float8 + $11::float8 / 111000.0
                                    AND (s.lon BETWEEN $10::float8 - $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                             AND $10::float8 + $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                         OR abs($10::float8) + $11::float8
                                            / (111000.0 * greatest(cos(radians($9::float8)), 0.01)) > 180)
                                    AND 2 * 6378168 * asin(sqrt(
                                      sin(radians(s.lat - $9::float8) / 2) ^ 2
                                      + cos(radians($9::float8)) * cos(radians(s.lat))
                                        * sin(radians(s.lon - $10::float8) / 2) ^ 2)) <= $11::float8))
                         ORDER BY s.starts_at, s.event_id
                         LIMIT $17
                       ), page AS (
                         SELECT cand.event_id, cand.starts_at, cand.rank FROM cand
                         WHERE $13::real IS NULL OR cand.rank < $13::real
                           OR (cand.rank = $13::real
                               AND (cand.starts_at, cand.event_id) > ($14::timestamptz, $15::text))
                         ORDER BY cand.rank DESC, cand.starts_at, cand.event_id
                         LIMIT $16
                       )
                       SELECT s.event_id AS "id!", e.name AS "name!", e.performers AS "performers!",
                         s.venue_id AS "venue_id!", v.name AS "venue_name!", s.city AS "city!",
                         s.country AS "country!", v.timezone AS "timezone!",
                         s.starts_at AS "starts_at!", s.local_start AS "local_start!",
                         s.genre AS "genre!", s.status AS "status!",
                         s.sale_opens_at AS "sale_opens_at?", s.sold_out AS "sold_out!",
                         s.price_min AS "price_min?", s.price_max AS "price_max?",
                         s.currency AS "currency?",
                         CASE WHEN $9::float8 IS NULL THEN NULL
                           ELSE earth_distance(search_earth($9::float8, $10::float8),
                             search_earth(s.lat, s.lon)) / 1000 END AS "distance_km?", page.rank AS "rank?", NULL::float8 AS "knn?"
                       FROM page
                       JOIN event_search s ON s.event_id = page.event_id
                       JOIN events e ON e.id = s.event_id
                       JOIN venues v ON v.id = s.venue_id
                       ORDER BY page.rank DESC, page.starts_at, page.event_id"#,
                    f.tsquery.as_deref(),
                    f.city,
                    f.venue,
                    f.country,
                    f.genre,
                    f.from,
                    f.to,
                    f.on_sale,
                    f.lat,
                    f.lon,
                    f.radius_m,
                    f.now,
                    after.and_then(|a| a.rank),
                    after.map(|a| a.starts_at),
                    after.map(|a| a.id.as_str()),
                    limit,
                    CANDIDATES
                )
                .fetch_all(&self.db)
                .await?
            }
            Sort::Date => {
                sqlx::query_as!(
                    HitRow,
                    r#"WITH page AS (
                         SELECT s.event_id, s.starts_at
                         FROM event_search s
                         WHERE s.status <> 'cancelled'
                           AND ($1::text IS NULL OR s.doc @@ $1::text::tsquery)
                           AND ($2::text IS NULL OR s.city_key = search_norm($2::text))
                           AND ($3::text IS NULL OR s.venue_id = $3::text)
                           AND ($4::text IS NULL OR s.country = $4::text)
                           AND ($5::text IS NULL OR s.genre_key = search_norm($5::text))
                           AND s.starts_at >= COALESCE(($6::date - 1)::timestamp AT TIME ZONE 'UTC',
                                                       $12::timestamptz)
                           AND ($6::date IS NULL OR s.local_start >= $6::date)
                           AND ($7::date IS NULL
                                OR (s.starts_at < ($7::date + 2)::timestamp AT TIME ZONE 'UTC'
                                    AND s.local_start < $7::date + 1))
                           AND ($8::bool IS NOT TRUE OR s.sale_opens_at <= $12::timestamptz)
                           AND ($9::float8 IS NULL
                                OR (s.lat BETWEEN $9::float8 - $11::float8 / 111000.0
                                              AND $9::float8 + $11::float8 / 111000.0
                                    AND (s.lon BETWEEN $10::float8 - $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                             AND $10::float8 + $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                         OR abs($10::float8) + $11::float8
                                            / (111000.0 * greatest(cos(radians($9::float8)), 0.01)) > 180)
                                    AND 2 * 6378168 * asin(sqrt(
                                      sin(radians(s.lat - $9::float8) / 2) ^ 2
                                      + cos(radians($9::float8)) * cos(radians(s.lat))
                                        * sin(radians(s.lon - $10::float8) / 2) ^ 2)) <= $11::float8))
                           AND ($13::timestamptz IS NULL
                                OR (s.starts_at, s.event_id) > ($13::timestamptz, $14::text))
                         ORDER BY s.starts_at, s.event_id
                         LIMIT $15
                       )
                       SELECT s.event_id AS "id!", e.name AS "name!", e.performers AS "performers!",
                         s.venue_id AS "venue_id!", v.name AS "venue_name!", s.city AS "city!",
                         s.country AS "country!", v.timezone AS "timezone!",
                         s.starts_at AS "starts_at!", s.local_start AS "local_start!",
                         s.genre AS "genre!", s.status AS "status!",
                         s.sale_opens_at AS "sale_opens_at?", s.sold_out AS "sold_out!",
                         s.price_min AS "price_min?", s.price_max AS "price_max?",
                         s.currency AS "currency?",
                         CASE WHEN $9::float8 IS NULL THEN NULL
                           ELSE earth_distance(search_earth($9::float8, $10::float8),
                             search_earth(s.lat, s.lon)) / 1000 END AS "distance_km?", NULL::real AS "rank?", NULL::float8 AS "knn?"
                       FROM page
                       JOIN event_search s ON s.event_id = page.event_id
                       JOIN events e ON e.id = s.event_id
                       JOIN venues v ON v.id = s.venue_id
                       ORDER BY page.starts_at, page.event_id"#,
                    f.tsquery.as_deref(),
                    f.city,
                    f.venue,
                    f.country,
                    f.genre,
                    f.from,
                    f.to,
                    f.on_sale,
                    f.lat,
                    f.lon,
                    f.radius_m,
                    f.now,
                    after.map(|a| a.starts_at),
                    after.map(|a| a.id.as_str()),
                    limit
                )
                .fetch_all(&self.db)
                .await?
            }
            Sort::Distance => {
                sqlx::query_as!(
                    HitRow,
                    r#"WITH page AS (
                         SELECT s.event_id,
                           2 * 6378168 * asin(sqrt(
                             sin(radians(s.lat - $9::float8) / 2) ^ 2
                             + cos(radians($9::float8)) * cos(radians(s.lat))
                               * sin(radians(s.lon - $10::float8) / 2) ^ 2)) AS knn
                         FROM event_search s
                         WHERE s.status <> 'cancelled'
                           AND ($1::text IS NULL OR s.doc @@ $1::text::tsquery)
                           AND ($2::text IS NULL OR s.city_key = search_norm($2::text))
                           AND ($3::text IS NULL OR s.venue_id = $3::text)
                           AND ($4::text IS NULL OR s.country = $4::text)
                           AND ($5::text IS NULL OR s.genre_key = search_norm($5::text))
                           AND s.starts_at >= COALESCE(($6::date - 1)::timestamp AT TIME ZONE 'UTC',
                                                       $12::timestamptz)
                           AND ($6::date IS NULL OR s.local_start >= $6::date)
                           AND ($7::date IS NULL
                                OR (s.starts_at < ($7::date + 2)::timestamp AT TIME ZONE 'UTC'
                                    AND s.local_start < $7::date + 1))
                           AND ($8::bool IS NOT TRUE OR s.sale_opens_at <= $12::timestamptz)
                           AND ($9::float8 IS NULL
                                OR (s.lat BETWEEN $9::float8 - $11::float8 / 111000.0
                                              AND $9::float8 + $11::float8 / 111000.0
                                    AND (s.lon BETWEEN $10::float8 - $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                             AND $10::float8 + $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                         OR abs($10::float8) + $11::float8
                                            / (111000.0 * greatest(cos(radians($9::float8)), 0.01)) > 180)
                                    AND 2 * 6378168 * asin(sqrt(
                                      sin(radians(s.lat - $9::float8) / 2) ^ 2
                                      + cos(radians($9::float8)) * cos(radians(s.lat))
                                        * sin(radians(s.lon - $10::float8) / 2) ^ 2)) <= $11::float8))
                           AND ($13::float8 IS NULL
                                OR (2 * 6378168 * asin(sqrt(
                             sin(radians(s.lat - $9::float8) / 2) ^ 2
                             + cos(radians($9::float8)) * cos(radians(s.lat))
                               * sin(radians(s.lon - $10::float8) / 2) ^ 2)),
                                    s.event_id) > ($13::float8, $14::text))
                         ORDER BY 2, s.event_id
                         LIMIT $15
                       )
                       SELECT s.event_id AS "id!", e.name AS "name!", e.performers AS "performers!",
                         s.venue_id AS "venue_id!", v.name AS "venue_name!", s.city AS "city!",
                         s.country AS "country!", v.timezone AS "timezone!",
                         s.starts_at AS "starts_at!", s.local_start AS "local_start!",
                         s.genre AS "genre!", s.status AS "status!",
                         s.sale_opens_at AS "sale_opens_at?", s.sold_out AS "sold_out!",
                         s.price_min AS "price_min?", s.price_max AS "price_max?",
                         s.currency AS "currency?",
                         CASE WHEN $9::float8 IS NULL THEN NULL
                           ELSE earth_distance(search_earth($9::float8, $10::float8),
                             search_earth(s.lat, s.lon)) / 1000 END AS "distance_km?", NULL::real AS "rank?", page.knn AS "knn?"
                       FROM page
                       JOIN event_search s ON s.event_id = page.event_id
                       JOIN events e ON e.id = s.event_id
                       JOIN venues v ON v.id = s.venue_id
                       ORDER BY page.knn, page.event_id"#,
                    f.tsquery.as_deref(),
                    f.city,
                    f.venue,
                    f.country,
                    f.genre,
                    f.from,
                    f.to,
                    f.on_sale,
                    f.lat,
                    f.lon,
                    f.radius_m,
                    f.now,
                    after.and_then(|a| a.distance),
                    after.map(|a| a.id.as_str()),
                    limit
                )
                .fetch_all(&self.db)
                .await?
            }
        };
        Ok(rows)
    }

    async fn facets(&self, f: &Filters<'_>) -> Result<Facets, SearchError> {
        let rows = sqlx::query!(
            r#"WITH cand AS (
                 SELECT s.city, s.genre, s.local_start
                 FROM event_search s
                 WHERE s.status <> 'cancelled'
                           AND ($1::text IS NULL OR s.doc @@ $1::text::tsquery)
                           AND ($2::text IS NULL OR s.city_key = search_norm($2::text))
                           AND ($3::text IS NULL OR s.venue_id = $3::text)
                           AND ($4::text IS NULL OR s.country = $4::text)
                           AND ($5::text IS NULL OR s.genre_key = search_norm($5::text))
                           AND s.starts_at >= COALESCE(($6::date - 1)::timestamp AT TIME ZONE 'UTC',
                                                       $12::timestamptz)
                           AND ($6::date IS NULL OR s.local_start >= $6::date)
                           AND ($7::date IS NULL
                                OR (s.starts_at < ($7::date + 2)::timestamp AT TIME ZONE 'UTC'
                                    AND s.local_start < $7::date + 1))
                           AND ($8::bool IS NOT TRUE OR s.sale_opens_at <= $12::timestamptz)
                           AND ($9::float8 IS NULL
                                OR (s.lat BETWEEN $9::float8 - $11::float8 / 111000.0
                                              AND $9::float8 + $11::float8 / 111000.0
                                    AND (s.lon BETWEEN $10::float8 - $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                             AND $10::float8 + $11::float8
                                                 / (111000.0 * greatest(cos(radians($9::float8)), 0.01))
                                         OR abs($10::float8) + $11::float8
                                            / (111000.0 * greatest(cos(radians($9::float8)), 0.01)) > 180)
                                    AND 2 * 6378168 * asin(sqrt(
                                      sin(radians(s.lat - $9::float8) / 2) ^ 2
                                      + cos(radians($9::float8)) * cos(radians(s.lat))
                                        * sin(radians(s.lon - $10::float8) / 2) ^ 2)) <= $11::float8))
                 ORDER BY s.starts_at, s.event_id
                 LIMIT $13
               )
               SELECT 'total' AS "kind!", '' AS "value!", count(*) AS "n!" FROM cand
               UNION ALL (SELECT 'city', city, count(*) FROM cand
                          GROUP BY city ORDER BY count(*) DESC, city LIMIT 10)
               UNION ALL (SELECT 'genre', genre, count(*) FROM cand WHERE genre <> ''
                          GROUP BY genre ORDER BY count(*) DESC, genre LIMIT 10)
               UNION ALL (SELECT 'month', to_char(local_start, 'YYYY-MM'), count(*) FROM cand
                          GROUP BY 2 ORDER BY 2 LIMIT 24)"#,
            f.tsquery.as_deref(),
            f.city,
            f.venue,
            f.country,
            f.genre,
            f.from,
            f.to,
            f.on_sale,
            f.lat,
            f.lon,
            f.radius_m,
            f.now,
            FACET_BOUND + 1
        )
        .fetch_all(&self.db)
        .await?;
        let mut facets = Facets {
            complete: true,
            counted: 0,
            bound: FACET_BOUND,
            city: Vec::new(),
            genre: Vec::new(),
            month: Vec::new(),
        };
        for row in rows {
            let count = FacetCount {
                value: row.value,
                count: row.n,
            };
            match row.kind.as_str() {
                "total" => {
                    facets.complete = row.n <= FACET_BOUND;
                    facets.counted = row.n;
                }
                "city" => facets.city.push(count),
                "genre" => facets.genre.push(count),
                _ => facets.month.push(count),
            }
        }
        Ok(facets)
    }

    async fn run(&self, query: &EngineQuery) -> Result<EngineAnswer, SearchError> {
        let p = &query.params;
        let (tsquery, corrected) = match &p.text {
            Some(text) => {
                let (q, corrected) = self.understand(text).await?;
                (Some(q), corrected)
            }
            None => (None, None),
        };
        let filters = Filters {
            tsquery,
            city: p.city.as_deref(),
            venue: p.venue.as_deref(),
            country: p.country.as_deref(),
            genre: p.genre.as_deref(),
            from: p.from,
            to: p.to,
            on_sale: p.on_sale,
            lat: p.near.map(|n| n.lat),
            lon: p.near.map(|n| n.lon),
            radius_m: p.near.map(|n| n.radius_km * 1000.0),
            now: query.now,
        };
        let (rows, facets) = if query.facets {
            let (rows, facets) =
                futures::try_join!(self.page(&filters, query), self.facets(&filters))?;
            (rows, Some(facets))
        } else {
            (self.page(&filters, query).await?, None)
        };
        Ok(EngineAnswer {
            hits: rows
                .into_iter()
                .map(|row| row.into_hit(query.now))
                .collect(),
            facets,
            corrected,
        })
    }

    async fn suggestions(&self, text: &str, limit: u32) -> Result<Vec<Suggestion>, SearchError> {
        let norm = sqlx::query_scalar!(r#"SELECT search_norm($1) AS "norm!""#, text)
            .fetch_one(&self.db)
            .await?;
        if norm.is_empty() {
            return Ok(Vec::new());
        }
        let mut found = self.prefixed(&norm, limit).await?;
        if found.len() < limit as usize && norm.chars().count() >= 3 {
            // A typo: correct the words, then look again; and names that
            // look alike.
            let mut words: Vec<String> = norm.split(' ').map(str::to_string).collect();
            let mut changed = false;
            for word in &mut words {
                if typo::allowed_edits(word.chars().count()) == 0 {
                    continue;
                }
                if let Some(fix) = self.corrections(word).await?.into_iter().next() {
                    *word = fix;
                    changed = true;
                }
            }
            if changed {
                for s in self.prefixed(&words.join(" "), limit).await? {
                    if !found.contains(&s) {
                        found.push(s);
                    }
                }
            }
            let similar = sqlx::query!(
                r#"SELECT kind AS "kind!", label AS "label!" FROM search_similar_names($1, $2)"#,
                norm,
                limit as i32
            )
            .fetch_all(&self.db)
            .await?;
            for s in similar {
                let s = Suggestion {
                    kind: s.kind,
                    label: s.label,
                };
                if !found.contains(&s) {
                    found.push(s);
                }
            }
        }
        found.truncate(limit as usize);
        Ok(found)
    }

    /// Names with a word starting with `prefix` (normalised), most used
    /// first.
    async fn prefixed(&self, prefix: &str, limit: u32) -> Result<Vec<Suggestion>, SearchError> {
        // The normalised text has only letters, digits and spaces: nothing
        // LIKE would read as a wildcard.
        let pattern = format!("{prefix}%");
        let rows = sqlx::query!(
            r#"SELECT n.kind AS "kind!", n.label AS "label!"
               FROM search_names n
               WHERE n.key LIKE $1
               GROUP BY n.kind, n.label
               ORDER BY max(n.freq) DESC, n.label
               LIMIT $2"#,
            pattern,
            i64::from(limit)
        )
        .fetch_all(&self.db)
        .await?;
        Ok(rows
            .into_iter()
            .map(|r| Suggestion {
                kind: r.kind,
                label: r.label,
            })
            .collect())
    }
}

impl SearchEngine for PgEngine {
    fn search<'a>(
        &'a self,
        query: &'a EngineQuery,
    ) -> BoxFuture<'a, Result<EngineAnswer, SearchError>> {
        self.run(query).boxed()
    }

    fn suggest<'a>(
        &'a self,
        text: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Suggestion>, SearchError>> {
        self.suggestions(text, limit).boxed()
    }
}
