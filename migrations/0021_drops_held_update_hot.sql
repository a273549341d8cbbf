-- A drop's `held` is raised by every group-commit batch of its orders
-- (thousands a second in a rush), and 0004's `drops_live` index named
-- `held` in its predicate (`state <> 'closed' OR held > 0`). A column an
-- index reads, its predicate included, makes an update of it a non-HOT
-- update: a new entry in each of the drop's five indexes per batch, and a
-- hot drop's entries piling up in every one of them until vacuum. Measured
-- with pgbench on this machine: 126-134 µs a non-HOT update of the row
-- against 71 µs a HOT one (issue 16, the writer's cost per batch).
--
-- The predicate now reads `holds_units`, a stored column generated from
-- `held`: it changes only when `held` crosses zero, so the batches' updates
-- leave every indexed value as it was and can be HOT. The live-drop
-- queries (sale/src/store/drops.rs) ask `state <> 'closed' OR holds_units`,
-- which the new predicate matches.
ALTER TABLE drops ADD COLUMN holds_units BOOLEAN GENERATED ALWAYS AS (held > 0) STORED;
DROP INDEX drops_live;
CREATE INDEX drops_live ON drops (id) WHERE state <> 'closed' OR holds_units;
