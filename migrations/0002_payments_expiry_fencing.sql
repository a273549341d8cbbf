-- Payments, expiry bookkeeping and the Redis epoch fence.

-- Bumped each time the drop is rebuilt into Redis from PostgreSQL. Redis keeps
-- the epoch it was loaded with; an order reserved under an older epoch (on a
-- Redis that has since lost its data) is refused by the order writer, so it
-- can never add to a rebuilt count.
ALTER TABLE drops ADD COLUMN redis_epoch BIGINT NOT NULL DEFAULT 0;

ALTER TABLE orders ADD COLUMN paid_at TIMESTAMPTZ;

-- One row per payment attempt of an order.
CREATE TABLE payments (
    id            UUID PRIMARY KEY,
    order_id      UUID NOT NULL REFERENCES orders (id),
    provider      TEXT NOT NULL,
    method        TEXT NOT NULL,
    amount_cents  BIGINT NOT NULL CHECK (amount_cents >= 0),
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN
                    ('processing', 'succeeded', 'declined', 'refund_requested', 'refunded')),
    decline_code  TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL DEFAULT now()
);
CREATE INDEX payments_by_order ON payments (order_id, created_at DESC);
-- At most one attempt in flight per order.
CREATE UNIQUE INDEX payments_one_processing ON payments (order_id) WHERE status = 'processing';
-- Refunds still to be asked of the provider are found without a scan.
CREATE INDEX payments_refund_requested ON payments (updated_at) WHERE status = 'refund_requested';

-- Provider events already applied: a replayed webhook changes nothing.
CREATE TABLE payment_events (
    event_id    TEXT PRIMARY KEY,
    payment_id  UUID NOT NULL REFERENCES payments (id),
    kind        TEXT NOT NULL,
    received_at TIMESTAMPTZ NOT NULL DEFAULT now()
);
