-- Event search: one denormalised row per event (event_search) with a
-- weighted full-text document, the venue's place and time zone and the
-- state of its sales; a lexicon of distinct words (typo correction) and of
-- names (suggestions). Triggers keep both in step with events, venues and
-- drops; bulk loads disable them and call search_refresh_all().
--
-- Text is normalised by search_norm(): unaccented, lower case, every run of
-- characters that are neither letters nor digits made one space. unaccent()
-- is only STABLE (its dictionary could change), so the IMMUTABLE wrapper is
-- what lets expressions over it be indexed; rebuild the indexes if the
-- unaccent rules ever change.

CREATE EXTENSION IF NOT EXISTS pg_trgm;
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS cube;
CREATE EXTENSION IF NOT EXISTS earthdistance;

CREATE FUNCTION search_norm(t TEXT) RETURNS TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN btrim(regexp_replace(
        lower(public.unaccent('public.unaccent'::regdictionary, t)),
        '[^[:alnum:]]+', ' ', 'g'));

-- A point on the earth for the GiST index (earthdistance's ll_to_earth,
-- schema-qualified so it works whatever the search_path).
CREATE FUNCTION search_earth(lat DOUBLE PRECISION, lon DOUBLE PRECISION) RETURNS public.cube
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN public.cube(public.cube(public.cube(
        public.earth() * cos(radians(lat)) * cos(radians(lon))),
        public.earth() * cos(radians(lat)) * sin(radians(lon))),
        public.earth() * sin(radians(lat)));

CREATE TABLE event_search (
    event_id      TEXT PRIMARY KEY REFERENCES events (id) ON DELETE CASCADE,
    -- Name and performers weigh A, venue and city B, genre C.
    doc           TSVECTOR NOT NULL,
    venue_id      TEXT NOT NULL,
    city          TEXT NOT NULL,
    -- search_norm(city), search_norm(genre): what the filters compare.
    city_key      TEXT NOT NULL,
    country       TEXT NOT NULL,
    genre         TEXT NOT NULL,
    genre_key     TEXT NOT NULL,
    lat           DOUBLE PRECISION NOT NULL,
    lon           DOUBLE PRECISION NOT NULL,
    starts_at     TIMESTAMPTZ NOT NULL,
    -- The wall-clock start at the venue: date filters and month facets.
    local_start   TIMESTAMP NOT NULL,
    status        TEXT NOT NULL,
    -- The earliest opening of a sale of this event that is not closed and
    -- has tickets left (NULL: none). On sale now: sale_opens_at <= now.
    sale_opens_at TIMESTAMPTZ,
    -- Has sales, and every one not closed is sold out.
    sold_out      BOOLEAN NOT NULL,
    price_min     BIGINT,
    price_max     BIGINT,
    currency      TEXT
);
-- GIN without a pending list (fastupdate off): a search never scans a list
-- of unmerged entries after a burst of changes; writes are a little slower.
CREATE INDEX event_search_doc ON event_search USING gin (doc) WITH (fastupdate = off);
CREATE INDEX event_search_by_start ON event_search (starts_at, event_id);
CREATE INDEX event_search_by_city ON event_search (city_key, starts_at);
CREATE INDEX event_search_by_venue ON event_search (venue_id, starts_at);
CREATE INDEX event_search_by_genre ON event_search (genre_key, starts_at);
CREATE INDEX event_search_by_country ON event_search (country, starts_at);
-- Near a point: a latitude/longitude box (btree, covering what the near
-- searches and their facets read: index-only; the radius is at most 500 km,
-- so nearest-first sorts the box's rows rather than walking a GiST index).
CREATE INDEX event_search_by_lat ON event_search (lat, lon)
    INCLUDE (starts_at, event_id, status, city, genre, local_start);

-- Distinct words of names, performers, venues, cities and genres, with how
-- many events use them: what a misspelt word is corrected to.
CREATE TABLE search_words (
    word TEXT PRIMARY KEY,
    freq INTEGER NOT NULL
);
CREATE INDEX search_words_trgm ON search_words USING gin (word gin_trgm_ops)
    WITH (fastupdate = off);

-- Names a fan may be typing: performers, venues, cities. `key` is the
-- normalised name, or the name from one of its later words on ("swift" for
-- "Taylor Swift"), so a prefix of any word finds it.
CREATE TABLE search_names (
    kind  TEXT NOT NULL CHECK (kind IN ('performer', 'venue', 'city')),
    key   TEXT NOT NULL,
    label TEXT NOT NULL,
    freq  INTEGER NOT NULL,
    PRIMARY KEY (kind, key, label)
);
CREATE INDEX search_names_prefix ON search_names (key text_pattern_ops, freq DESC);
CREATE INDEX search_names_trgm ON search_names USING gin (key gin_trgm_ops)
    WITH (fastupdate = off);

-- Rebuilds the search rows of the given events (deleting those gone).
CREATE FUNCTION search_refresh(ids TEXT[]) RETURNS VOID LANGUAGE sql AS $$
    DELETE FROM event_search s WHERE s.event_id = ANY (ids)
        AND NOT EXISTS (SELECT 1 FROM events e WHERE e.id = s.event_id);
    INSERT INTO event_search AS s (event_id, doc, venue_id, city, city_key, country, genre,
        genre_key, lat, lon, starts_at, local_start, status, sale_opens_at, sold_out,
        price_min, price_max, currency)
    SELECT e.id,
        setweight(to_tsvector('simple', search_norm(e.name || ' ' ||
            array_to_string(e.performers, ' '))), 'A')
        || setweight(to_tsvector('simple', search_norm(v.name || ' ' || v.city)), 'B')
        || setweight(to_tsvector('simple', search_norm(e.genre)), 'C'),
        v.id, v.city, search_norm(v.city), v.country, e.genre, search_norm(e.genre),
        v.lat, v.lon, e.starts_at, e.starts_at AT TIME ZONE v.timezone, e.status,
        sales.opens_at, COALESCE(sales.sold_out, false),
        sales.price_min, sales.price_max, sales.currency
    FROM events e
    JOIN venues v ON v.id = e.venue_id
    LEFT JOIN (
        SELECT d.event_id,
            min(d.opens_at) FILTER (WHERE d.state <> 'closed' AND d.held < d.stock) AS opens_at,
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
        WHERE d.event_id = ANY (ids)
        GROUP BY d.event_id
    ) sales ON sales.event_id = e.id
    WHERE e.id = ANY (ids)
    -- In date order: a bulk load lays the table out the way searches walk it.
    ORDER BY e.starts_at
    ON CONFLICT (event_id) DO UPDATE SET doc = EXCLUDED.doc, venue_id = EXCLUDED.venue_id,
        city = EXCLUDED.city, city_key = EXCLUDED.city_key, country = EXCLUDED.country,
        genre = EXCLUDED.genre, genre_key = EXCLUDED.genre_key, lat = EXCLUDED.lat,
        lon = EXCLUDED.lon, starts_at = EXCLUDED.starts_at, local_start = EXCLUDED.local_start,
        status = EXCLUDED.status, sale_opens_at = EXCLUDED.sale_opens_at,
        sold_out = EXCLUDED.sold_out, price_min = EXCLUDED.price_min,
        price_max = EXCLUDED.price_max, currency = EXCLUDED.currency;
$$;

-- The keys a name is found under: its normalised form and its tail from
-- each later word on (at most 4 words in).
CREATE FUNCTION search_name_keys(label TEXT) RETURNS SETOF TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT AS $$
    SELECT array_to_string(words[i:], ' ')
    FROM (SELECT string_to_array(search_norm(label), ' ') AS words) w,
        generate_series(1, least(cardinality(words), 4)) i
$$;

-- Adds one event's words and names to the lexicon (counts only grow;
-- search_rebuild_lexicon() recounts).
CREATE FUNCTION search_learn(event_id TEXT) RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO search_words AS w (word, freq)
    SELECT word, 1 FROM (
        SELECT DISTINCT regexp_split_to_table(search_norm(e.name || ' ' ||
            array_to_string(e.performers, ' ') || ' ' || v.name || ' ' || v.city || ' ' ||
            e.genre), ' ') AS word
        FROM events e JOIN venues v ON v.id = e.venue_id WHERE e.id = search_learn.event_id
    ) words WHERE word <> '' AND length(word) <= 64
    ON CONFLICT (word) DO UPDATE SET freq = w.freq + 1;
    INSERT INTO search_names AS n (kind, key, label, freq)
    SELECT DISTINCT kind, key, label, 1 FROM (
        SELECT 'performer' AS kind, p AS label FROM events e, unnest(e.performers) p
            WHERE e.id = search_learn.event_id
        UNION ALL SELECT 'venue', v.name FROM events e JOIN venues v ON v.id = e.venue_id
            WHERE e.id = search_learn.event_id
        UNION ALL SELECT 'city', v.city FROM events e JOIN venues v ON v.id = e.venue_id
            WHERE e.id = search_learn.event_id
    ) names, LATERAL search_name_keys(label) key
    WHERE key <> ''
    ON CONFLICT (kind, key, label) DO UPDATE SET freq = n.freq + 1;
$$;

-- Recounts the whole lexicon from the events (after a bulk load): a word's
-- count is how often the events use it; a name's, how many events name it.
CREATE FUNCTION search_rebuild_lexicon() RETURNS VOID LANGUAGE sql AS $$
    TRUNCATE search_words, search_names;
    INSERT INTO search_words (word, freq)
    SELECT word, count(*) FROM (
        SELECT regexp_split_to_table(search_norm(e.name || ' ' ||
            array_to_string(e.performers, ' ') || ' ' || v.name || ' ' || v.city || ' ' ||
            e.genre), ' ') AS word
        FROM events e JOIN venues v ON v.id = e.venue_id
    ) words WHERE word <> '' AND length(word) <= 64
    GROUP BY word;
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

CREATE FUNCTION search_refresh_all() RETURNS VOID LANGUAGE sql AS $$
    SELECT search_refresh(array_agg(id)) FROM events;
$$;

-- Candidate corrections of a misspelt word: lexicon words sharing enough
-- trigrams with it (the threshold is lower than pg_trgm's default 0.3 so
-- that short words with one typo still come up). The caller ranks them.
CREATE FUNCTION search_similar_words(term TEXT, max_rows INTEGER)
    RETURNS TABLE (word TEXT, freq INTEGER)
    LANGUAGE sql STABLE
    SET pg_trgm.similarity_threshold = 0.25 AS $$
    SELECT w.word, w.freq FROM search_words w
    WHERE w.word % term
    ORDER BY similarity(w.word, term) DESC, w.freq DESC
    LIMIT max_rows
$$;

-- Names similar to what a fan typed, for suggestions when no prefix
-- matches (a typo).
CREATE FUNCTION search_similar_names(term TEXT, max_rows INTEGER)
    RETURNS TABLE (kind TEXT, label TEXT, freq INTEGER)
    LANGUAGE sql STABLE
    SET pg_trgm.similarity_threshold = 0.35 AS $$
    SELECT n.kind, n.label, max(n.freq) FROM (
        SELECT kind, label, freq, similarity(key, term) AS sim FROM search_names
        WHERE key % term ORDER BY sim DESC, freq DESC LIMIT max_rows * 4
    ) n GROUP BY n.kind, n.label ORDER BY max(n.sim) DESC, max(n.freq) DESC LIMIT max_rows
$$;

-- Triggers: an event changes (its row and its words); a venue changes (all
-- its events); a sale of an event opens, closes, changes price or sells
-- out (not on every order: only when `held` crosses `stock`).
CREATE FUNCTION search_on_event() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_refresh(ARRAY[NEW.id]);
    IF TG_OP = 'INSERT' OR OLD.name <> NEW.name OR OLD.performers <> NEW.performers
        OR OLD.venue_id <> NEW.venue_id OR OLD.genre <> NEW.genre THEN
        PERFORM search_learn(NEW.id);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER event_search_event AFTER INSERT OR UPDATE ON events
    FOR EACH ROW EXECUTE FUNCTION search_on_event();

CREATE FUNCTION search_on_venue() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_refresh(ARRAY(SELECT id FROM events WHERE venue_id = NEW.id));
    RETURN NULL;
END $$;
CREATE TRIGGER event_search_venue AFTER UPDATE OF name, city, country, timezone, lat, lon
    ON venues FOR EACH ROW EXECUTE FUNCTION search_on_venue();

CREATE FUNCTION search_on_drop() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        PERFORM search_refresh(ARRAY[NEW.event_id]);
    ELSE
        PERFORM search_refresh(ARRAY[OLD.event_id, NEW.event_id]);
    END IF;
    RETURN NULL;
END $$;
CREATE TRIGGER event_search_drop_new AFTER INSERT ON drops
    FOR EACH ROW WHEN (NEW.event_id IS NOT NULL) EXECUTE FUNCTION search_on_drop();
CREATE TRIGGER event_search_drop_change AFTER UPDATE ON drops
    FOR EACH ROW WHEN ((OLD.event_id IS NOT NULL OR NEW.event_id IS NOT NULL) AND (
        OLD.event_id IS DISTINCT FROM NEW.event_id OR OLD.state <> NEW.state
        OR OLD.opens_at <> NEW.opens_at OR OLD.price_cents <> NEW.price_cents
        OR OLD.currency <> NEW.currency OR OLD.seating IS DISTINCT FROM NEW.seating
        OR (OLD.held >= OLD.stock) <> (NEW.held >= NEW.stock)))
    EXECUTE FUNCTION search_on_drop();

-- Events that exist already.
SELECT search_refresh_all();
SELECT search_rebuild_lexicon();
