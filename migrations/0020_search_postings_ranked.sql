-- A one-word text ranked from its postings alone (issue 15, search p99 at
-- 200/s).
--
-- The relevance statement was half of PostgreSQL's time in the search mix,
-- and most of it the walk (migrations 0017, 0019): for each of a common
-- word's postings, in time order, the event's search row looked up by its
-- start and id (an index descent and a heap page, ~4.5 buffers) to check the
-- whole search and rank it: 1,001 lookups, 4-9 ms, for every text whose
-- rarest word is posted. For a text of one word (a city's name: the mix's
-- "city name as text" with its facets; a one-word performer, "beyonce",
-- "bjork"; a typo corrected to one word) the search row has nothing to add
-- but its rank in it, whether the event is cancelled, and the city, genre
-- and local start the facets count: every posting of the word is a match
-- of its text. So the postings now carry those (set from the search row
-- with the posting, in the key's INCLUDE) and such a walk is one
-- index-only range of search_postings, the soonest matches first, with no
-- search row read: 1,001 rows in about 0.3 ms instead of 1,001 lookups.
--
-- The same candidates: the postings of the word in the dates, not
-- cancelled, within the venue's local dates, in (starts_at, event_id)
-- order, are exactly the soonest matches of search_filter for that text;
-- the rank is ts_rank(doc, the word's tsquery), the function the statement
-- calls, on the same document (search_lexeme_query quotes a word as the
-- engine does, sale/src/search/pg/text.rs, and the walk takes this way only
-- when the text's tsquery equals it). A text of several words walks as
-- before (its other words and its rank need the document).
--
-- The triggers keep the new columns with the search rows: an update that
-- changes the document, the start, the status, the local start, the city
-- or the genre rewrites the event's postings (until now only the document
-- or the start did). Rebuilt here (about 30 s at a million events, writers
-- of event_search wait); run VACUUM search_postings afterwards (the
-- visibility map, for index-only scans: autovacuum does it in time, the
-- bulk load at once).

-- A word as the engine quotes it in a tsquery.
CREATE FUNCTION search_lexeme_query(lexeme TEXT) RETURNS TSQUERY
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN format('''%s''', replace(replace(lexeme, '\', '\\'), '''', ''''''))::tsquery;

ALTER TABLE search_postings
    ADD COLUMN rank REAL NOT NULL DEFAULT 0,
    ADD COLUMN cancelled BOOLEAN NOT NULL DEFAULT false,
    ADD COLUMN local_start TIMESTAMP NOT NULL DEFAULT '-infinity',
    ADD COLUMN city TEXT NOT NULL DEFAULT '',
    ADD COLUMN genre TEXT NOT NULL DEFAULT '';
ALTER TABLE search_postings
    ALTER COLUMN rank DROP DEFAULT,
    ALTER COLUMN cancelled DROP DEFAULT,
    ALTER COLUMN local_start DROP DEFAULT,
    ALTER COLUMN city DROP DEFAULT,
    ALTER COLUMN genre DROP DEFAULT;

CREATE OR REPLACE FUNCTION search_postings_inserted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM search_posted) THEN
        INSERT INTO search_postings (lexeme, starts_at, event_id, rank, cancelled, local_start,
            city, genre)
        SELECT d.lexeme, n.starts_at, n.event_id, ts_rank(n.doc, search_lexeme_query(d.lexeme)),
            n.status = 'cancelled', n.local_start, n.city, n.genre
        FROM new_rows n, unnest(tsvector_to_array(n.doc)) l(lexeme)
        JOIN search_posted d ON d.lexeme = l.lexeme;
    END IF;
    RETURN NULL;
END $$;

-- An event's postings are written again when what they carry changes.
CREATE OR REPLACE FUNCTION search_postings_updated() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM search_posted) THEN
        DELETE FROM search_postings p USING old_rows o
        WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.event_id = o.event_id
                AND n.starts_at = o.starts_at AND n.doc = o.doc AND n.status = o.status
                AND n.local_start = o.local_start AND n.city = o.city AND n.genre = o.genre)
            AND p.lexeme = ANY (tsvector_to_array(o.doc))
            AND p.starts_at = o.starts_at AND p.event_id = o.event_id;
        INSERT INTO search_postings (lexeme, starts_at, event_id, rank, cancelled, local_start,
            city, genre)
        SELECT d.lexeme, n.starts_at, n.event_id, ts_rank(n.doc, search_lexeme_query(d.lexeme)),
            n.status = 'cancelled', n.local_start, n.city, n.genre
        FROM new_rows n, unnest(tsvector_to_array(n.doc)) l(lexeme)
        JOIN search_posted d ON d.lexeme = l.lexeme
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.event_id = n.event_id
                AND o.starts_at = n.starts_at AND o.doc = n.doc AND o.status = n.status
                AND o.local_start = n.local_start AND o.city = n.city AND o.genre = n.genre);
    END IF;
    RETURN NULL;
END $$;

-- As before, with what the postings carry (each posted word's tsquery made
-- once, not per posting) and the key covering it; and words from 1,000
-- events on are posted (3,000 until now). A text whose rarest word is in
-- 1,000-3,000 events (a mid-table performer's surname: "lea rosla") took the
-- GIN: a bitmap of every match of the text (2,607 heap rows for "lea
-- rosla") sorted, 11 ms; walked, the first 1,001 of them, 7.5 ms. Below
-- 1,000 the GIN reads fewer rows than a walk would look up. 86 more
-- lexemes, 137,000 more postings (+3 %) at a million events.
CREATE OR REPLACE FUNCTION search_rebuild_postings(min_freq INTEGER DEFAULT 1000,
    max_freq INTEGER DEFAULT 60000) RETURNS VOID
    LANGUAGE sql AS $$
    LOCK TABLE event_search IN SHARE MODE;
    TRUNCATE search_posted, search_postings;
    ALTER TABLE search_postings DROP CONSTRAINT search_postings_pkey;
    INSERT INTO search_posted (lexeme)
    SELECT w.word FROM search_words w WHERE w.freq BETWEEN min_freq AND max_freq;
    WITH d AS MATERIALIZED (
        SELECT p.lexeme, search_lexeme_query(p.lexeme) AS q FROM search_posted p
    )
    INSERT INTO search_postings (lexeme, starts_at, event_id, rank, cancelled, local_start,
        city, genre)
    SELECT d.lexeme, s.starts_at, s.event_id, ts_rank(s.doc, d.q), s.status = 'cancelled',
        s.local_start, s.city, s.genre
    FROM event_search s, unnest(tsvector_to_array(s.doc)) l(lexeme)
    JOIN d ON d.lexeme = l.lexeme;
    ALTER TABLE search_postings ADD CONSTRAINT search_postings_pkey
        PRIMARY KEY (lexeme, starts_at, event_id)
        INCLUDE (cancelled, local_start, rank, city, genre);
$$;

-- The words a postings walk may take (0017's, widened): the plain words
-- AND-ed at the top of the text's tsquery, when the rest of it is words
-- corrected several ways ("( 'celine' | 'ceulne' ) & 'dion'") or taken
-- as a prefix ('noah' & 'salz':*). Every match has each plain word, so
-- the rarest one's postings in time order still hold the soonest matches
-- in order, and each event is checked against the whole tsquery (and
-- ranked by it) as before: the same candidates as the GIN path, which a
-- typo in one word of a name took until now (bitmaps of every match of
-- each alternative, sorted: 30-45 ms). NULL when there is no plain word
-- (a one-word typo: the GIN) or another filter than dates is asked.
CREATE OR REPLACE FUNCTION search_walk_words(tsq TEXT, f_city TEXT, f_venue TEXT,
    f_country TEXT, f_genre TEXT, on_sale BOOLEAN, lat DOUBLE PRECISION) RETURNS TEXT[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    normal TEXT;
    word CONSTANT TEXT := '''[^'' ]+''(:\*)?';
    item TEXT := '(' || word || '|\( ' || word || '( \| ' || word || ')* \))';
    plain TEXT[];
BEGIN
    IF tsq IS NULL OR f_city IS NOT NULL OR f_venue IS NOT NULL OR f_country IS NOT NULL
        OR f_genre IS NOT NULL OR on_sale IS TRUE OR lat IS NOT NULL THEN
        RETURN NULL;
    END IF;
    normal := tsq::tsquery::text;
    IF normal !~ ('^' || item || '( & ' || item || ')*$') THEN
        RETURN NULL;
    END IF;
    -- The top level's items, the plain words among them.
    plain := ARRAY(SELECT DISTINCT m[1]
                   FROM regexp_split_to_table(normal, ' & ') t(i),
                       regexp_matches(t.i, '^''([^'' ]+)''$') m
                   ORDER BY 1);
    RETURN CASE WHEN cardinality(plain) > 0 THEN plain END;
END
$$;

-- 0019's walk, with the one-word way first.
CREATE OR REPLACE FUNCTION search_walk(tsq TEXT, words TEXT[], from_day DATE, to_day DATE,
    at_time TIMESTAMPTZ, candidates BIGINT)
    RETURNS TABLE (event_id TEXT, starts_at TIMESTAMPTZ, rank REAL, city TEXT, genre TEXT,
        local_start TIMESTAMP)
    LANGUAGE plpgsql STABLE SET plan_cache_mode = force_generic_plan ROWS 1001 AS $$
#variable_conflict use_column
DECLARE
    q TSQUERY;
    drive TEXT;
    drive_freq INTEGER;
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
    SELECT count(*), (array_agg(w.word ORDER BY w.freq, w.word))[1], min(w.freq)
    INTO known, drive, drive_freq
    FROM search_words w WHERE w.word = ANY (words);
    IF known <> cardinality(words)
        OR NOT EXISTS (SELECT 1 FROM search_posted d WHERE d.lexeme = drive) THEN
        RETURN QUERY SELECT NULL::text, NULL::timestamptz, NULL::real, NULL::text, NULL::text,
            NULL::timestamp;
        RETURN;
    END IF;
    -- A word corrected several ways (search_walk_words): when its
    -- alternatives together are in fewer events than the rarest plain
    -- word, they seldom come with it (the walk would give up) and the GIN's
    -- bitmaps of the alternatives are the smaller read: the NULL row. (A
    -- group with a prefix has no count: walked.)
    IF EXISTS (
        SELECT 1 FROM regexp_matches(q::text, '\(([^)]*)\)', 'g') g(m)
        WHERE g.m[1] !~ ':\*'
            AND (SELECT COALESCE(sum(w.freq), 0)
                 FROM regexp_matches(g.m[1], '''([^'' ]+)''', 'g') a(x)
                 JOIN search_words w ON w.word = a.x[1]) < drive_freq) THEN
        RETURN QUERY SELECT NULL::text, NULL::timestamptz, NULL::real, NULL::text, NULL::text,
            NULL::timestamp;
        RETURN;
    END IF;

    -- The text is one posted word: every posting of it in the dates, not
    -- cancelled and within the local dates, is a match, ranked as the
    -- posting says. Index-only (migration 0020), to the candidates or the
    -- end of the dates.
    IF cardinality(words) = 1 AND q = search_lexeme_query(drive) THEN
        RETURN QUERY
        SELECT p.event_id, p.starts_at, p.rank, p.city, p.genre, p.local_start
        FROM search_postings p
        WHERE p.lexeme = drive AND p.starts_at >= lo AND p.starts_at < hi
            AND NOT p.cancelled
            AND (from_day IS NULL OR p.local_start >= from_day)
            AND (to_day IS NULL OR p.local_start < to_day + 1)
        ORDER BY p.starts_at, p.event_id
        LIMIT candidates;
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
    -- event_search_by_start (see migration 0019).
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

SELECT search_rebuild_postings();
ANALYZE search_postings;
