-- The search's SQL, written once: the filter and the distance that every
-- checked query of sale/src/search/pg/ used to repeat, the joined row a hit
-- is read from, the facet counts, and the understanding of a text (its
-- words, which are known, and the candidate corrections of the others) in
-- one statement.
--
-- search_filter and search_distance_m are LANGUAGE sql functions whose body
-- is one expression, neither STRICT nor SECURITY DEFINER nor with SET
-- clauses: the planner inlines them, so a query plans exactly as if the
-- predicate were written out in it (with the search pool's custom plans,
-- a filter left out, NULL, folds away) and every index still serves;
-- sale/tests/search.rs checks the plans.

-- Metres between two points on earthdistance's sphere (the haversine in
-- plain arithmetic: a function call per row cost ten times more).
CREATE FUNCTION search_distance_m(lat1 DOUBLE PRECISION, lon1 DOUBLE PRECISION,
    lat2 DOUBLE PRECISION, lon2 DOUBLE PRECISION) RETURNS DOUBLE PRECISION
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN 2 * 6378168 * asin(sqrt(
        sin(radians(lat2 - lat1) / 2) ^ 2
        + cos(radians(lat1)) * cos(radians(lat2)) * sin(radians(lon2 - lon1) / 2) ^ 2));

-- Whether a search row matches a search (NULL: that filter is not asked):
-- not cancelled; the text (a tsquery); city and genre (normalised), venue,
-- country; dates in the venue's own time (the UTC bounds, a day wider,
-- first, for the starts_at indexes; without from_day, not started yet);
-- on sale now; near a point (a latitude/longitude box for the covering
-- btree, all longitudes when the box crosses the antimeridian, then the
-- exact distance).
CREATE FUNCTION search_filter(s event_search, tsq TEXT, f_city TEXT, f_venue TEXT,
    f_country TEXT, f_genre TEXT, from_day DATE, to_day DATE, on_sale BOOLEAN,
    lat DOUBLE PRECISION, lon DOUBLE PRECISION, radius_m DOUBLE PRECISION,
    at_time TIMESTAMPTZ) RETURNS BOOLEAN
    LANGUAGE sql STABLE PARALLEL SAFE
    RETURN s.status <> 'cancelled'
        AND (tsq IS NULL OR s.doc @@ tsq::tsquery)
        AND (f_city IS NULL OR s.city_key = search_norm(f_city))
        AND (f_venue IS NULL OR s.venue_id = f_venue)
        AND (f_country IS NULL OR s.country = f_country)
        AND (f_genre IS NULL OR s.genre_key = search_norm(f_genre))
        AND s.starts_at >= COALESCE((from_day - 1)::timestamp AT TIME ZONE 'UTC', at_time)
        AND (from_day IS NULL OR s.local_start >= from_day)
        AND (to_day IS NULL
             OR (s.starts_at < (to_day + 2)::timestamp AT TIME ZONE 'UTC'
                 AND s.local_start < to_day + 1))
        AND (on_sale IS NOT TRUE OR s.sale_opens_at <= at_time)
        AND (lat IS NULL
             OR (s.lat BETWEEN lat - radius_m / 111000.0 AND lat + radius_m / 111000.0
                 AND (s.lon BETWEEN lon - radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01))
                              AND lon + radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01))
                      OR abs(lon) + radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01)) > 180)
                 AND search_distance_m(lat, lon, s.lat, s.lon) <= radius_m));

-- What a hit shows: the search row with its event's and venue's names.
CREATE VIEW search_hits AS
    SELECT s.event_id AS id, e.name, e.performers, s.venue_id, v.name AS venue_name, s.city,
        s.country, v.timezone, s.starts_at, s.local_start, s.genre, s.status, s.sale_opens_at,
        s.sold_out, s.price_min, s.price_max, s.currency, s.lat, s.lon
    FROM event_search s
    JOIN events e ON e.id = s.event_id
    JOIN venues v ON v.id = s.venue_id;

-- Facet counts of a bounded candidate set (its cities, genres and venue
-- times): the ten biggest cities and genres, up to 24 months in order.
CREATE FUNCTION search_facets(cities TEXT[], genres TEXT[], starts TIMESTAMP[]) RETURNS JSONB
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT jsonb_build_object(
        'counted', COALESCE(cardinality(cities), 0),
        'city', COALESCE((SELECT jsonb_agg(jsonb_build_object('value', v, 'count', n)
                                  ORDER BY n DESC, v)
            FROM (SELECT v, count(*) AS n FROM unnest(cities) v
                  GROUP BY v ORDER BY count(*) DESC, v LIMIT 10) c), '[]'::jsonb),
        'genre', COALESCE((SELECT jsonb_agg(jsonb_build_object('value', v, 'count', n)
                                   ORDER BY n DESC, v)
            FROM (SELECT v, count(*) AS n FROM unnest(genres) v WHERE v <> ''
                  GROUP BY v ORDER BY count(*) DESC, v LIMIT 10) g), '[]'::jsonb),
        'month', COALESCE((SELECT jsonb_agg(jsonb_build_object('value', v, 'count', n) ORDER BY v)
            FROM (SELECT to_char(t, 'YYYY-MM') AS v, count(*) AS n FROM unnest(starts) t
                  GROUP BY 1 ORDER BY 1 LIMIT 24) m), '[]'::jsonb))
$$;

-- A text's words (normalised, at most 10), whether the lexicon knows each,
-- and for each unknown word of 3 characters or more its candidate
-- corrections: the known words one edit away (a deletion, a swap of two
-- neighbours, a substitution or an insertion of a-z, 0-9 or one of the
-- word's own letters; words of at most 12 characters), looked up exactly,
-- and its trigram neighbours. One row per (word, candidate); a word with
-- no candidate has one row with a NULL candidate. The caller ranks them
-- (sale/src/search/typo.rs).
CREATE FUNCTION search_understand(query TEXT, similar_rows INTEGER)
    RETURNS TABLE (n BIGINT, word TEXT, known BOOLEAN, candidate TEXT, freq INTEGER)
    -- The planner overestimates the generated rows a thousandfold, which
    -- would JIT-compile this millisecond query for seconds.
    LANGUAGE sql STABLE SET jit = off AS $$
    WITH words AS MATERIALIZED (
        SELECT t.n, t.word, EXISTS (SELECT 1 FROM search_words w WHERE w.word = t.word) AS known
        FROM unnest(string_to_array(search_norm(query), ' ')) WITH ORDINALITY AS t(word, n)
        WHERE t.word <> ''
        ORDER BY t.n
        LIMIT 10
    ), unknown AS (
        SELECT words.n, words.word, char_length(words.word) AS len FROM words
        WHERE NOT words.known AND char_length(words.word) >= 3
    ), variants AS (
        SELECT u.n, v.v FROM unknown u, LATERAL (
            SELECT overlay(u.word PLACING '' FROM i FOR 1) FROM generate_series(1, u.len) i
            UNION SELECT substr(u.word, 1, i - 1) || substr(u.word, i + 1, 1)
                    || substr(u.word, i, 1) || substr(u.word, i + 2)
                FROM generate_series(1, u.len - 1) i
            UNION SELECT overlay(u.word PLACING a.c FROM i FOR 1)
                FROM generate_series(1, u.len) i, LATERAL (
                    SELECT chr(x) FROM generate_series(97, 122) x
                    UNION SELECT chr(x) FROM generate_series(48, 57) x
                    UNION SELECT substr(u.word, j, 1) FROM generate_series(1, u.len) j) a(c)
            UNION SELECT substr(u.word, 1, i - 1) || a.c || substr(u.word, i)
                FROM generate_series(1, u.len + 1) i, LATERAL (
                    SELECT chr(x) FROM generate_series(97, 122) x
                    UNION SELECT chr(x) FROM generate_series(48, 57) x
                    UNION SELECT substr(u.word, j, 1) FROM generate_series(1, u.len) j) a(c)
        ) v(v)
        WHERE u.len <= 12
    ), candidates AS (
        SELECT v.n, w.word, w.freq FROM variants v JOIN search_words w ON w.word = v.v
        UNION
        SELECT u.n, s.word, s.freq FROM unknown u, LATERAL search_similar_words(u.word, similar_rows) s
    )
    SELECT w.n, w.word, w.known, c.word, c.freq
    FROM words w LEFT JOIN candidates c ON c.n = w.n AND c.word <> w.word
    ORDER BY w.n
$$;

-- What an event's search row is, written once: the incremental refresh
-- (triggers) and a bulk load (`loadtest catalog`) both insert from it. The
-- sales are looked up per event (LATERAL: an index probe on drops_by_event
-- whether one event is refreshed or a million are loaded).
CREATE VIEW search_source AS
    SELECT e.id AS event_id,
        setweight(to_tsvector('simple', search_norm(e.name || ' ' ||
            array_to_string(e.performers, ' '))), 'A')
        || setweight(to_tsvector('simple', search_norm(v.name || ' ' || v.city)), 'B')
        || setweight(to_tsvector('simple', search_norm(e.genre)), 'C') AS doc,
        v.id AS venue_id, v.city, search_norm(v.city) AS city_key, v.country, e.genre,
        search_norm(e.genre) AS genre_key, v.lat, v.lon, e.starts_at,
        e.starts_at AT TIME ZONE v.timezone AS local_start, e.status,
        sales.opens_at AS sale_opens_at, COALESCE(sales.sold_out, false) AS sold_out,
        sales.price_min, sales.price_max, sales.currency
    FROM events e
    JOIN venues v ON v.id = e.venue_id
    LEFT JOIN LATERAL (
        SELECT min(d.opens_at) FILTER (WHERE d.state <> 'closed' AND d.held < d.stock) AS opens_at,
            bool_and(d.held >= d.stock) FILTER (WHERE d.state <> 'closed') AS sold_out,
            min(p.cents) FILTER (WHERE d.state <> 'closed') AS price_min,
            max(p.cents) FILTER (WHERE d.state <> 'closed') AS price_max,
            min(d.currency) FILTER (WHERE d.state <> 'closed') AS currency
        FROM drops d
        -- A seated sale's prices are per category; a sale of units has one.
        CROSS JOIN LATERAL (
            SELECT value::BIGINT AS cents
            FROM jsonb_each_text(COALESCE(d.seating -> 'prices', '{}'::jsonb))
            WHERE d.seating IS NOT NULL
            UNION ALL SELECT d.price_cents WHERE d.seating IS NULL
        ) p
        WHERE d.event_id = e.id
    ) sales ON true;

CREATE OR REPLACE FUNCTION search_refresh(ids TEXT[]) RETURNS VOID LANGUAGE sql AS $$
    DELETE FROM event_search s WHERE s.event_id = ANY (ids)
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id);
    INSERT INTO event_search AS s (event_id, doc, venue_id, city, city_key, country, genre,
        genre_key, lat, lon, starts_at, local_start, status, sale_opens_at, sold_out,
        price_min, price_max, currency)
    SELECT src.event_id, src.doc, src.venue_id, src.city, src.city_key, src.country, src.genre,
        src.genre_key, src.lat, src.lon, src.starts_at, src.local_start, src.status,
        src.sale_opens_at, src.sold_out, src.price_min, src.price_max, src.currency
    FROM search_source src
    WHERE src.event_id = ANY (ids)
    -- In date order: a bulk load lays the table out the way searches walk it.
    ORDER BY src.starts_at
    ON CONFLICT (event_id) DO UPDATE SET doc = EXCLUDED.doc, venue_id = EXCLUDED.venue_id,
        city = EXCLUDED.city, city_key = EXCLUDED.city_key, country = EXCLUDED.country,
        genre = EXCLUDED.genre, genre_key = EXCLUDED.genre_key, lat = EXCLUDED.lat,
        lon = EXCLUDED.lon, starts_at = EXCLUDED.starts_at, local_start = EXCLUDED.local_start,
        status = EXCLUDED.status, sale_opens_at = EXCLUDED.sale_opens_at,
        sold_out = EXCLUDED.sold_out, price_min = EXCLUDED.price_min,
        price_max = EXCLUDED.price_max, currency = EXCLUDED.currency;
$$;

-- The lexicon rebuilt in two independent halves (a bulk load runs them at
-- once, after TRUNCATE search_words, search_names). Words: each lexeme of
-- the search documents with how many events have it (the documents hold
-- exactly the normalised words, so nothing is normalised twice). Names:
-- as before, each performer, venue and city with how many events name it.
CREATE FUNCTION search_rebuild_words() RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO search_words (word, freq)
    SELECT l.lexeme, count(*) FROM event_search s, unnest(s.doc) l
    WHERE length(l.lexeme) <= 64
    GROUP BY l.lexeme;
$$;

CREATE FUNCTION search_rebuild_names() RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO search_names (kind, key, label, freq)
    SELECT names.kind, key, names.label, names.freq FROM (
        SELECT 'performer' AS kind, p AS label, count(*) AS freq
            FROM events e, unnest(e.performers) p GROUP BY p
        UNION ALL SELECT 'venue', v.name, count(*)
            FROM events e JOIN venues v ON v.id = e.venue_id GROUP BY v.name
        UNION ALL SELECT 'city', v.city, count(*)
            FROM events e JOIN venues v ON v.id = e.venue_id GROUP BY v.city
    ) names, LATERAL search_name_keys(names.label) key
    WHERE key <> '';
$$;

CREATE OR REPLACE FUNCTION search_rebuild_lexicon() RETURNS VOID LANGUAGE sql AS $$
    TRUNCATE search_words, search_names;
    SELECT search_rebuild_words();
    SELECT search_rebuild_names();
$$;
