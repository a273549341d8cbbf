-- Near a point, with indexes that read the neighbourhood and not a band
-- around the earth.
--
-- The covering (lat, lon) btree of 0006 read every event of the search's
-- latitude band, whatever its longitude (16,907 index rows for Köln 25 km,
-- and the planner, taking latitude and longitude for independent, expected
-- 628 where a city holds tens of thousands). It is replaced by two:
--
-- - A grid of half-degree cells (search_cell: ~55 km north-south, fewer
--   east-west away from the equator) before the start in one covering
--   btree. A search near a point lists the cells its box covers
--   (search_cells: a few for the radii fans use) and walks each cell's
--   events soonest first, stopping at the page (or at the facets' bound):
--   date-sorted near searches and the facets of a search by distance read
--   at most that many rows per cell, not the whole box.
-- - A GiST index on the point (longitude, latitude): nearest first is a
--   nearest-neighbour walk (`<->`) within the box, which gives the page's
--   count of matches near the point by a flat distance in degrees; the
--   farthest of them by the great-circle distance bounds the page, and
--   the matches within that distance (a small box, the same index) are
--   ordered exactly. (A GiST index on earthdistance's cube, whose `<->`
--   orders exactly, took 107 s to build at a million events, where this
--   one sorts its build.)
--
-- Both keep the exact great-circle filter of search_filter on the rows they
-- give. search_cells is IMMUTABLE: planned with its actual values (the
-- search pool's custom plans) it is folded to a constant array, or to NULL
-- when the box covers more than 64 cells, crosses the antimeridian or
-- reaches a pole; then the search takes the general path (search_filter's
-- box, the start-time index), as does a search with a text (its GIN index
-- is the narrower).

DROP INDEX event_search_by_lat;

-- The cell of a point: 720 half-degree columns of longitude per
-- half-degree row of latitude.
CREATE FUNCTION search_cell(lat DOUBLE PRECISION, lon DOUBLE PRECISION) RETURNS INTEGER
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN floor((lat + 90) * 2)::INTEGER * 720 + least(floor((lon + 180) * 2)::INTEGER, 719);

-- The cells covering search_filter's box around a point (the same box), in
-- order; NULL when not near a point, or when the box has more than 64
-- cells, crosses the antimeridian or reaches a pole.
CREATE FUNCTION search_cells(lat DOUBLE PRECISION, lon DOUBLE PRECISION,
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

-- Covering what a date-sorted near search and its facets read (index-only).
CREATE INDEX event_search_by_cell ON event_search (search_cell(lat, lon), starts_at, event_id)
    INCLUDE (lat, lon, status, city, genre, local_start);

-- Nearest first.
CREATE INDEX event_search_by_point ON event_search USING gist (point(lon, lat));

-- search_filter's box around a point as a box of (longitude, latitude):
-- every longitude when it crosses the antimeridian.
CREATE FUNCTION search_box(lat DOUBLE PRECISION, lon DOUBLE PRECISION,
    radius_m DOUBLE PRECISION) RETURNS BOX
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN CASE
        WHEN abs(lon) + radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01)) > 180
            THEN box(point(-180, lat - radius_m / 111000.0), point(180, lat + radius_m / 111000.0))
        ELSE box(
            point(lon - radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01)),
                  lat - radius_m / 111000.0),
            point(lon + radius_m / (111000.0 * greatest(cos(radians(lat)), 0.01)),
                  lat + radius_m / 111000.0))
        END;
