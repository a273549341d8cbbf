-- Search answers cached in the sale service, and a faster bulk load.
--
-- The search's change generation: a sequence every statement that writes
-- the search tables moves (statement-level triggers: one step per
-- statement, however many rows; a bulk load pays nothing per row). The
-- sale service reads it before each search and serves a cached answer only
-- if it was computed at the same generation, so a change committed before
-- a search starts is always seen (sale/src/search/cache.rs). A sequence,
-- not a counter row: writers never wait for each other on it, and the value
-- moves even when the writing transaction rolls back (a needless miss, not
-- a stale hit). Reading it on a standby sees it move with the WAL, in steps
-- of up to 32: a replica's answers then expire by age (10 s) at worst.

CREATE SEQUENCE search_generation;

CREATE FUNCTION search_generation_bump() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM nextval('search_generation');
    RETURN NULL;
END $$;

CREATE TRIGGER event_search_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON event_search
    FOR EACH STATEMENT EXECUTE FUNCTION search_generation_bump();
CREATE TRIGGER search_words_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON search_words
    FOR EACH STATEMENT EXECUTE FUNCTION search_generation_bump();
CREATE TRIGGER search_names_generation
    AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON search_names
    FOR EACH STATEMENT EXECUTE FUNCTION search_generation_bump();

-- The three weighted parts of an event's search document, written once:
-- `search_source` (the triggers' refresh) and a bulk load (`loadtest
-- catalog`, which computes a venue's part once per venue and a genre's
-- once per genre rather than once per event) both build from them. Inlined
-- (LANGUAGE sql, one expression), so the view computes exactly what it did.
CREATE FUNCTION search_event_doc(name TEXT, performers TEXT[]) RETURNS TSVECTOR
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN setweight(to_tsvector('simple', search_norm(name || ' ' ||
        array_to_string(performers, ' '))), 'A');
CREATE FUNCTION search_place_doc(venue TEXT, city TEXT) RETURNS TSVECTOR
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN setweight(to_tsvector('simple', search_norm(venue || ' ' || city)), 'B');
CREATE FUNCTION search_genre_doc(genre TEXT) RETURNS TSVECTOR
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN setweight(to_tsvector('simple', search_norm(genre)), 'C');

CREATE OR REPLACE VIEW search_source AS
    SELECT e.id AS event_id,
        search_event_doc(e.name, e.performers) || search_place_doc(v.name, v.city)
            || search_genre_doc(e.genre) AS doc,
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

-- The keys of a name, inlinable: a STRICT set-returning function is called
-- once per name (a bulk load's 160,000 names: 11.5 s for the performers'
-- keys, 3.2 s inlined). Not STRICT, so the NULL guard is written out (the
-- same rows as before for every label, NULL included).
CREATE OR REPLACE FUNCTION search_name_keys(label TEXT) RETURNS SETOF TEXT
    LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT array_to_string(words[i:], ' ')
    FROM (SELECT string_to_array(search_norm(label), ' ') AS words) w,
        generate_series(1, least(cardinality(words), 4)) i
    WHERE label IS NOT NULL
$$;
