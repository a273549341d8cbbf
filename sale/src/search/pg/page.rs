//! One statement per search: the matches (`search_filter`, inlined),
//! ordered by relevance, date or distance, a page of them read through
//! `search_hits`, and on the first page the facet counts of the same
//! bounded candidates (`search_facets`), returned as JSON beside each hit.
//! An empty page has empty facets: no match is among the candidates.
//!
//! By relevance, a text of common words takes its candidates from the
//! postings of its rarest word in time order (`search_postings`, migration
//! 0017), each checked against the whole search, and hands over to the GIN
//! when its words seldom come together: the same candidates, in about
//! 1,001 rows instead of every match or every event in date order. The
//! walk is a PL/pgSQL function (`search_walk`, migration 0019) whose plans
//! each connection keeps: the statement plans one function scan.
//!
//! Near a point (without a text) the soonest matches are taken cell by
//! cell (`search_cells`, `event_search_by_cell`): each branch of a
//! `UNION ALL` is planned only when its case holds (the cells fold to a
//! constant array, or to NULL), so a search not near a point plans exactly
//! as before. Nearest first: a nearest-neighbour walk of the point index
//! (`event_search_by_point`, flat degrees, over at most the 2,000 nearest
//! points) takes the page's count of matches; the farthest of them by the
//! great-circle distance (or the radius, when fewer match) bounds the
//! page; the matches within that distance, a small box of the same index,
//! are ordered exactly by distance and id (the cursor keeps the distance).

use super::super::{
    After, EngineQuery, FacetCount, Facets, Hit, HitVenue, PriceRange, SaleSummary, SearchError,
    Sort,
};
use super::{Filters, PgEngine, CANDIDATES, FACET_BOUND};
use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Deserialize;

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
    /// `search_facets`' JSON, when facets were asked for.
    facets: Option<String>,
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

/// `search_facets`' answer.
#[derive(Deserialize)]
struct FacetJson {
    counted: i64,
    city: Vec<FacetCount>,
    genre: Vec<FacetCount>,
    month: Vec<FacetCount>,
}

fn facets(json: Option<&str>) -> Result<Facets, SearchError> {
    let counts = match json {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            SearchError::Database(sqlx::Error::Decode(
                format!("search_facets answered {json}: {e}").into(),
            ))
        })?,
        None => FacetJson {
            counted: 0,
            city: Vec::new(),
            genre: Vec::new(),
            month: Vec::new(),
        },
    };
    Ok(Facets {
        complete: counts.counted <= FACET_BOUND,
        counted: counts.counted,
        bound: FACET_BOUND,
        city: counts.city,
        genre: counts.genre,
        month: counts.month,
    })
}

impl PgEngine {
    /// Up to `limit + 1` hits with their sort keys, and the facets when the
    /// query asks for them.
    pub(super) async fn page(
        &self,
        f: &Filters<'_>,
        query: &EngineQuery,
    ) -> Result<(Vec<(Hit, After)>, Option<Facets>), SearchError> {
        let limit = i64::from(query.params.limit) + 1;
        let after = query.after.as_ref();
        // Rows counted for facets (none: not asked).
        let facet_rows = if query.facets { FACET_BOUND + 1 } else { 0 };
        let rows = match query.params.sort {
            // The CANDIDATES soonest matches ranked; the facets count them.
            // A text alone whose rarest word is common walks the postings
            // of that word (`search_walk`, at most 2 × CANDIDATES postings,
            // migrations 0017 and 0019: its plans kept per connection, not
            // made again with every statement) when half its first
            // CANDIDATES / 5 match; when it does not, or the walk neither
            // found the candidates nor read all the word's postings, it
            // answers a row of NULLs and the GIN path runs (the second
            // branch, planned but run only then). Without a text, or with
            // other filters, `search_walk_words` folds to NULL: the walk is
            // neither planned nor called and the statement plans as before.
            Sort::Relevance => {
                sqlx::query_as!(
                    HitRow,
                    r#"WITH walk AS MATERIALIZED (
                     -- The walk of the rarest word's postings (migration
                     -- 0019): the candidates, or a row of NULLs.
                     SELECT w.event_id, w.starts_at, w.rank, w.city, w.genre, w.local_start
                     FROM search_walk($1, search_walk_words($1, $2, $3, $4, $5, $8, $9),
                       $6, $7, $12, $17) w
                     WHERE search_walk_words($1, $2, $3, $4, $5, $8, $9) IS NOT NULL
                   ), cand AS MATERIALIZED (
                     SELECT walk.event_id, walk.starts_at, walk.rank, walk.city, walk.genre,
                       walk.local_start
                     FROM walk
                     WHERE walk.event_id IS NOT NULL
                     UNION ALL
                     (SELECT m.event_id, m.starts_at, ts_rank(m.doc, $1::text::tsquery) AS rank,
                        m.city, m.genre, m.local_start
                      FROM event_search m
                      WHERE (search_walk_words($1, $2, $3, $4, $5, $8, $9) IS NULL
                             OR EXISTS (SELECT 1 FROM walk WHERE walk.event_id IS NULL))
                        AND search_filter(m, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                      ORDER BY m.starts_at, m.event_id
                      LIMIT $17)
                   ), page AS (
                     SELECT cand.event_id, cand.starts_at, cand.rank FROM cand
                     WHERE $13::real IS NULL OR cand.rank < $13::real
                       OR (cand.rank = $13::real
                           AND (cand.starts_at, cand.event_id) > ($14::timestamptz, $15::text))
                     ORDER BY cand.rank DESC, cand.starts_at, cand.event_id
                     LIMIT $16
                   )
                   SELECT h.id AS "id!", h.name AS "name!", h.performers AS "performers!",
                     h.venue_id AS "venue_id!", h.venue_name AS "venue_name!", h.city AS "city!",
                     h.country AS "country!", h.timezone AS "timezone!",
                     h.starts_at AS "starts_at!", h.local_start AS "local_start!",
                     h.genre AS "genre!", h.status AS "status!",
                     h.sale_opens_at AS "sale_opens_at?", h.sold_out AS "sold_out!",
                     h.price_min AS "price_min?", h.price_max AS "price_max?",
                     h.currency AS "currency?",
                     search_distance_m($9, $10, h.lat, h.lon) / 1000 AS "distance_km?",
                     page.rank AS "rank?", NULL::float8 AS "knn?",
                     CASE WHEN $18::bigint > 0 THEN (SELECT search_facets(array_agg(cand.city),
                       array_agg(cand.genre), array_agg(cand.local_start)) FROM cand)::text
                     END AS "facets?"
                   FROM page
                   JOIN search_hits h ON h.id = page.event_id
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
                    CANDIDATES,
                    facet_rows
                )
                .fetch_all(&self.db)
                .await?
            }
            // The page is the head of the facets' rows (the first page has
            // no cursor).
            Sort::Date => {
                sqlx::query_as!(
                    HitRow,
                    r#"WITH cand AS MATERIALIZED (
                     (SELECT s.event_id, s.starts_at, s.city, s.genre, s.local_start
                      FROM event_search s
                      WHERE ($1::text IS NOT NULL OR search_cells($9, $10, $11) IS NULL)
                        AND search_filter(s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                        AND ($13::timestamptz IS NULL
                             OR (s.starts_at, s.event_id) > ($13::timestamptz, $14::text))
                      ORDER BY s.starts_at, s.event_id
                      LIMIT greatest($15::bigint, $16::bigint))
                     UNION ALL
                     (SELECT c.event_id, c.starts_at, c.city, c.genre, c.local_start
                      FROM unnest(CASE WHEN $1::text IS NULL THEN search_cells($9, $10, $11) END) AS g(cell)
                      CROSS JOIN LATERAL (
                        SELECT s.event_id, s.starts_at, s.city, s.genre, s.local_start
                        FROM event_search s
                        WHERE $1::text IS NULL AND search_cells($9, $10, $11) IS NOT NULL
                          AND search_cell(s.lat, s.lon) = g.cell
                          AND search_filter(s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                          AND ($13::timestamptz IS NULL
                               OR (s.starts_at, s.event_id) > ($13::timestamptz, $14::text))
                        ORDER BY s.starts_at, s.event_id
                        LIMIT greatest($15::bigint, $16::bigint)
                      ) c
                      ORDER BY c.starts_at, c.event_id
                      LIMIT greatest($15::bigint, $16::bigint))
                   ), page AS (
                     SELECT cand.event_id, cand.starts_at FROM cand
                     ORDER BY cand.starts_at, cand.event_id
                     LIMIT $15
                   )
                   SELECT h.id AS "id!", h.name AS "name!", h.performers AS "performers!",
                     h.venue_id AS "venue_id!", h.venue_name AS "venue_name!", h.city AS "city!",
                     h.country AS "country!", h.timezone AS "timezone!",
                     h.starts_at AS "starts_at!", h.local_start AS "local_start!",
                     h.genre AS "genre!", h.status AS "status!",
                     h.sale_opens_at AS "sale_opens_at?", h.sold_out AS "sold_out!",
                     h.price_min AS "price_min?", h.price_max AS "price_max?",
                     h.currency AS "currency?",
                     search_distance_m($9, $10, h.lat, h.lon) / 1000 AS "distance_km?",
                     NULL::real AS "rank?", NULL::float8 AS "knn?",
                     CASE WHEN $16::bigint > 0 THEN (SELECT search_facets(array_agg(cand.city),
                       array_agg(cand.genre), array_agg(cand.local_start)) FROM cand)::text
                     END AS "facets?"
                   FROM page
                   JOIN search_hits h ON h.id = page.event_id
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
                    limit,
                    facet_rows
                )
                .fetch_all(&self.db)
                .await?
            }
            // Nearest first within the box (the GiST walk); the facets
            // count the soonest (cell by cell).
            Sort::Distance => {
                sqlx::query_as!(
                    HitRow,
                    r#"WITH approx AS (
                     SELECT search_distance_m($9, $10, s.lat, s.lon) AS d
                     FROM (SELECT * FROM event_search s
                           ORDER BY point(s.lon, s.lat) <-> point($10, $9)
                           LIMIT 2000) s
                     WHERE search_filter(s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                       AND ($13::float8 IS NULL
                            OR (search_distance_m($9, $10, s.lat, s.lon), s.event_id)
                               > ($13::float8, $14::text))
                     LIMIT $15
                   ), bound AS (
                     SELECT CASE WHEN count(*) < $15 THEN $11 ELSE max(approx.d) END AS d
                     FROM approx
                   ), page AS (
                     SELECT s.event_id, search_distance_m($9, $10, s.lat, s.lon) AS knn
                     FROM bound, event_search s
                     WHERE point(s.lon, s.lat) <@ search_box($9, $10, bound.d)
                       AND search_distance_m($9, $10, s.lat, s.lon) <= bound.d
                       AND search_filter(s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                       AND ($13::float8 IS NULL
                            OR (search_distance_m($9, $10, s.lat, s.lon), s.event_id)
                               > ($13::float8, $14::text))
                     ORDER BY 2, s.event_id
                     LIMIT $15
                   ), cand AS (
                     (SELECT s.city, s.genre, s.local_start, s.starts_at, s.event_id
                      FROM event_search s
                      WHERE $16::bigint > 0
                        AND ($1::text IS NOT NULL OR search_cells($9, $10, $11) IS NULL)
                        AND search_filter(s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                      ORDER BY s.starts_at, s.event_id
                      LIMIT $16)
                     UNION ALL
                     (SELECT c.city, c.genre, c.local_start, c.starts_at, c.event_id
                      FROM unnest(CASE WHEN $1::text IS NULL THEN search_cells($9, $10, $11) END) AS g(cell)
                      CROSS JOIN LATERAL (
                        SELECT s.city, s.genre, s.local_start, s.starts_at, s.event_id
                        FROM event_search s
                        WHERE $16::bigint > 0
                          AND $1::text IS NULL AND search_cells($9, $10, $11) IS NOT NULL
                          AND search_cell(s.lat, s.lon) = g.cell
                          AND search_filter(s, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
                        ORDER BY s.starts_at, s.event_id
                        LIMIT $16
                      ) c
                      ORDER BY c.starts_at, c.event_id
                      LIMIT $16)
                   )
                   SELECT h.id AS "id!", h.name AS "name!", h.performers AS "performers!",
                     h.venue_id AS "venue_id!", h.venue_name AS "venue_name!", h.city AS "city!",
                     h.country AS "country!", h.timezone AS "timezone!",
                     h.starts_at AS "starts_at!", h.local_start AS "local_start!",
                     h.genre AS "genre!", h.status AS "status!",
                     h.sale_opens_at AS "sale_opens_at?", h.sold_out AS "sold_out!",
                     h.price_min AS "price_min?", h.price_max AS "price_max?",
                     h.currency AS "currency?",
                     page.knn / 1000 AS "distance_km?",
                     NULL::real AS "rank?", page.knn AS "knn?",
                     CASE WHEN $16::bigint > 0 THEN (SELECT search_facets(array_agg(cand.city),
                       array_agg(cand.genre), array_agg(cand.local_start)) FROM cand)::text
                     END AS "facets?"
                   FROM page
                   JOIN search_hits h ON h.id = page.event_id
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
                    limit,
                    facet_rows
                )
                .fetch_all(&self.db)
                .await?
            }
        };
        let facets = if query.facets {
            Some(facets(rows.first().and_then(|r| r.facets.as_deref()))?)
        } else {
            None
        };
        let hits = rows
            .into_iter()
            .map(|row| row.into_hit(query.now))
            .collect();
        Ok((hits, facets))
    }
}
