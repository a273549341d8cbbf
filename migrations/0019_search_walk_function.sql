-- The postings walk as a function (issue 15, the relevance statement's
-- planning), and two indexes that cover what their searches read (a
-- suggestion's prefix, a city with dates; at the end).
-- Migration 0017 wrote the walk of a common word's postings as
-- four CTEs of the relevance statement, and every statement that may walk
-- planned them with its values: 2.5 ms of planning a statement at 200/s
-- against 0.9 ms without them. search_walk is the same walk in PL/pgSQL:
-- its statements are planned once per connection and kept (a generic plan:
-- each is a walk of one key range, the same shape whatever the values),
-- and the relevance statement plans one function scan instead.
--
-- search_walk(tsq, words, from_day, to_day, at_time, candidates): words is
-- search_walk_words(...) of the search (NULL: no walk; the statement then
-- neither plans nor calls it). It answers the `candidates` soonest matches
-- of the text (each with its rank, city, genre and local start) in time
-- order, or one row of NULLs when it hands over to the GIN path:
--
-- - every word must be in the lexicon and the rarest one posted (else the
--   NULL row);
-- - the rarest word's first candidates / 5 postings from the first day on
--   are checked against the search (search_filter): fewer than half match,
--   the NULL row (the words seldom come together: the walk would likely
--   end at its bound);
-- - the walk goes on from there, at most 2 × candidates postings in all,
--   until it has the candidates; if it has fewer and the word has more
--   postings in the dates, the NULL row.
--
-- The same decisions and the same rows as 0017's CTEs (the first postings'
-- matches are kept, not checked a second time); sale/tests/search_postings.rs
-- compares every page and the facets with the GIN path's.
CREATE FUNCTION search_walk(tsq TEXT, words TEXT[], from_day DATE, to_day DATE,
    at_time TIMESTAMPTZ, candidates BIGINT)
    RETURNS TABLE (event_id TEXT, starts_at TIMESTAMPTZ, rank REAL, city TEXT, genre TEXT,
        local_start TIMESTAMP)
    LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan ROWS 1001 AS $$
#variable_conflict use_column
DECLARE
    q TSQUERY;
    drive TEXT;
    known BIGINT;
    -- The postings' range: as search_filter bounds starts_at (a day wider
    -- than the venue's dates).
    lo TIMESTAMPTZ := COALESCE((from_day - 1)::timestamp AT TIME ZONE 'UTC', at_time);
    hi TIMESTAMPTZ := COALESCE((to_day + 2)::timestamp AT TIME ZONE 'UTC', 'infinity');
    probe BIGINT := greatest(candidates / 5, 1);
    first_tried BIGINT;
    first_found BIGINT;
    last_start TIMESTAMPTZ;
    last_id TEXT;
    a_ids TEXT[]; a_starts TIMESTAMPTZ[]; a_ranks REAL[]; a_cities TEXT[]; a_genres TEXT[];
    a_locals TIMESTAMP[];
    b_ids TEXT[]; b_starts TIMESTAMPTZ[]; b_ranks REAL[]; b_cities TEXT[]; b_genres TEXT[];
    b_locals TIMESTAMP[];
    b_found BIGINT;
    b_left BIGINT;
BEGIN
    IF tsq IS NULL OR words IS NULL OR cardinality(words) = 0 OR candidates < 1 THEN
        RETURN QUERY SELECT NULL::text, NULL::timestamptz, NULL::real, NULL::text, NULL::text,
            NULL::timestamp;
        RETURN;
    END IF;
    q := tsq::tsquery;
    SELECT count(*), (array_agg(w.word ORDER BY w.freq, w.word))[1] INTO known, drive
    FROM search_words w WHERE w.word = ANY (words);
    IF known <> cardinality(words)
        OR NOT EXISTS (SELECT 1 FROM search_posted d WHERE d.lexeme = drive) THEN
        RETURN QUERY SELECT NULL::text, NULL::timestamptz, NULL::real, NULL::text, NULL::text,
            NULL::timestamp;
        RETURN;
    END IF;

    -- The first postings: worth walking on if half of them match.
    SELECT count(*), count(m.event_id),
        (array_agg(w.starts_at ORDER BY w.starts_at DESC, w.event_id DESC))[1],
        (array_agg(w.event_id ORDER BY w.starts_at DESC, w.event_id DESC))[1],
        array_agg(m.event_id ORDER BY w.starts_at, w.event_id) FILTER (WHERE m.event_id IS NOT NULL),
        array_agg(m.starts_at ORDER BY w.starts_at, w.event_id) FILTER (WHERE m.event_id IS NOT NULL),
        array_agg(m.rank ORDER BY w.starts_at, w.event_id) FILTER (WHERE m.event_id IS NOT NULL),
        array_agg(m.city ORDER BY w.starts_at, w.event_id) FILTER (WHERE m.event_id IS NOT NULL),
        array_agg(m.genre ORDER BY w.starts_at, w.event_id) FILTER (WHERE m.event_id IS NOT NULL),
        array_agg(m.local_start ORDER BY w.starts_at, w.event_id)
            FILTER (WHERE m.event_id IS NOT NULL)
    INTO first_tried, first_found, last_start, last_id,
        a_ids, a_starts, a_ranks, a_cities, a_genres, a_locals
    FROM (SELECT p.starts_at, p.event_id FROM search_postings p
          WHERE p.lexeme = drive AND p.starts_at >= lo AND p.starts_at < hi
          ORDER BY p.starts_at, p.event_id
          LIMIT probe) w
    -- Each posting's event looked up by its start and id in
    -- event_search_by_start (LIMIT 1: not flattened into a join). Not by
    -- its primary key: the walk's events, in time order, are scattered
    -- over that index (random ids), each lookup a descent through other
    -- leaves, comparing text; in time order they are neighbours in the
    -- start index: 1,001 lookups 2.5-3 ms instead of 6-9. The id compared
    -- under COLLATE "C" (the same equality, any deterministic collation)
    -- is what keeps the planner from the primary key.
    LEFT JOIN LATERAL (
        SELECT s.event_id, s.starts_at, ts_rank(s.doc, q) AS rank, s.city, s.genre,
            s.local_start
        FROM event_search s
        WHERE s.starts_at = w.starts_at AND s.event_id COLLATE "C" = w.event_id AND s.doc @@ q
            AND search_filter(s, NULL, NULL, NULL, NULL, NULL, from_day, to_day, false,
                NULL, NULL, NULL, at_time)
        LIMIT 1
    ) m ON true;
    IF first_found * 2 < first_tried THEN
        RETURN QUERY SELECT NULL::text, NULL::timestamptz, NULL::real, NULL::text, NULL::text,
            NULL::timestamp;
        RETURN;
    END IF;

    -- On from the last of them, until the candidates are found or
    -- 2 × candidates postings are read.
    IF first_tried = probe AND first_found < candidates THEN
        SELECT count(*), array_agg(b.event_id), array_agg(b.starts_at), array_agg(b.rank),
            array_agg(b.city), array_agg(b.genre), array_agg(b.local_start)
        INTO b_found, b_ids, b_starts, b_ranks, b_cities, b_genres, b_locals
        FROM (SELECT m.event_id, m.starts_at, m.rank, m.city, m.genre, m.local_start
              FROM (SELECT p.starts_at, p.event_id FROM search_postings p
                    WHERE p.lexeme = drive AND (p.starts_at, p.event_id) > (last_start, last_id)
                      AND p.starts_at < hi
                    ORDER BY p.starts_at, p.event_id
                    LIMIT 2 * candidates - first_tried) w
              CROSS JOIN LATERAL (
                  SELECT s.event_id, s.starts_at, ts_rank(s.doc, q) AS rank, s.city, s.genre,
                      s.local_start
                  FROM event_search s
                  WHERE s.starts_at = w.starts_at AND s.event_id COLLATE "C" = w.event_id
                      AND s.doc @@ q
                      AND search_filter(s, NULL, NULL, NULL, NULL, NULL, from_day, to_day,
                          false, NULL, NULL, NULL, at_time)
                  LIMIT 1
              ) m
              ORDER BY w.starts_at, w.event_id
              LIMIT candidates - first_found) b;
        IF first_found + b_found < candidates THEN
            -- Fewer than the candidates: all of them only if the word has
            -- no more postings in the dates.
            SELECT count(*) INTO b_left FROM (
                SELECT 1 FROM search_postings p
                WHERE p.lexeme = drive AND (p.starts_at, p.event_id) > (last_start, last_id)
                  AND p.starts_at < hi
                LIMIT 2 * candidates - first_tried) x;
            IF b_left >= 2 * candidates - first_tried THEN
                RETURN QUERY SELECT NULL::text, NULL::timestamptz, NULL::real, NULL::text,
                    NULL::text, NULL::timestamp;
                RETURN;
            END IF;
        END IF;
    END IF;

    RETURN QUERY
    SELECT u.* FROM unnest(a_ids, a_starts, a_ranks, a_cities, a_genres, a_locals) u
    UNION ALL
    SELECT u.* FROM unnest(b_ids, b_starts, b_ranks, b_cities, b_genres, b_locals) u;
END
$$;

-- Suggestions by a rare prefix (search_names_prefix, the planner's choice
-- when it expects few keys) read every key with the prefix and its row for
-- the label and kind, then kept the most used: 1.5-4 ms (up to 10) for
-- prefixes of a few thousand keys ("bi", "ed", "billie", "hana"). With the
-- label and kind in the index the same scan is index-only: 0.3 ms. The
-- same name, key and order (sale/tests/search.rs checks it serves).
DROP INDEX search_names_prefix;
CREATE INDEX search_names_prefix ON search_names (key text_pattern_ops, freq DESC)
    INCLUDE (label, kind);

-- A city with dates (a date sort, and its facets: the 1,001 soonest
-- matches) read each match's row: a bitmap of every match in the dates
-- (2,346 for London over 30 days, on 1,271 heap pages) sorted, 4.6-8.8 ms.
-- Covering what those rows give (as event_search_by_cell does for near),
-- the same index walks the city's matches soonest first, index-only, and
-- stops at the bound: 1.9-3.1 ms. 34 → 89 MiB at a million events; the
-- same name and key (sale/tests/search.rs checks it serves).
DROP INDEX event_search_by_city;
CREATE INDEX event_search_by_city ON event_search (city_key, starts_at)
    INCLUDE (event_id, status, city, genre, local_start);
