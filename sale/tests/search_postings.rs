//! The common words' postings (migration 0017): a search by relevance whose
//! rarest word is posted walks that word's postings, and answers exactly
//! what the GIN path answers (every page, the facets), whether the walk
//! finds all the candidates, reads all the word's postings, or stops at its
//! bound and hands over to the GIN; the triggers keep the postings equal to
//! the documents through inserts, edits, venue renames and deletes (and,
//! since migration 0020, what they carry: the word's rank, the status, the
//! local start, the city and the genre); and the walk is what runs for a
//! common word (its plan, executed), for one word without a search row read
//! (0020), and for a text with a word corrected several ways beside a plain
//! one (0020).
#![allow(clippy::unwrap_used)]

mod common;

use common::TestApp;
use serde_json::Value;

/// 9,000 events over 50 venues in 5 cities, three to a start time (ties
/// broken by id), a tenth of them over, some cancelled. Words: "gala" in
/// every name, "alpha" in a third (3,000), "beta" in the rest (6,000),
/// "psi" in 2,760: 2,700 of beta's and 60 of alpha's (so "alpha psi" has
/// a few matches among psi's first postings: the walk is not tried);
/// "kappa" in 3,000, "zeta" in alpha's 3,000 and in the 600 soonest of
/// kappa's (so "kappa zeta" starts well, but has fewer than 1,001 matches
/// among kappa's first 2,002 postings: the walk gives up at its bound).
const CATALOG: &str = "
    ALTER TABLE events DISABLE TRIGGER USER;
    INSERT INTO venues (id, name, city, country, timezone, lat, lon)
      SELECT 'v' || i, 'Hall ' || i, 'City ' || (i % 5), 'DE', 'Europe/Berlin',
        50 + i * 0.01, 7 + i * 0.01
      FROM generate_series(1, 50) i;
    INSERT INTO events (id, name, performers, venue_id, starts_at, genre, status)
      SELECT 'e' || i,
        'Gala ' || CASE WHEN i % 3 = 0 THEN 'alpha' ELSE 'beta' END
          || CASE WHEN (i % 3 = 1 AND i % 10 < 9) OR (i % 3 = 0 AND i % 50 = 0)
                  THEN ' psi' ELSE '' END
          || CASE WHEN i % 3 = 2 THEN ' kappa' ELSE '' END
          || CASE WHEN i % 3 = 0 OR (i % 3 = 2 AND (i * 7919) % 3000 < 600)
                  THEN ' zeta' ELSE '' END,
        ARRAY['Band ' || (i % 7)], 'v' || (1 + i % 50),
        now() + (((i * 7919) % 3000) - 300) * interval '1 hour',
        (ARRAY['Pop', 'Rock', 'Jazz'])[1 + i % 3],
        CASE WHEN i % 97 = 0 THEN 'cancelled' ELSE 'scheduled' END
      FROM generate_series(1, 9000) i;
    ALTER TABLE events ENABLE TRIGGER USER;
    SELECT search_refresh_all();
    SELECT search_rebuild_lexicon();
    ANALYZE;";

/// The texts compared, each alone and with a date range.
const TEXTS: &[&str] = &[
    "gala",
    "alpha",
    "beta",
    "psi",
    "beta psi",
    "alpha psi",
    "alpha beta",
    "kappa zeta",
    "gala band 3",
    "city 2 gala",
    "alfa",
    // Corrected several ways ("eta": beta or zeta) beside a plain word.
    "eta psi",
    "gala eta",
];

async fn get(app: &TestApp, query: &[(&str, &str)]) -> Value {
    let response = app
        .http
        .get(app.url("/api/events"))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{query:?}");
    response.json().await.unwrap()
}

/// Every page of a search by relevance: the hits' ids in order and the
/// first page's facets.
async fn answer(app: &TestApp, query: &[(&str, &str)]) -> (Vec<String>, Value) {
    let mut q: Vec<(&str, &str)> = query.to_vec();
    q.push(("limit", "50"));
    let first = get(app, &q).await;
    let mut ids = Vec::new();
    let mut page = first.clone();
    for _ in 0..40 {
        ids.extend(
            page["events"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_string()),
        );
        let Some(cursor) = page["next_cursor"].as_str().map(str::to_string) else {
            return (ids, first["facets"].clone());
        };
        let mut next = q.clone();
        next.push(("cursor", &cursor));
        page = get(app, &next).await;
    }
    panic!("runaway paging: {query:?}");
}

async fn answers(app: &TestApp) -> Vec<(String, Vec<String>, Value)> {
    // Answers of the other postings are not the cache's.
    sqlx::query("SELECT nextval('search_generation')")
        .execute(&app.db)
        .await
        .unwrap();
    let from = (chrono::Utc::now() + chrono::Duration::days(20))
        .date_naive()
        .to_string();
    let to = (chrono::Utc::now() + chrono::Duration::days(50))
        .date_naive()
        .to_string();
    let mut out = Vec::new();
    for text in TEXTS {
        let (ids, facets) = answer(app, &[("q", text)]).await;
        out.push((text.to_string(), ids, facets));
        let dated = [("q", *text), ("from", from.as_str()), ("to", to.as_str())];
        let (ids, facets) = answer(app, &dated).await;
        out.push((format!("{text} {from}..{to}"), ids, facets));
    }
    out
}

async fn assert_same(app: &TestApp, walked: &[(String, Vec<String>, Value)]) {
    sqlx::query("SELECT search_rebuild_postings(1000000, 1000000)")
        .execute(&app.db)
        .await
        .unwrap();
    let gin = answers(app).await;
    for ((text, ids, facets), (_, gin_ids, gin_facets)) in walked.iter().zip(&gin) {
        assert_eq!(ids, gin_ids, "{text}");
        assert_eq!(facets, gin_facets, "{text}");
    }
}

/// Postings that are not what the documents say (missing or extra, or
/// carrying another rank, status, local start, city or genre than the
/// search row's; the rank as the engine ranks a one-word text).
async fn postings_off(app: &TestApp) -> i64 {
    sqlx::query_scalar(
        "WITH expected AS (
           SELECT d.lexeme, s.starts_at, s.event_id,
             ts_rank(s.doc, ('''' || d.lexeme || '''')::tsquery) AS rank,
             s.status = 'cancelled' AS cancelled, s.local_start, s.city, s.genre
           FROM event_search s, unnest(tsvector_to_array(s.doc)) l(lexeme)
           JOIN search_posted d ON d.lexeme = l.lexeme),
         actual AS (
           SELECT lexeme, starts_at, event_id, rank, cancelled, local_start, city, genre
           FROM search_postings)
         SELECT (SELECT count(*) FROM (SELECT * FROM expected
                  EXCEPT ALL SELECT * FROM actual) missing)
           + (SELECT count(*) FROM (SELECT * FROM actual
                  EXCEPT ALL SELECT * FROM expected) extra)",
    )
    .fetch_one(&app.db)
    .await
    .unwrap()
}

/// A sale with the test catalog loaded and its postings built (words in
/// 100 events or more posted).
async fn posted_catalog() -> TestApp {
    let app = TestApp::spawn().await;
    sqlx::raw_sql(CATALOG).execute(&app.db).await.unwrap();
    sqlx::query("SELECT search_rebuild_postings(100, 100000)")
        .execute(&app.db)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn walking_the_postings_answers_what_the_gin_answers() {
    let app = posted_catalog().await;
    let posted: i64 = sqlx::query_scalar("SELECT count(*) FROM search_posted")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert!(posted >= 6, "{posted} lexemes posted");
    assert_eq!(postings_off(&app).await, 0);
    let walked = answers(&app).await;
    let found = |text: &str| walked.iter().find(|(t, _, _)| t == text).unwrap().1.len();
    // The walk's ends: the candidates found, the postings read, not tried,
    // the bound reached (the last two: then the GIN).
    assert_eq!(found("gala"), 1001);
    assert!((1..1001).contains(&found("alpha psi")));
    assert!((1..1001).contains(&found("kappa zeta")));
    assert_eq!(found("alpha beta"), 0);
    assert_same(&app, &walked).await;
    app.stop().await;
}

#[tokio::test]
async fn the_triggers_keep_the_postings_with_the_documents() {
    let app = posted_catalog().await;
    sqlx::raw_sql(
        "INSERT INTO events (id, name, performers, venue_id, starts_at, genre)
           VALUES ('new1', 'Gala alpha psi', ARRAY['Band 1'], 'v3', now() + interval '1 hour', 'Pop'),
                  ('new2', 'Omega', ARRAY['Nobody'], 'v4', now() + interval '2 hours', 'Pop');
         UPDATE events SET name = 'Gala beta' WHERE id = 'e3';
         UPDATE events SET starts_at = now() + interval '30 minutes' WHERE id = 'e6';
         UPDATE events SET name = 'Gala psi alpha', starts_at = now() + interval '3 hours'
           WHERE id = 'e9';
         UPDATE venues SET name = 'Gala Hall' WHERE id = 'v7';
         DELETE FROM events WHERE id IN ('e12', 'e15');",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(postings_off(&app).await, 0);
    // What the postings carry beside the document (migration 0020): a
    // cancellation and a venue's time zone move neither the document nor
    // the start.
    sqlx::raw_sql(
        "UPDATE events SET status = 'cancelled' WHERE id IN ('e18', 'e21');
         UPDATE venues SET timezone = 'America/New_York' WHERE id = 'v9';",
    )
    .execute(&app.db)
    .await
    .unwrap();
    assert_eq!(postings_off(&app).await, 0);
    let walked = answers(&app).await;
    assert_same(&app, &walked).await;
    // Emptied with the search rows.
    sqlx::query("SELECT search_rebuild_postings(100, 100000)")
        .execute(&app.db)
        .await
        .unwrap();
    sqlx::raw_sql("TRUNCATE event_search")
        .execute(&app.db)
        .await
        .unwrap();
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM search_postings")
        .fetch_one(&app.db)
        .await
        .unwrap();
    assert_eq!(left, 0);
    app.stop().await;
}

/// The relevance statement, straight from the engine's source.
fn relevance_statement() -> String {
    include_str!("../src/search/pg/page.rs")
        .split("r#\"")
        .skip(1)
        .filter_map(|rest| rest.split_once("\"#").map(|(sql, _)| sql.to_string()))
        .find(|sql| sql.contains("ts_rank"))
        .unwrap()
}

/// The relevance statement's plan, executed, for a tsquery.
async fn explain(conn: &mut sqlx::PgConnection, tsquery: &str) -> Vec<String> {
    let tsquery = tsquery.replace('\'', "''");
    sqlx::query_scalar(&format!(
        "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) EXECUTE q('{tsquery}', NULL, NULL, NULL, \
         NULL, NULL, NULL, false, NULL, NULL, NULL, now(), NULL, NULL, NULL, 21, 1001, 1001)"
    ))
    .fetch_all(conn)
    .await
    .unwrap()
}

/// The plan's line of the other way to the candidates (the GIN or the
/// start index: `event_search m`, run only when the walk does not end).
fn other_way(plan: &[String]) -> &String {
    plan.iter()
        .find(|l| l.contains(" on event_search m"))
        .unwrap_or_else(|| panic!("{}", plan.join("\n")))
}

/// The events `search_walk` looked up by their key for a text (each an
/// index scan of `event_search`, counted for the transaction).
async fn walk_lookups(conn: &mut sqlx::PgConnection, words: &[&str]) -> (i64, i64) {
    let tsquery = words
        .iter()
        .map(|w| format!("'{w}'"))
        .collect::<Vec<_>>()
        .join(" & ");
    let mut tx = sqlx::Connection::begin(&mut *conn).await.unwrap();
    let scans = "SELECT idx_scan FROM pg_stat_xact_user_tables WHERE relname = 'event_search'";
    let before: i64 = sqlx::query_scalar(scans).fetch_one(&mut *tx).await.unwrap();
    let (rows, nulls): (i64, i64) = sqlx::query_as(
        "SELECT count(*), count(*) FILTER (WHERE event_id IS NULL)
         FROM search_walk($1, $2, NULL, NULL, now(), 1001)",
    )
    .bind(&tsquery)
    .bind(words)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    let after: i64 = sqlx::query_scalar(scans).fetch_one(&mut *tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert!(
        nulls == 0 || rows == 1,
        "{words:?}: {rows} rows, {nulls} of NULLs"
    );
    (after - before, if nulls == 1 { -1 } else { rows })
}

// The walk runs inside `search_walk` (migration 0019: its plans kept per
// connection), so the statement's plan shows the function's scan, not the
// postings' (until 0019 this test looked for `on search_postings p` and the
// walk's 2,002 rows in the plan); what the walk read is counted instead.
#[tokio::test]
async fn a_common_word_walks_its_postings_and_not_the_gin() {
    let app = posted_catalog().await;
    let mut conn = app.db.acquire().await.unwrap();
    sqlx::raw_sql(&format!(
        "SET plan_cache_mode = force_custom_plan; PREPARE q AS {}",
        relevance_statement()
    ))
    .execute(&mut *conn)
    .await
    .unwrap();
    // A common word: its postings walked, the other way planned but not
    // run.
    let plan = explain(&mut conn, "'beta'").await;
    let shown = plan.join("\n");
    assert!(
        shown.contains("Function Scan on search_walk w (actual rows=1001 loops=1)"),
        "{shown}"
    );
    assert!(other_way(&plan).contains("never executed"), "{shown}");
    // One word: its postings carry the rank and what the facets count, so
    // no search row is looked up (migration 0020; each posting's event was
    // looked up once until then, 1,001 lookups).
    let (lookups, found) = walk_lookups(&mut conn, &["beta"]).await;
    assert_eq!(found, 1001);
    assert_eq!(lookups, 0, "{lookups} lookups");
    // Two words: each posting's event looked up once, until the candidates.
    let (lookups, found) = walk_lookups(&mut conn, &["gala", "beta"]).await;
    assert_eq!(found, 1001);
    assert!((1001..2002).contains(&lookups), "{lookups} lookups");
    // A word corrected several ways beside a plain one walks the plain
    // word's postings (0020; the GIN until then) when the alternatives are
    // not the rarer, and hands over to the GIN when they are.
    let words = |tsquery: &'static str| {
        sqlx::query_scalar::<_, Option<Vec<String>>>(
            "SELECT search_walk_words($1, NULL, NULL, NULL, NULL, false, NULL)",
        )
        .bind(tsquery)
        .fetch_one(&app.db)
    };
    assert_eq!(
        words("( 'beta' | 'zeta' ) & 'psi'").await.unwrap(),
        Some(vec!["psi".to_string()])
    );
    assert_eq!(words("( 'beta' | 'zeta' )").await.unwrap(), None);
    let walked = |tsquery: &'static str, word: &'static str| {
        sqlx::query_as::<_, (i64, i64)>(
            "SELECT count(*), count(event_id)
             FROM search_walk($1, ARRAY[$2], NULL, NULL, now(), 1001)",
        )
        .bind(tsquery)
        .bind(word)
        .fetch_one(&app.db)
    };
    let (rows, found) = walked("'gala' & ( 'beta' | 'zeta' )", "gala")
        .await
        .unwrap();
    assert_eq!((rows, found), (1001, 1001));
    assert_eq!(
        walked("'beta' & ( 'psi' | 'alpha' )", "beta")
            .await
            .unwrap(),
        (1, 0),
        "psi and alpha are in fewer events than beta: the GIN"
    );
    // Words that seldom come together: the first postings say so, the
    // other way at once.
    let plan = explain(&mut conn, "'alpha' & 'psi'").await;
    assert!(
        !other_way(&plan).contains("never executed"),
        "{}",
        plan.join("\n")
    );
    assert_eq!(walk_lookups(&mut conn, &["alpha", "psi"]).await, (200, -1));
    // Words that come together at first only: the walk to its bound, then
    // the other way.
    let plan = explain(&mut conn, "'kappa' & 'zeta'").await;
    let shown = plan.join("\n");
    assert!(!other_way(&plan).contains("never executed"), "{shown}");
    assert_eq!(
        walk_lookups(&mut conn, &["kappa", "zeta"]).await,
        (2002, -1),
        "the walk read its bound"
    );
    drop(conn);
    app.stop().await;
}
