-- Less planning per search (issue 15). Every search statement is planned
-- with its actual values (the search pool's custom plans), and the fourth
-- sitting measured 3-5 ms of planning per statement. Part of it was not the
-- statements themselves but SQL functions PostgreSQL cannot inline, whose
-- bodies it parses and plans again on every call, since a LANGUAGE sql
-- function keeps no plan between calls:
--
-- - search_cells, folded to a constant while a near statement is planned
--   (two to four times per statement): a query with a FROM each time. In
--   PL/pgSQL it is plain arithmetic on cached expressions; the same cells
--   in the same order, NULL in the same cases.
-- - search_understand, a text's words and their candidate corrections
--   (unions of one-edit variants), called for every search with a text:
--   planning its body took 3-8 ms per call. In PL/pgSQL the plan is made
--   once per connection and kept (a generic plan: its parameters, a text
--   and a row count, never change its shape). And its variants are looked
--   up by the lexicon's key: the join it had hashed all 61,000 words of
--   the lexicon on every call (13 ms at a million events, a known text
--   too), the mix's second biggest cost after the relevance statement.
-- - search_similar_words and search_similar_names (trigram neighbours,
--   for typos and suggestions): the same, their plans kept per connection.
--
-- Same signatures and results: the callers do not change.

CREATE OR REPLACE FUNCTION search_cells(lat DOUBLE PRECISION, lon DOUBLE PRECISION,
    radius_m DOUBLE PRECISION) RETURNS INTEGER[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    lat_lo DOUBLE PRECISION := lat - radius_m / 111000.0;
    lat_hi DOUBLE PRECISION := lat + radius_m / 111000.0;
    d_lon DOUBLE PRECISION := radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01));
    r_lo INTEGER; r_hi INTEGER; c_lo INTEGER; c_hi INTEGER;
    cells INTEGER[] := '{}';
BEGIN
    IF lat IS NULL OR lon IS NULL OR radius_m IS NULL
        OR lat_lo < -90 OR lat_hi > 90 OR abs(lon) + d_lon > 180 THEN
        RETURN NULL;
    END IF;
    r_lo := floor((lat_lo + 90) * 2); r_hi := floor((lat_hi + 90) * 2);
    c_lo := floor((lon - d_lon + 180) * 2); c_hi := floor((lon + d_lon + 180) * 2);
    IF (r_hi - r_lo + 1) * (c_hi - c_lo + 1) > 64 THEN
        RETURN NULL;
    END IF;
    FOR r IN r_lo .. r_hi LOOP
        FOR c IN c_lo .. least(c_hi, 719) LOOP
            cells := cells || (r * 720 + c);
        END LOOP;
    END LOOP;
    RETURN cells;
END
$$;

CREATE OR REPLACE FUNCTION search_understand(query TEXT, similar_rows INTEGER)
    RETURNS TABLE (n BIGINT, word TEXT, known BOOLEAN, candidate TEXT, freq INTEGER)
    -- The planner overestimates the generated rows a thousandfold, which
    -- would JIT-compile this millisecond query for seconds.
    LANGUAGE plpgsql STABLE SET jit = off SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
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
        -- Each word's variants looked up as one array: an index probe per
        -- variant. (Joined row by row, the planner expected thousands of
        -- variants and hashed the whole lexicon, 61,000 words, on every
        -- call: 13 ms, even when every word was known.)
        SELECT v.n, w.word, w.freq
        FROM (SELECT variants.n, array_agg(variants.v) AS vs FROM variants GROUP BY variants.n) v
        JOIN search_words w ON w.word = ANY (v.vs)
        UNION
        SELECT u.n, s.word, s.freq FROM unknown u, LATERAL search_similar_words(u.word, similar_rows) s
    )
    SELECT w.n, w.word, w.known, c.word, c.freq
    FROM words w LEFT JOIN candidates c ON c.n = w.n AND c.word <> w.word
    ORDER BY w.n;
END
$$;

CREATE OR REPLACE FUNCTION search_similar_words(term TEXT, max_rows INTEGER)
    RETURNS TABLE (word TEXT, freq INTEGER)
    LANGUAGE plpgsql STABLE
    SET pg_trgm.similarity_threshold = 0.25 SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT w.word, w.freq FROM search_words w
    WHERE w.word % term
    ORDER BY similarity(w.word, term) DESC, w.freq DESC
    LIMIT max_rows;
END
$$;

CREATE OR REPLACE FUNCTION search_similar_names(term TEXT, max_rows INTEGER)
    RETURNS TABLE (kind TEXT, label TEXT, freq INTEGER)
    LANGUAGE plpgsql STABLE
    SET pg_trgm.similarity_threshold = 0.35 SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT n.kind, n.label, max(n.freq) FROM (
        SELECT s.kind, s.label, s.freq, similarity(s.key, term) AS sim FROM search_names s
        WHERE s.key % term ORDER BY sim DESC, s.freq DESC LIMIT max_rows * 4
    ) n GROUP BY n.kind, n.label ORDER BY max(n.sim) DESC, max(n.freq) DESC LIMIT max_rows;
END
$$;

-- search_facets, called once per first page: its body (three grouped
-- subqueries) was planned on every call, 1-2 ms of the 6 ms it took over
-- 1,001 candidates. The same JSON, from a plan kept per connection.
CREATE OR REPLACE FUNCTION search_facets(cities TEXT[], genres TEXT[], starts TIMESTAMP[])
    RETURNS JSONB
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE SET plan_cache_mode = force_generic_plan AS $$
BEGIN
    RETURN jsonb_build_object(
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
                      GROUP BY 1 ORDER BY 1 LIMIT 24) m), '[]'::jsonb));
END
$$;

-- Suggestions, most used first: the names with a key starting with what a
-- fan typed are read in the order of their use (freq), and only the first
-- limit × 4 of them are grouped (a name has at most 4 keys, so the first
-- `limit` names are among them: the same answer). A short or common prefix
-- ("a", "the", "dj": 20,000-30,000 keys, 30-85 ms read, grouped and sorted)
-- walks this index from the most used name and stops after a few rows; a
-- rare one still reads its few keys through search_names_prefix.
CREATE INDEX search_names_by_freq ON search_names (freq DESC, label, kind) INCLUDE (key);
