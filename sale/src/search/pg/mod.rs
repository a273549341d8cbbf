//! The PostgreSQL engine: one denormalised row per event (`event_search`,
//! kept by triggers, migration 0006) searched with a weighted tsvector,
//! filters on indexed columns, the earth's surface for `near`.
//!
//! - [`text`]: what a text means (its words, corrected against the lexicon)
//!   and suggestions as a fan types.
//! - [`page`]: one statement per search: a page of hits and, on the first
//!   page, the facet counts.
//!
//! How a text is searched: it is normalised (unaccented, lower case, split
//! into words) by PostgreSQL's `search_norm`; a word the lexicon
//! (`search_words`) does not know is corrected to the closest known words
//! (one-edit variants looked up exactly, and trigram neighbours, fetched in
//! one statement, `search_understand`; ranked in [`super::typo`]), or else
//! taken as a prefix; the words are AND-ed. So a search is one round trip,
//! two with a text.
//!
//! What keeps it fast at a million events: relevance is ranked over at most
//! [`CANDIDATES`] matches (the soonest), never over all of them; facets are
//! counted over at most [`FACET_BOUND`] + 1 (and say so), the same rows the
//! page is taken from; date and distance sorts walk an index and stop at
//! the page. `near` (migration 0014) reads the neighbourhood, never a band
//! around the earth: sorted by date (and for the facets) it walks the
//! half-degree grid cells the point's box covers, each soonest first in a
//! covering btree, stopping at the bound (`search_cells`, folded to a
//! constant at planning; more than 64 cells, the antimeridian or a pole
//! take the general path); sorted by distance, a nearest-neighbour walk of
//! a GiST index on the point (flat degrees, `<->`, at most 2,000 points)
//! finds the page's count of matches, the farthest of them by the
//! great-circle distance bounds the page, and the matches within that
//! bound (a small box, the same index) are ordered exactly. Both keep the
//! exact great-circle filter. The filter and the distance are written once, as SQL
//! functions PostgreSQL inlines (`search_filter`, `search_distance_m`,
//! migration 0009), so each query plans as if they were written out in it.
//! Every query is planned with its actual values (see [`PgEngine::connect`]),
//! so the filters left out cost nothing and the planner sees each constant.
//! The functions PostgreSQL cannot inline (`search_understand`,
//! `search_facets`, the trigram neighbours, `search_cells`) are PL/pgSQL
//! (migration 0016): their plans are kept per connection (generic, set on
//! each function), where a `LANGUAGE sql` body is planned on every call.

mod page;
mod text;

use super::{EngineAnswer, EngineQuery, SearchEngine, SearchError, Suggestion};
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use sqlx::PgPool;

/// Most matches counted for facets (the soonest ones; one more is read to
/// tell whether that was all).
pub const FACET_BOUND: i64 = 1000;
/// Most matches ranked by relevance (the soonest ones): the facets' rows.
pub const CANDIDATES: i64 = FACET_BOUND + 1;

/// Connections of the suggestions' own pool.
pub const SUGGEST_CONNECTIONS: u32 = 2;

/// Searches the catalog in PostgreSQL.
#[derive(Clone)]
pub struct PgEngine {
    db: PgPool,
    /// Suggestions' own connections: a fan typing (a few milliseconds a
    /// statement) never queues behind the searches holding `db`.
    suggest_db: PgPool,
    /// Two connections of their own for the change generation (read
    /// before every cached answer is served): a cache hit never waits
    /// behind the searches holding `db`.
    generation_db: PgPool,
}

impl PgEngine {
    /// An engine over its own pools (a replica's URL, or the primary's):
    /// search load is bounded by `connections` (and
    /// [`SUGGEST_CONNECTIONS`] for suggestions) and never takes the order
    /// path's connections. Every statement is planned with its actual
    /// values (`plan_cache_mode = force_custom_plan`: the filters left out
    /// cost nothing), never JIT-compiled (compiling takes longer than any
    /// of these queries runs) and is cancelled after
    /// [`super::SEARCH_TIMEOUT`].
    pub async fn connect(url: &str, connections: u32) -> anyhow::Result<Self> {
        use anyhow::Context;
        let generation_db = sqlx::postgres::PgPoolOptions::new()
            .max_connections(2)
            .acquire_timeout(std::time::Duration::from_secs(1))
            .connect_lazy(url)
            .context("the search database's URL")?;
        Ok(Self {
            db: search_pool(url, connections)?,
            suggest_db: search_pool(url, SUGGEST_CONNECTIONS)?,
            generation_db,
        })
    }
}

/// A pool whose statements are planned with their values, never
/// JIT-compiled and cancelled after [`super::SEARCH_TIMEOUT`].
fn search_pool(url: &str, connections: u32) -> anyhow::Result<PgPool> {
    use anyhow::Context;
    use sqlx::Executor;
    let timeout_ms = super::SEARCH_TIMEOUT.as_millis();
    sqlx::postgres::PgPoolOptions::new()
        .max_connections(connections)
        .acquire_timeout(std::time::Duration::from_secs(1))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                conn.execute(
                    format!(
                        "SET plan_cache_mode = force_custom_plan; SET jit = off; \
                         SET statement_timeout = {timeout_ms}"
                    )
                    .as_str(),
                )
                .await?;
                Ok(())
            })
        })
        .connect_lazy(url)
        .context("the search database's URL")
}

/// The filter values as the queries take them (`search_filter`'s
/// arguments).
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
        let (hits, facets) = self.page(&filters, query).await?;
        Ok(EngineAnswer {
            hits,
            facets,
            corrected,
        })
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

    /// `search_generation` (migration 0011): moved by every statement that
    /// writes the search tables.
    fn generation(&self) -> BoxFuture<'_, Result<Option<i64>, SearchError>> {
        async move {
            let n = sqlx::query_scalar!(r#"SELECT last_value AS "n!" FROM search_generation"#)
                .fetch_one(&self.generation_db)
                .await?;
            Ok(Some(n))
        }
        .boxed()
    }
}
