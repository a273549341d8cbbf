//! Loading a generated catalog fast: the rows generated in memory, COPY on
//! parallel connections (events in halves) with the foreign-key and search
//! triggers off, the secondary indexes dropped before and rebuilt after
//! (from their own definitions, so they stay the migrations'), the venues'
//! and genres' text normalised once each, the search rows inserted
//! set-based from `search_source` (the documents from the same functions,
//! the shared parts from those) in two halves while the lexicon's names
//! are counted, then the words (from the search documents) while the
//! indexes build, then the common words' postings (nothing is posted
//! while the search rows are inserted, so their triggers do nothing), then
//! statistics and the visibility map; a sample of the rows is checked
//! against `search_source`.

use super::mix::Catalog;
use super::names::{
    performers, syllable_name, Zipf, BAND_WORDS, CITIES, FESTIVALS, GENRES, TOURS, VENUE_KINDS,
};
use super::Args;
use anyhow::Context;
use rand::rngs::StdRng;
use rand::Rng;
use sqlx::{Executor, PgPool};
use std::time::Instant;

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

/// COPYs rows on a connection of its own, without foreign-key checks when
/// the role may skip them (the generated rows are consistent by
/// construction; `session_replication_role` needs a superuser).
async fn copy(db: &PgPool, statement: &str, rows: &[String]) -> anyhow::Result<u64> {
    let mut conn = db.acquire().await?;
    let _ = conn.execute("SET session_replication_role = replica").await;
    let mut copy = conn.copy_in_raw(statement).await?;
    let mut buffer = String::with_capacity(1 << 20);
    for row in rows {
        buffer.push_str(row);
        buffer.push('\n');
        if buffer.len() > (1 << 20) {
            copy.send(std::mem::take(&mut buffer).into_bytes()).await?;
        }
    }
    if !buffer.is_empty() {
        copy.send(buffer.into_bytes()).await?;
    }
    let copied = copy.finish().await?;
    let _ = conn.execute("RESET session_replication_role").await;
    Ok(copied)
}

/// Runs statements at once, each on its own connection.
async fn at_once(db: &PgPool, statements: &[&str]) -> anyhow::Result<()> {
    let runs = statements.iter().map(|sql| async move {
        let mut conn = db.acquire().await?;
        conn.execute("SET maintenance_work_mem = '256MB'; SET work_mem = '256MB'")
            .await?;
        conn.execute(*sql).await.with_context(|| sql.to_string())?;
        anyhow::Ok(())
    });
    futures::future::try_join_all(runs).await?;
    Ok(())
}

/// The rows of venues, events and sales (COPY text format).
struct Rows {
    venues: Vec<String>,
    events: Vec<String>,
    drops: Vec<String>,
}

fn generate(args: &Args, rng: &mut StdRng, performers: &[String], zipf: &Zipf) -> Rows {
    // Venues: weighted by city size, jittered within ~15 km.
    let weights: Vec<u32> = CITIES.iter().map(|c| c.5).collect();
    let total_weight: u32 = weights.iter().sum();
    let mut venue_city = Vec::with_capacity(args.venues);
    let venues: Vec<String> = (0..args.venues)
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
    // Events over the next two years; a tenth with a sale.
    let now = chrono::Utc::now();
    let mut drops = Vec::new();
    let mut events = Vec::with_capacity(args.events);
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
        events.push(format!(
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
    Rows {
        venues,
        events,
        drops,
    }
}

pub async fn load(db: &PgPool, args: &Args, rng: &mut StdRng) -> anyhow::Result<Catalog> {
    let started = Instant::now();
    let performers = performers(rng, args.performers);
    let zipf = Zipf::new(performers.len(), args.zipf);
    let rows = generate(args, rng, &performers, &zipf);
    println!("generated the catalog in {:.1?}", started.elapsed());

    let mut conn = db.acquire().await?;
    conn.execute(
        "TRUNCATE event_search, search_words, search_names, search_posted; \
         DELETE FROM drops WHERE id LIKE 'cat-%'; \
         DELETE FROM events WHERE id LIKE 'cat-%'; \
         DELETE FROM venues WHERE id LIKE 'cat-%';",
    )
    .await
    .context("clearing an earlier catalog")?;
    // Secondary indexes (not the keys) of the tables the load fills, to
    // rebuild after it.
    let indexes: Vec<(String, String)> = sqlx::query_as(
        "SELECT i.relname::text, pg_get_indexdef(i.oid) FROM pg_index x \
         JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         WHERE t.relname IN ('events', 'event_search', 'search_words', 'search_names') \
           AND NOT x.indisunique AND NOT x.indisprimary",
    )
    .fetch_all(&mut *conn)
    .await?;
    for (name, _) in &indexes {
        conn.execute(format!("DROP INDEX {name}").as_str()).await?;
    }
    // The search rows' primary key too (a million keys inserted in random
    // order cost more than one sorted build), added back with the indexes.
    let (key_name, search_key): (String, String) = sqlx::query_as(
        "SELECT quote_ident(conname), 'ALTER TABLE event_search ADD CONSTRAINT ' \
           || quote_ident(conname) || ' ' || pg_get_constraintdef(oid) \
         FROM pg_constraint WHERE conrelid = 'event_search'::regclass AND contype = 'p'",
    )
    .fetch_one(&mut *conn)
    .await
    .context("event_search's primary key")?;
    conn.execute(format!("ALTER TABLE event_search DROP CONSTRAINT {key_name}").as_str())
        .await?;
    conn.execute(
        "ALTER TABLE events DISABLE TRIGGER USER; ALTER TABLE drops DISABLE TRIGGER USER; \
         ALTER TABLE event_search SET (autovacuum_enabled = false); \
         ALTER TABLE search_postings SET (autovacuum_enabled = false)",
    )
    .await?;

    let step = Instant::now();
    let (first, second) = rows.events.split_at(rows.events.len() / 2);
    let events = "COPY events (id, name, performers, venue_id, starts_at, genre) FROM STDIN";
    copy(
        db,
        "COPY venues (id, name, city, country, timezone, lat, lon) FROM STDIN",
        &rows.venues,
    )
    .await?;
    futures::try_join!(copy(db, events, first), copy(db, events, second))?;
    copy(
        db,
        "COPY drops (id, name, stock, held, price_cents, currency, opens_at, per_user_cap, \
           order_timeout_secs, admission_rate_per_sec, max_active, state, event_id) FROM STDIN",
        &rows.drops,
    )
    .await?;
    // Statistics before the search rows are built from them: without,
    // the planner takes the fresh tables for empty and joins a million
    // rows by index probes.
    for table in ["venues", "events", "drops"] {
        conn.execute(format!("ANALYZE {table}").as_str()).await?;
    }
    println!("copied venues, events and sales in {:.1?}", step.elapsed());
    drop(rows);

    let step = Instant::now();
    // What every event of a venue (a genre) shares, normalised once per
    // venue (genre) rather than once per event: unlogged scratch tables,
    // dropped at the end.
    at_once(
        db,
        &[
            "DROP TABLE IF EXISTS search_load_places; \
             CREATE UNLOGGED TABLE search_load_places AS \
             SELECT v.id AS venue_id, search_place_doc(v.name, v.city) AS doc, \
               search_norm(v.city) AS city_key FROM venues v",
            "DROP TABLE IF EXISTS search_load_genres; \
             CREATE UNLOGGED TABLE search_load_genres AS \
             SELECT g.genre, search_genre_doc(g.genre) AS doc, search_norm(g.genre) AS genre_key \
             FROM (SELECT DISTINCT genre FROM events) g",
        ],
    )
    .await?;
    println!(
        "venues' and genres' text normalised in {:.1?}",
        step.elapsed()
    );

    let step = Instant::now();
    // The search rows in two halves on two connections, in date order
    // within each (the order the searches walk); the names meanwhile. Every
    // column but the text ones comes from `search_source` itself (the
    // columns not read are not computed); the document is put together
    // from the same functions the view uses (a sample is checked against
    // the view below).
    // Halves by date (a column with statistics: a split on a hash of the
    // id is estimated at 0.5 % of the rows, and the planner then joins a
    // million rows by index probes).
    let middle: chrono::DateTime<chrono::Utc> = sqlx::query_scalar(
        "SELECT min(starts_at) + (max(starts_at) - min(starts_at)) / 2 FROM events",
    )
    .fetch_one(&mut *conn)
    .await?;
    let middle = middle.to_rfc3339();
    let half = |h: u8| {
        let range = if h == 0 { "<" } else { ">=" };
        format!(
            "INSERT INTO event_search (event_id, doc, venue_id, city, city_key, country, genre, \
               genre_key, lat, lon, starts_at, local_start, status, sale_opens_at, sold_out, \
               price_min, price_max, currency) \
             SELECT src.event_id, search_event_doc(e.name, e.performers) || p.doc || g.doc, \
               src.venue_id, src.city, p.city_key, src.country, src.genre, g.genre_key, \
               src.lat, src.lon, src.starts_at, src.local_start, src.status, \
               src.sale_opens_at, src.sold_out, src.price_min, src.price_max, src.currency \
             FROM search_source src \
             JOIN events e ON e.id = src.event_id \
             JOIN search_load_places p ON p.venue_id = src.venue_id \
             JOIN search_load_genres g ON g.genre = src.genre \
             WHERE src.starts_at {range} '{middle}'::timestamptz ORDER BY src.starts_at"
        )
    };
    let (a, b) = (half(0), half(1));
    at_once(db, &[&a, &b, "SELECT search_rebuild_names()"]).await?;
    println!("search rows and names built in {:.1?}", step.elapsed());

    let step = Instant::now();
    // The words (from the documents) while the indexes build; the words'
    // own index after them.
    let (words_index, others): (Vec<_>, Vec<_>) = indexes
        .iter()
        .map(|(_, def)| def.as_str())
        .partition(|def| def.contains(" ON public.search_words "));
    let mut first_round = vec!["SELECT search_rebuild_words()"];
    first_round.extend(others);
    first_round.push(&search_key);
    at_once(db, &first_round).await?;
    at_once(db, &words_index).await?;
    println!("lexicon words and indexes built in {:.1?}", step.elapsed());

    let step = Instant::now();
    // The common words' postings (migration 0017) from the words just
    // counted and the search rows.
    conn.execute("SET maintenance_work_mem = '256MB'; SET work_mem = '256MB'")
        .await?;
    conn.execute("SELECT search_rebuild_postings()").await?;
    conn.execute("RESET maintenance_work_mem; RESET work_mem")
        .await?;
    println!("common words' postings built in {:.1?}", step.elapsed());

    let step = Instant::now();
    // One statement each: VACUUM (which also sets the visibility map that
    // index-only scans need) cannot share a command string.
    for statement in [
        "ALTER TABLE events ENABLE TRIGGER USER",
        "ALTER TABLE drops ENABLE TRIGGER USER",
        "ALTER TABLE event_search RESET (autovacuum_enabled)",
        "ALTER TABLE search_postings RESET (autovacuum_enabled)",
        "VACUUM ANALYZE event_search",
        "VACUUM ANALYZE search_postings",
        "VACUUM ANALYZE search_posted",
        "VACUUM ANALYZE search_words",
        "VACUUM ANALYZE search_names",
        "DROP TABLE search_load_places",
        "DROP TABLE search_load_genres",
    ] {
        conn.execute(statement).await?;
    }
    println!("statistics in {:.1?}", step.elapsed());
    let loaded = started.elapsed();

    // The rows loaded are the rows the triggers would have made: a sample
    // of 2,000 compared with `search_source`, column by column.
    let differ: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM (SELECT * FROM event_search TABLESAMPLE SYSTEM (1) LIMIT 2000) s \
         JOIN search_source src USING (event_id) \
         WHERE (s.doc, s.venue_id, s.city, s.city_key, s.country, s.genre, s.genre_key, s.lat, \
           s.lon, s.starts_at, s.local_start, s.status, s.sale_opens_at, s.sold_out, \
           s.price_min, s.price_max, s.currency) IS DISTINCT FROM (src.doc, src.venue_id, \
           src.city, src.city_key, src.country, src.genre, src.genre_key, src.lat, src.lon, \
           src.starts_at, src.local_start, src.status, src.sale_opens_at, src.sold_out, \
           src.price_min, src.price_max, src.currency)",
    )
    .fetch_one(&mut *conn)
    .await?;
    anyhow::ensure!(
        differ == 0,
        "{differ} loaded search rows of a sample differ from search_source"
    );
    println!(
        "catalog loaded: {} events, {} venues, {} performers in {:.1?}",
        args.events, args.venues, args.performers, loaded
    );
    Ok(Catalog { performers, zipf })
}

/// Reads back the performers of a loaded catalog, most used first.
pub async fn existing(db: &PgPool, args: &Args) -> anyhow::Result<Catalog> {
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
