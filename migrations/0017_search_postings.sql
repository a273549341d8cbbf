-- The soonest matches of a common word without reading all its matches
-- (issue 15, the relevance statement's tail).
--
-- A search by relevance ranks the CANDIDATES (1,001) soonest matches of its
-- text. For a text of common words PostgreSQL had two ways to find them,
-- neither bounded: walk event_search_by_start and drop the rows that do not
-- match (1,001 / selectivity rows: "lisboa" read 83,894), or take every
-- match through the GIN index and sort them ("billie & eilish", two words
-- the planner takes for independent though they always come together:
-- 16,226 matches on 13,164 heap pages). The GIN's posting lists know no
-- time, so the soonest of them cannot be read first.
--
-- search_postings holds, for the common lexemes (search_posted: those in
-- 3,000 to 60,000 events by default: 316 lexemes and 4.2 million postings,
-- 245 + 204 MiB, at a million events), one row per (lexeme, event) in time
-- order. A search by relevance with a text of words alone (and dates, see
-- search_walk_words) whose rarest word is posted walks that word's
-- postings from its first day on, soonest first, and checks each event
-- against the whole search (search_filter) until it has its candidates:
-- about 1,001 / (how often the other words come with it) rows. The walk
-- is tried only when half of the word's first 200 postings match, and
-- bounded (2 × the candidates): if it is not tried, or neither finds all
-- the candidates nor runs out of postings first, the search takes the GIN
-- path as before. The candidates are the same either way: every match has the
-- word, so the word's postings in order hold the soonest matches in
-- order. A rarer word keeps the GIN (at most 3,000 matches to sort); a
-- word in more than 60,000 events keeps the walk of event_search_by_start
-- (about 1,001 / 6 % = 17,000 rows at most when its words come together),
-- which their postings, most of the table, would not be worth.
--
-- The postings are kept by triggers on event_search (an event's postings
-- follow its document and its start), complete for every posted lexeme.
-- A bulk load empties search_posted first (the triggers then do nothing)
-- and calls search_rebuild_postings() after the lexicon. A word that
-- becomes common later is searched as before until the next rebuild
-- (correct, only not faster).

CREATE TABLE search_posted (
    lexeme TEXT PRIMARY KEY
);

CREATE TABLE search_postings (
    lexeme    TEXT NOT NULL,
    starts_at TIMESTAMPTZ NOT NULL,
    event_id  TEXT NOT NULL,
    PRIMARY KEY (lexeme, starts_at, event_id)
);

-- An event's postings follow its document and its start: statement
-- triggers over the rows a statement wrote (one INSERT per statement, not a
-- call per row; with nothing posted, as during a bulk load, they do
-- nothing).
CREATE FUNCTION search_postings_inserted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM search_posted) THEN
        INSERT INTO search_postings (lexeme, starts_at, event_id)
        SELECT d.lexeme, n.starts_at, n.event_id
        FROM new_rows n, unnest(tsvector_to_array(n.doc)) l(lexeme)
        JOIN search_posted d ON d.lexeme = l.lexeme;
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION search_postings_deleted() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM search_posted) THEN
        DELETE FROM search_postings p USING old_rows o
        WHERE p.lexeme = ANY (tsvector_to_array(o.doc))
            AND p.starts_at = o.starts_at AND p.event_id = o.event_id;
    END IF;
    RETURN NULL;
END $$;

-- search_refresh rewrites every column of a row on each change of a sale:
-- only a new document or start moves its postings.
CREATE FUNCTION search_postings_updated() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM search_posted) THEN
        DELETE FROM search_postings p USING old_rows o
        WHERE NOT EXISTS (SELECT 1 FROM new_rows n WHERE n.event_id = o.event_id
                AND n.starts_at = o.starts_at AND n.doc = o.doc)
            AND p.lexeme = ANY (tsvector_to_array(o.doc))
            AND p.starts_at = o.starts_at AND p.event_id = o.event_id;
        INSERT INTO search_postings (lexeme, starts_at, event_id)
        SELECT d.lexeme, n.starts_at, n.event_id
        FROM new_rows n, unnest(tsvector_to_array(n.doc)) l(lexeme)
        JOIN search_posted d ON d.lexeme = l.lexeme
        WHERE NOT EXISTS (SELECT 1 FROM old_rows o WHERE o.event_id = n.event_id
                AND o.starts_at = n.starts_at AND o.doc = n.doc);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER event_search_postings_insert AFTER INSERT ON event_search
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_inserted();
CREATE TRIGGER event_search_postings_update AFTER UPDATE ON event_search
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_updated();
CREATE TRIGGER event_search_postings_delete AFTER DELETE ON event_search
    REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_deleted();

CREATE FUNCTION search_postings_truncate() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    TRUNCATE search_postings;
    RETURN NULL;
END $$;
CREATE TRIGGER event_search_postings_truncate AFTER TRUNCATE ON event_search
    FOR EACH STATEMENT EXECUTE FUNCTION search_postings_truncate();

-- Posts the lexemes the lexicon counts in min_freq to max_freq events
-- (after a bulk load, search_rebuild_words() has just counted them
-- exactly) and writes their postings from the search rows, the key built
-- after them (one sorted build: 4 million postings in 19 s where inserting
-- them in order into the key took 26-45 s). Writers of event_search wait
-- meanwhile (SHARE): an event written during the rebuild could otherwise
-- miss a posting of a lexeme posted by it; searches wait for the new
-- postings (TRUNCATE).
CREATE FUNCTION search_rebuild_postings(min_freq INTEGER DEFAULT 3000,
    max_freq INTEGER DEFAULT 60000) RETURNS VOID
    LANGUAGE sql AS $$
    LOCK TABLE event_search IN SHARE MODE;
    TRUNCATE search_posted, search_postings;
    ALTER TABLE search_postings DROP CONSTRAINT search_postings_pkey;
    INSERT INTO search_posted (lexeme)
    SELECT w.word FROM search_words w WHERE w.freq BETWEEN min_freq AND max_freq;
    INSERT INTO search_postings (lexeme, starts_at, event_id)
    SELECT d.lexeme, s.starts_at, s.event_id
    FROM event_search s, unnest(tsvector_to_array(s.doc)) l(lexeme)
    JOIN search_posted d ON d.lexeme = l.lexeme;
    ALTER TABLE search_postings ADD CONSTRAINT search_postings_pkey
        PRIMARY KEY (lexeme, starts_at, event_id);
$$;

-- The words a postings walk may take, folded to a constant while a search
-- is planned (IMMUTABLE, the search pool's custom plans): the lexemes of a
-- text that is only lexemes AND-ed (every match has each of them; a word
-- taken as a prefix or corrected several ways makes it none), when no
-- other filter than dates is asked (another filter drops most of a word's
-- events, and the walk would end at its bound). NULL otherwise.
CREATE FUNCTION search_walk_words(tsq TEXT, f_city TEXT, f_venue TEXT, f_country TEXT,
    f_genre TEXT, on_sale BOOLEAN, lat DOUBLE PRECISION) RETURNS TEXT[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE AS $$
DECLARE
    normal TEXT;
BEGIN
    IF tsq IS NULL OR f_city IS NOT NULL OR f_venue IS NOT NULL OR f_country IS NOT NULL
        OR f_genre IS NOT NULL OR on_sale IS TRUE OR lat IS NOT NULL THEN
        RETURN NULL;
    END IF;
    normal := tsq::tsquery::text;
    IF normal !~ '^''[^'' ]+''( & ''[^'' ]+'')*$' THEN
        RETURN NULL;
    END IF;
    RETURN ARRAY(SELECT DISTINCT m[1] FROM regexp_matches(normal, '''([^'' ]+)''', 'g') m
                 ORDER BY 1);
END
$$;

SELECT search_rebuild_postings();
ANALYZE search_posted, search_postings;
