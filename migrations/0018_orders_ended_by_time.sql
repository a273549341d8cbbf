-- The reconciler's passes read the orders that stopped holding since the
-- last pass (sale/src/reconcile.rs), paged by (updated_at, id), instead of
-- looking every held reservation up in PostgreSQL every pass. Only ended
-- orders are in the index: placing an order (pending) adds nothing to it.
CREATE INDEX orders_ended_by_time ON orders (updated_at, id)
    WHERE status IN ('expired', 'cancelled', 'refunded');
