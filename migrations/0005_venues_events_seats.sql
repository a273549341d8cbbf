-- Venues with their seat maps, events, seated sales, holds and seat claims.
--
-- One seat, one buyer: every hold and every order of a seated sale claims
-- its seats for a time range (a hold: until it expires; an order: without
-- end until it expires, is cancelled or refunded). The exclusion constraint
-- refuses two claims on one seat of one event whose ranges overlap, so a
-- bug in the fast path (Redis) can never sell a seat twice.

CREATE EXTENSION IF NOT EXISTS btree_gist;

CREATE TABLE venues (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    city        TEXT NOT NULL,
    -- ISO 3166-1 alpha-2.
    country     TEXT NOT NULL CHECK (country ~ '^[A-Z]{2}$'),
    address     TEXT NOT NULL DEFAULT '',
    -- An IANA time zone name (dates of its events are shown and searched in it).
    timezone    TEXT NOT NULL,
    lat         DOUBLE PRECISION NOT NULL CHECK (lat BETWEEN -90 AND 90),
    lon         DOUBLE PRECISION NOT NULL CHECK (lon BETWEEN -180 AND 180),
    -- The current seat map (venue_maps.version); NULL: no seat map.
    map_version INTEGER,
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Seat maps are immutable: a new upload is a new version; a seated sale
-- keeps the version it was created with.
CREATE TABLE venue_maps (
    venue_id   TEXT NOT NULL REFERENCES venues (id),
    version    INTEGER NOT NULL CHECK (version > 0),
    -- The normalised lineup.seatmap/1 document, served as it is.
    map        TEXT NOT NULL,
    sha256     TEXT NOT NULL,
    seat_count INTEGER NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (venue_id, version)
);

CREATE TABLE events (
    id          TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    performers  TEXT[] NOT NULL DEFAULT '{}',
    venue_id    TEXT NOT NULL REFERENCES venues (id),
    starts_at   TIMESTAMPTZ NOT NULL,
    genre       TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    status      TEXT NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'on_sale', 'sold_out', 'postponed', 'cancelled')),
    created_at  TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at  TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX events_by_venue ON events (venue_id, starts_at);

-- A drop is a sale; it may belong to an event. A seated sale sells the
-- seats of the categories in `seating.prices`:
-- {"map_version": n, "prices": {"<category>": cents}, "hold_secs": 600,
--  "avoid_single_gaps": true}.
ALTER TABLE drops ADD COLUMN event_id TEXT REFERENCES events (id);
ALTER TABLE drops ADD COLUMN seating JSONB;
CREATE INDEX drops_by_event ON drops (event_id) WHERE event_id IS NOT NULL;

-- A seated order's seats differ in price: the total is kept, for every
-- order (units: unit price x quantity).
ALTER TABLE orders ADD COLUMN total_cents BIGINT;
UPDATE orders SET total_cents = unit_price_cents * quantity;
ALTER TABLE orders ALTER COLUMN total_cents SET NOT NULL;

-- A fan's hold on seats of a seated sale, for minutes.
CREATE TABLE holds (
    id              UUID PRIMARY KEY,
    drop_id         TEXT NOT NULL REFERENCES drops (id),
    event_id        TEXT NOT NULL REFERENCES events (id),
    user_id         TEXT NOT NULL,
    -- The map's seat ids, in the order held.
    seats           TEXT[] NOT NULL CHECK (cardinality(seats) > 0),
    total_cents     BIGINT NOT NULL,
    idempotency_key TEXT NOT NULL,
    admission_jti   TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL CHECK (expires_at > created_at),
    -- Set once: the order the hold became, or when it was given up.
    order_id        UUID REFERENCES orders (id),
    released_at     TIMESTAMPTZ,
    UNIQUE (drop_id, user_id, idempotency_key)
);
-- Live holds of a drop, by expiry: the rebuild and the queue's "when do
-- seats come back".
CREATE INDEX holds_open_by_drop ON holds (drop_id, expires_at)
    WHERE order_id IS NULL AND released_at IS NULL;

ALTER TABLE orders ADD COLUMN hold_id UUID REFERENCES holds (id);
CREATE UNIQUE INDEX orders_one_per_hold ON orders (hold_id) WHERE hold_id IS NOT NULL;

CREATE TABLE seat_claims (
    event_id TEXT NOT NULL,
    seat_id  TEXT NOT NULL,
    hold_id  UUID NOT NULL REFERENCES holds (id),
    -- While the claim is live: [held at, hold expiry) for a hold;
    -- [held at, ) once ordered; closed at the release time when released.
    live     TSTZRANGE NOT NULL CHECK (NOT isempty(live)),
    EXCLUDE USING gist (event_id WITH =, seat_id WITH =, live WITH &&)
);
CREATE INDEX seat_claims_by_hold ON seat_claims (hold_id);
