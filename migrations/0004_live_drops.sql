-- Background loops (settings sync, reconciliation, the queue's catalog) page
-- through the drops that still matter, not the whole history: a drop is
-- live while it is not closed, or while pending or paid orders hold units.
CREATE INDEX drops_live ON drops (id) WHERE state <> 'closed' OR held > 0;

-- The public drop list pages by opening time (newest first), keyset on
-- (opens_at, id).
CREATE INDEX drops_by_opening ON drops (opens_at DESC, id DESC);

-- The settings sync also copies recent changes of drops that are no longer
-- live (a close whose Redis write was missed).
CREATE INDEX drops_by_update ON drops (updated_at);

-- The queue asks, for each drop it serves, whether pending orders could
-- still give units back and when the first of them expires: an index lookup
-- (min), not a scan of the drop's orders.
CREATE INDEX orders_pending_by_drop ON orders (drop_id, expires_at) WHERE status = 'pending';
