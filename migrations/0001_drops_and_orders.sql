-- Drops and orders: the durable record Redis is rebuilt from.

CREATE TABLE drops (
    id                     TEXT PRIMARY KEY,
    name                   TEXT NOT NULL,
    -- Total units ever put on sale (initial stock plus every addition).
    stock                  BIGINT NOT NULL CHECK (stock >= 0),
    -- Units held by pending + paid orders, maintained in the same transaction
    -- as the order rows: the last line of defence against oversell.
    held                   BIGINT NOT NULL DEFAULT 0 CHECK (held >= 0 AND held <= stock),
    price_cents            BIGINT NOT NULL CHECK (price_cents >= 0),
    currency               TEXT NOT NULL,
    opens_at               TIMESTAMPTZ NOT NULL,
    per_user_cap           INTEGER NOT NULL CHECK (per_user_cap BETWEEN 1 AND 100),
    order_timeout_secs     INTEGER NOT NULL CHECK (order_timeout_secs > 0),
    admission_rate_per_sec DOUBLE PRECISION NOT NULL CHECK (admission_rate_per_sec > 0),
    max_active             INTEGER NOT NULL CHECK (max_active > 0),
    state                  TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'paused', 'closed')),
    created_at             TIMESTAMPTZ NOT NULL DEFAULT now(),
    updated_at             TIMESTAMPTZ NOT NULL DEFAULT now()
);

CREATE TABLE orders (
    id               UUID PRIMARY KEY,
    drop_id          TEXT NOT NULL REFERENCES drops (id),
    user_id          TEXT NOT NULL,
    quantity         INTEGER NOT NULL CHECK (quantity > 0),
    unit_price_cents BIGINT NOT NULL,
    currency         TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'paid', 'cancelled', 'expired', 'refunded')),
    idempotency_key  TEXT NOT NULL,
    admission_jti    TEXT,
    created_at       TIMESTAMPTZ NOT NULL,
    expires_at       TIMESTAMPTZ NOT NULL,
    updated_at       TIMESTAMPTZ NOT NULL DEFAULT now(),
    UNIQUE (drop_id, user_id, idempotency_key)
);

-- Due pending orders are found by time, never by scanning.
CREATE INDEX orders_pending_by_expiry ON orders (expires_at) WHERE status = 'pending';
CREATE INDEX orders_by_user ON orders (user_id, created_at DESC);
CREATE INDEX orders_holding_by_drop ON orders (drop_id, user_id) WHERE status IN ('pending', 'paid');
