-- The order rows as they were before migrations/0013_lean_order_rows.sql
-- (for `SITTING_SQL=... loadtest/sitting/order-path`: the same sale binary
-- with the old schema, so the sitting measures the schema change alone).
DROP TRIGGER drops_keep_ordered ON drops;
DROP FUNCTION drops_keep_ordered();
ALTER TABLE orders ADD CONSTRAINT orders_drop_id_fkey FOREIGN KEY (drop_id) REFERENCES drops (id);
CREATE INDEX orders_holding_by_drop ON orders (drop_id, user_id) WHERE status IN ('pending', 'paid');
