-- Editing events and venues (operator console and PATCH): a version per
-- row for optimistic concurrency (an edit names the version it was made
-- from, If-Match; a stale one is refused instead of silently overwriting
-- another operator's change), and a venue's new words reach the search
-- lexicon and suggestions.

ALTER TABLE events ADD COLUMN version BIGINT NOT NULL DEFAULT 1;
ALTER TABLE venues ADD COLUMN version BIGINT NOT NULL DEFAULT 1;

-- Adds a venue's words and names to the lexicon, counted once per event
-- held there (what search_learn does for an event's own fields).
CREATE FUNCTION search_learn_venue(venue_id TEXT) RETURNS VOID LANGUAGE sql AS $$
    INSERT INTO search_words AS w (word, freq)
    SELECT word, n FROM (
        SELECT DISTINCT regexp_split_to_table(search_norm(v.name || ' ' || v.city), ' ') AS word,
            (SELECT count(*) FROM events e WHERE e.venue_id = v.id)::INTEGER AS n
        FROM venues v WHERE v.id = search_learn_venue.venue_id
    ) words WHERE word <> '' AND length(word) <= 64 AND n > 0
    ON CONFLICT (word) DO UPDATE SET freq = w.freq + EXCLUDED.freq;
    INSERT INTO search_names AS s (kind, key, label, freq)
    SELECT DISTINCT names.kind, key, names.label, names.n FROM (
        SELECT 'venue' AS kind, v.name AS label,
            (SELECT count(*) FROM events e WHERE e.venue_id = v.id)::INTEGER AS n
            FROM venues v WHERE v.id = search_learn_venue.venue_id
        UNION ALL SELECT 'city', v.city,
            (SELECT count(*) FROM events e WHERE e.venue_id = v.id)::INTEGER
            FROM venues v WHERE v.id = search_learn_venue.venue_id
    ) names, LATERAL search_name_keys(names.label) key
    WHERE key <> '' AND names.n > 0
    ON CONFLICT (kind, key, label) DO UPDATE SET freq = s.freq + EXCLUDED.freq;
$$;

CREATE OR REPLACE FUNCTION search_on_venue() RETURNS TRIGGER LANGUAGE plpgsql AS $$
BEGIN
    PERFORM search_refresh(ARRAY(SELECT id FROM events WHERE venue_id = NEW.id));
    IF OLD.name <> NEW.name OR OLD.city <> NEW.city THEN
        PERFORM search_learn_venue(NEW.id);
    END IF;
    RETURN NULL;
END $$;
