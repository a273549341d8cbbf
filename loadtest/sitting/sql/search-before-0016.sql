-- The search functions as they were before migration 0016 (from 0006, 0009 and
-- 0014), for a before/after on one loaded catalog: loadtest/sitting/search-plans.

CREATE OR REPLACE FUNCTION search_cells(lat DOUBLE PRECISION, lon DOUBLE PRECISION,
    radius_m DOUBLE PRECISION) RETURNS INTEGER[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN b.lat_lo < -90 OR b.lat_hi > 90 OR abs(lon) + b.d_lon > 180 THEN NULL
        WHEN (floor((b.lat_hi + 90) * 2) - floor((b.lat_lo + 90) * 2) + 1)
            * (floor((lon + b.d_lon + 180) * 2) - floor((lon - b.d_lon + 180) * 2) + 1) > 64
            THEN NULL
        ELSE (SELECT array_agg(r * 720 + c ORDER BY r, c)
              FROM generate_series(floor((b.lat_lo + 90) * 2)::INTEGER,
                                   floor((b.lat_hi + 90) * 2)::INTEGER) r,
                   generate_series(floor((lon - b.d_lon + 180) * 2)::INTEGER,
                                   least(floor((lon + b.d_lon + 180) * 2)::INTEGER, 719)) c)
        END
    FROM (SELECT lat - radius_m / 111000.0 AS lat_lo, lat + radius_m / 111000.0 AS lat_hi,
            radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01)) AS d_lon) b
    WHERE lat IS NOT NULL AND lon IS NOT NULL AND radius_m IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION search_understand(query TEXT, similar_rows INTEGER)
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

CREATE OR REPLACE FUNCTION search_facets(cities TEXT[], genres TEXT[], starts TIMESTAMP[]) RETURNS JSONB
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

CREATE OR REPLACE FUNCTION search_similar_words(term TEXT, max_rows INTEGER)
    RETURNS TABLE (word TEXT, freq INTEGER)
    LANGUAGE sql STABLE
    SET pg_trgm.similarity_threshold = 0.25 AS $$
    SELECT w.word, w.freq FROM search_words w
    WHERE w.word % term
    ORDER BY similarity(w.word, term) DESC, w.freq DESC
    LIMIT max_rows
$$;

CREATE OR REPLACE FUNCTION search_similar_names(term TEXT, max_rows INTEGER)
    RETURNS TABLE (kind TEXT, label TEXT, freq INTEGER)
    LANGUAGE sql STABLE
    SET pg_trgm.similarity_threshold = 0.35 AS $$
    SELECT n.kind, n.label, max(n.freq) FROM (
        SELECT kind, label, freq, similarity(key, term) AS sim FROM search_names
        WHERE key % term ORDER BY sim DESC, freq DESC LIMIT max_rows * 4
    ) n GROUP BY n.kind, n.label ORDER BY max(n.sim) DESC, max(n.freq) DESC LIMIT max_rows
$$;
DROP INDEX IF EXISTS search_names_by_freq;
