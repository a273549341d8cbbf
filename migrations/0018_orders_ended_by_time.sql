-- The reconciler's incremental pass reads the orders that stopped holding
-- since its last pass (sale/src/reconcile.rs), instead of looking every
-- held reservation up in PostgreSQL every pass. Only ended orders are in
-- the index: placing an order (pending) adds nothing to it.
CREATE INDEX orders_ended_by_time ON orders (updated_at)
    WHERE status IN ('expired', 'cancelled', 'refunded');
