//! Event search: find a show by artist, place and date, typos forgiven.
//!
//! - [`query`]: the query string, checked (the bad-input matrix), nothing
//!   else.
//! - [`cache`]: whole answers kept for their `max-age` (bounded,
//!   single-flight, dropped at once when the catalog changes).
//! - [`rendered`]: an answer's JSON and ETag, made once (what the cache
//!   keeps and a hit sends).
//! - [`cursor`]: the opaque, signed keyset cursor.
//! - [`typo`]: edit distance and candidate corrections, engine-free.
//! - [`pg`]: the PostgreSQL engine (full text with weighted fields,
//!   pg_trgm and unaccent, the lexicon for corrections, facets over a
//!   bounded candidate set).
//!
//! [`SearchEngine`] is the one seam: a dedicated engine (OpenSearch,
//! Meilisearch, ...) fed from PostgreSQL can take over behind it. [`Search`]
//! is what the HTTP layer calls: it parses, decodes the cursor, answers a
//! first page or a suggestion from the cache when it can, else asks the
//! engine within a time limit, and signs the next cursor.

pub mod cache;
pub mod cursor;
pub mod pg;
pub mod query;
pub mod rendered;
pub mod typo;

use crate::clock::Clock;
use cache::{AnswerCache, CacheConfig, CacheStats, Served};
use chrono::{DateTime, NaiveDateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use query::SearchParams;
use rendered::Rendered;
use serde::Serialize;
use std::sync::Arc;
use std::time::Duration;

/// Longest a search or a suggestion may take before it is given up (503).
pub const SEARCH_TIMEOUT: Duration = Duration::from_secs(2);

/// Pages a page after the first is read with: it and the ones after it
/// are one engine search (the candidates matched and ranked once), and the
/// ones after it are kept in the cache under the cursors that lead to them.
pub const READ_AHEAD_PAGES: u32 = 4;

/// Why a search failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// Bad input: a code and a message for the fan (400).
    #[error("{1}")]
    Invalid(&'static str, String),
    #[error("the search took too long")]
    Timeout,
    /// An answer that could not be written as JSON (a bug).
    #[error("the answer could not be written: {0}")]
    Encode(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// How results are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Sort {
    /// Best match first (text searches only), then soonest.
    Relevance,
    /// Soonest first.
    #[default]
    Date,
    /// Nearest first (needs `near`).
    Distance,
}

/// Near a point, within a radius.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Near {
    pub lat: f64,
    pub lon: f64,
    pub radius_km: f64,
}

/// The sort key of the last hit of a page: the next page starts after it.
#[derive(Debug, Clone, PartialEq)]
pub struct After {
    pub rank: Option<f32>,
    /// The engine's distance key (not necessarily kilometres).
    pub distance: Option<f64>,
    pub starts_at: DateTime<Utc>,
    pub id: String,
}

/// What an engine is asked.
#[derive(Debug, Clone)]
pub struct EngineQuery {
    pub params: SearchParams,
    pub after: Option<After>,
    pub now: DateTime<Utc>,
    /// Count facets (the first page only).
    pub facets: bool,
}

/// What an engine answers: up to `limit + 1` hits (one more tells there is
/// a next page), each with its sort key.
#[derive(Debug, Clone)]
pub struct EngineAnswer {
    pub hits: Vec<(Hit, After)>,
    pub facets: Option<Facets>,
    /// The text as searched after typo correction, when it was corrected.
    pub corrected: Option<String>,
}

/// One event found.
#[derive(Debug, Clone, Serialize)]
pub struct Hit {
    pub id: String,
    pub name: String,
    pub performers: Vec<String>,
    pub venue: HitVenue,
    pub starts_at: DateTime<Utc>,
    /// The wall-clock start at the venue (in `venue.timezone`).
    pub local_start: NaiveDateTime,
    pub genre: String,
    /// The event's own status (`scheduled`, `on_sale`, `postponed`, ...).
    pub status: String,
    pub sale: SaleSummary,
    pub price: Option<PriceRange>,
    /// From `near`, when given.
    pub distance_km: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HitVenue {
    pub id: String,
    pub name: String,
    pub city: String,
    pub country: String,
    pub timezone: String,
}

/// Whether tickets can be had: `on_sale` (a sale is open: join its line),
/// `not_yet_open` (opens at `opens_at`), `sold_out`, or `none` (no sale).
#[derive(Debug, Clone, Serialize)]
pub struct SaleSummary {
    pub state: &'static str,
    pub opens_at: Option<DateTime<Utc>>,
}

impl SaleSummary {
    pub fn new(opens_at: Option<DateTime<Utc>>, sold_out: bool, now: DateTime<Utc>) -> Self {
        let state = match opens_at {
            Some(at) if at <= now => "on_sale",
            Some(_) => "not_yet_open",
            None if sold_out => "sold_out",
            None => "none",
        };
        Self { state, opens_at }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct PriceRange {
    pub min_cents: i64,
    pub max_cents: i64,
    pub currency: String,
}

/// Counts per city, genre and month (venue time) of the current search.
/// Counted over at most `bound` matches, the soonest: `complete` says
/// whether that was all of them.
#[derive(Debug, Clone, Serialize)]
pub struct Facets {
    pub complete: bool,
    pub counted: i64,
    pub bound: i64,
    pub city: Vec<FacetCount>,
    pub genre: Vec<FacetCount>,
    pub month: Vec<FacetCount>,
}

#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq, Eq)]
pub struct FacetCount {
    pub value: String,
    pub count: i64,
}

/// One suggestion as a fan types.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Suggestion {
    /// `performer`, `venue` or `city`.
    pub kind: String,
    pub label: String,
}

/// A search engine: the one seam between the API and where the catalog is
/// indexed.
pub trait SearchEngine: Send + Sync + 'static {
    fn search<'a>(
        &'a self,
        query: &'a EngineQuery,
    ) -> BoxFuture<'a, Result<EngineAnswer, SearchError>>;

    fn suggest<'a>(
        &'a self,
        text: &'a str,
        limit: u32,
    ) -> BoxFuture<'a, Result<Vec<Suggestion>, SearchError>>;

    /// The catalog's change generation: it moves whenever anything a search
    /// answer is made of changes (`None`: the engine cannot tell, cached
    /// answers then only expire by age). Read before each search so a
    /// cached answer older than a committed change is never served.
    fn generation(&self) -> BoxFuture<'_, Result<Option<i64>, SearchError>> {
        async { Ok(None) }.boxed()
    }
}

/// `GET /api/events`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct SearchResponse {
    pub events: Vec<Hit>,
    pub facets: Option<Facets>,
    pub next_cursor: Option<String>,
    pub corrected: Option<String>,
    pub sort: Sort,
}

/// `GET /api/events/suggest`'s answer.
#[derive(Debug, Clone, Serialize)]
pub struct SuggestResponse {
    pub suggestions: Vec<Suggestion>,
}

/// Search as the API offers it, over an engine.
#[derive(Clone)]
pub struct Search {
    engine: Arc<dyn SearchEngine>,
    cursor_key: Arc<[u8]>,
    clock: Arc<dyn Clock>,
    /// First pages (with their facets), and later pages read ahead (keyed
    /// by the cursor that leads to them).
    pages: Arc<AnswerCache<Rendered<SearchResponse>>>,
    suggestions: Arc<AnswerCache<Rendered<SuggestResponse>>>,
}

/// The cache counters of first pages and of suggestions.
#[derive(Debug, Clone, Copy, Default)]
pub struct SearchCacheStats {
    pub pages: CacheStats,
    pub suggestions: CacheStats,
}

impl Search {
    /// Search over an engine, with the default answer cache.
    pub fn new(engine: Arc<dyn SearchEngine>, cursor_key: &[u8], clock: Arc<dyn Clock>) -> Self {
        Self::with_cache(engine, cursor_key, clock, CacheConfig::default())
    }

    /// Search with its answer cache bounded by `cache` (for the first pages;
    /// suggestions get an eighth of the bytes).
    pub fn with_cache(
        engine: Arc<dyn SearchEngine>,
        cursor_key: &[u8],
        clock: Arc<dyn Clock>,
        cache: CacheConfig,
    ) -> Self {
        Self {
            engine,
            cursor_key: cursor_key.into(),
            clock,
            pages: AnswerCache::new(cache),
            suggestions: AnswerCache::new(CacheConfig {
                entries: cache.entries,
                bytes: cache.bytes / 8,
            }),
        }
    }

    pub fn cache_stats(&self) -> SearchCacheStats {
        SearchCacheStats {
            pages: self.pages.stats(),
            suggestions: self.suggestions.stats(),
        }
    }

    /// The engine's generation when a cache will be consulted.
    async fn generation(&self, cache_on: bool) -> Result<Option<i64>, SearchError> {
        if !cache_on {
            return Ok(None);
        }
        tokio::time::timeout(SEARCH_TIMEOUT, self.engine.generation())
            .await
            .map_err(|_| SearchError::Timeout)?
    }

    /// Runs the search a raw query string asks for.
    pub async fn search(&self, raw: Option<&str>) -> Result<SearchResponse, SearchError> {
        Ok(self.search_served(raw).await?.0.value.clone())
    }

    /// The search a raw query string asks for (with its JSON and ETag), and
    /// how it was served.
    pub async fn search_served(
        &self,
        raw: Option<&str>,
    ) -> Result<(Arc<Rendered<SearchResponse>>, Served), SearchError> {
        let mut params = query::parse_search(raw)?;
        let fingerprint = params.fingerprint();
        let cursor = params.cursor.take();
        let after = match &cursor {
            Some(c) => Some(cursor::decode(&self.cursor_key, &fingerprint, c)?),
            None => None,
        };
        let query = EngineQuery {
            facets: after.is_none(),
            after,
            now: self.clock.now(),
            params,
        };
        // A first page alone; a later one with the pages after it (when
        // they can be kept).
        let pages = if cursor.is_some() && self.pages.enabled() {
            READ_AHEAD_PAGES
        } else {
            1
        };
        let run = {
            let (engine, key) = (self.engine.clone(), self.cursor_key.clone());
            let (query, fingerprint) = (query.clone(), fingerprint.clone());
            async move { answer(engine.as_ref(), &key, &fingerprint, &query, pages).await }
        };
        if !self.pages.enabled() {
            let (first, _) = run.await?;
            return Ok((Arc::new(first), Served::Uncached));
        }
        // The cursors a page carries are bound to the fingerprint, so the
        // key is the fingerprint (text as given, trimmed), the limit and
        // the cursor that leads to the page.
        let limit = query.params.limit;
        let key = move |fingerprint: &str, cursor: &str| format!("{limit}|{fingerprint}|{cursor}");
        let generation = self.generation(true).await?;
        let Some(cursor) = cursor else {
            let run = async move { Ok(run.await?.0) }.boxed();
            return self
                .pages
                .get_or_compute(
                    key(&fingerprint, ""),
                    generation,
                    query.now,
                    run,
                    Rendered::bytes,
                )
                .await;
        };
        // A later page: read ahead with an earlier one, or computed here
        // (not kept: a cursor is rarely followed twice) with the pages
        // after it, which are kept under the cursors that lead to them.
        if let Some(hit) = self
            .pages
            .get(&key(&fingerprint, &cursor), generation, query.now)
        {
            return Ok(hit);
        }
        let (first, ahead) = run.await?;
        for (cursor, page) in ahead {
            let bytes = page.bytes();
            self.pages.put(
                key(&fingerprint, &cursor),
                generation,
                query.now,
                page,
                bytes,
            );
        }
        Ok((Arc::new(first), Served::Uncached))
    }

    /// Suggestions for what a fan is typing.
    pub async fn suggest(&self, raw: Option<&str>) -> Result<SuggestResponse, SearchError> {
        Ok(self.suggest_served(raw).await?.0.value.clone())
    }

    /// Suggestions for what a fan is typing (with their JSON and ETag), and
    /// how they were served.
    pub async fn suggest_served(
        &self,
        raw: Option<&str>,
    ) -> Result<(Arc<Rendered<SuggestResponse>>, Served), SearchError> {
        let (text, limit) = query::parse_suggest(raw)?;
        let key = format!("{limit}|{text}");
        let engine = self.engine.clone();
        let run = async move {
            let suggestions = tokio::time::timeout(SEARCH_TIMEOUT, engine.suggest(&text, limit))
                .await
                .map_err(|_| SearchError::Timeout)??;
            Rendered::new(SuggestResponse { suggestions })
        }
        .boxed();
        let generation = self.generation(self.suggestions.enabled()).await?;
        self.suggestions
            .get_or_compute(key, generation, self.clock.now(), run, Rendered::bytes)
            .await
    }
}

/// Pages answered as the API sends them, from one search asked of the
/// engine within the time limit: the one asked, and up to `pages - 1`
/// after it, each with the cursor that leads to it. Every page's next
/// cursor is signed.
async fn answer(
    engine: &dyn SearchEngine,
    cursor_key: &[u8],
    fingerprint: &str,
    query: &EngineQuery,
    pages: u32,
) -> Result<
    (
        Rendered<SearchResponse>,
        Vec<(String, Rendered<SearchResponse>)>,
    ),
    SearchError,
> {
    let limit = query.params.limit as usize;
    let mut asked = query.clone();
    asked.params.limit = query.params.limit.saturating_mul(pages.max(1));
    let answer = tokio::time::timeout(SEARCH_TIMEOUT, engine.search(&asked))
        .await
        .map_err(|_| SearchError::Timeout)??;
    let mut hits = answer.hits.into_iter().peekable();
    let mut facets = answer.facets;
    let mut first = None;
    let mut ahead = Vec::new();
    let mut leading: Option<String> = None;
    for _ in 0..pages.max(1) {
        let page: Vec<(Hit, After)> = hits.by_ref().take(limit).collect();
        let next_cursor = match (hits.peek(), page.last()) {
            (Some(_), Some((_, after))) => Some(cursor::encode(cursor_key, fingerprint, after)),
            _ => None,
        };
        let response = Rendered::new(SearchResponse {
            events: page.into_iter().map(|(hit, _)| hit).collect(),
            facets: facets.take(),
            next_cursor: next_cursor.clone(),
            corrected: answer.corrected.clone(),
            sort: query.params.sort,
        })?;
        match leading.take() {
            None => first = Some(response),
            Some(cursor) => ahead.push((cursor, response)),
        }
        match next_cursor {
            Some(c) => leading = Some(c),
            None => break,
        }
    }
    let first = first.ok_or_else(|| SearchError::Encode("no page".into()))?;
    Ok((first, ahead))
}
