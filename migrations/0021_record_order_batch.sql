-- A group-commit batch of orders in one statement (issue 16, the p99 at
-- 5,000 orders/s offered).
--
-- The order writer (sale/src/writer.rs) wrote a batch as BEGIN, an UPDATE
-- of each drop's `held`, the guarded INSERT and COMMIT: four round trips,
-- the last three with the drop's row locked. Every batch of a hot drop
-- waits for that lock, so on a busy box each round trip's wait for the
-- scheduler (the backend's and the service's) added to every batch queued
-- behind it. record_order_batch does the same writes inside one statement,
-- sent in autocommit: the lock is held for the function's run and the
-- commit only.
--
-- Each statement of a VOLATILE PL/pgSQL function takes a new snapshot
-- (read committed), so the INSERT, run after the UPDATE waited for the
-- drop's lock, sees every order the batch before it committed: the cap
-- check counts them, as it did when the statements came one by one.
--
-- record_order_batch(ids, drop_ids, user_ids, quantities, unit_prices,
--     currencies, idempotency_keys, admission_jtis, created, expires, epochs):
-- one order per index of the arrays (all of one length).
--
-- - For each (drop, epoch) of the batch, in drop order (COLLATE "C"), the
--   drop's `held` is raised by its units, guarded by `held + units <= stock`
--   and `redis_epoch = epoch`. A pair whose epoch is no longer the drop's
--   is stale: once every pair is seen, if any was stale the function
--   raises SQLSTATE 'LU001' with the stale pairs as JSON in DETAIL
--   (`[["drop", epoch], ...]`), so nothing is written. A pair of the
--   current epoch that would oversell raises 'LU002'. A drop that does not
--   exist raises 'LU003'.
-- - The insert keeps only orders that leave their user within the drop's
--   per_user_cap (the user's pending and paid orders plus the batch's
--   earlier ones); a used idempotency key inserts nothing (ON CONFLICT).
-- - The units of orders left out go back to `held`.
-- - Rows returned: ('recorded', id, updated_at) for each inserted order,
--   ('over_cap', id, NULL) for an order left out whose key was not used
--   (the cap refused it). An order in neither is a duplicate key.
CREATE FUNCTION record_order_batch(ids UUID[], drop_ids TEXT[], user_ids TEXT[],
    quantities INTEGER[], unit_prices BIGINT[], currencies TEXT[], idempotency_keys TEXT[],
    admission_jtis TEXT[], created TIMESTAMPTZ[], expires TIMESTAMPTZ[], epochs BIGINT[])
    RETURNS TABLE (outcome TEXT, order_id UUID, updated_at TIMESTAMPTZ)
    LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
    pair RECORD;
    current_epoch BIGINT;
    stale JSONB := '[]';
    recorded UUID[];
    recorded_at TIMESTAMPTZ[];
BEGIN
    FOR pair IN
        SELECT t.drop_id, t.epoch, sum(t.quantity)::BIGINT AS units
        FROM unnest(drop_ids, epochs, quantities) AS t(drop_id, epoch, quantity)
        GROUP BY t.drop_id, t.epoch
        ORDER BY t.drop_id COLLATE "C", t.epoch
    LOOP
        UPDATE drops d SET held = d.held + pair.units
        WHERE d.id = pair.drop_id AND d.held + pair.units <= d.stock
          AND d.redis_epoch = pair.epoch;
        CONTINUE WHEN FOUND;
        SELECT d.redis_epoch INTO current_epoch FROM drops d WHERE d.id = pair.drop_id;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'drop % does not exist', pair.drop_id USING ERRCODE = 'LU003';
        ELSIF current_epoch <> pair.epoch THEN
            stale := stale || jsonb_build_array(jsonb_build_array(pair.drop_id, pair.epoch));
        ELSE
            RAISE EXCEPTION 'drop % has not % units left in PostgreSQL', pair.drop_id, pair.units
                USING ERRCODE = 'LU002';
        END IF;
    END LOOP;
    IF jsonb_array_length(stale) > 0 THEN
        RAISE EXCEPTION 'orders reserved on a rebuilt Redis copy'
            USING ERRCODE = 'LU001', DETAIL = stale::TEXT;
    END IF;

    WITH inserted AS (
        INSERT INTO orders (id, drop_id, user_id, quantity, unit_price_cents, total_cents,
            currency, status, idempotency_key, admission_jti, created_at, expires_at)
        SELECT b.id, b.drop_id, b.user_id, b.quantity, b.unit_price_cents,
            b.unit_price_cents * b.quantity, b.currency, 'pending',
            b.idempotency_key, b.admission_jti, b.created_at, b.expires_at
        FROM (SELECT t.*, sum(t.quantity) OVER (PARTITION BY t.drop_id, t.user_id
                  ORDER BY t.n) AS in_batch
              FROM unnest(ids, drop_ids, user_ids, quantities, unit_prices, currencies,
                  idempotency_keys, admission_jtis, created, expires)
                  WITH ORDINALITY AS t(id, drop_id, user_id, quantity, unit_price_cents,
                      currency, idempotency_key, admission_jti, created_at, expires_at, n)) b
        WHERE b.in_batch + COALESCE((SELECT sum(o.quantity) FROM orders o
                WHERE o.drop_id = b.drop_id AND o.user_id = b.user_id
                  AND o.status IN ('pending', 'paid')), 0)
            <= (SELECT d.per_user_cap FROM drops d WHERE d.id = b.drop_id)
        ON CONFLICT (drop_id, user_id, idempotency_key) DO NOTHING
        RETURNING orders.id, orders.updated_at
    )
    SELECT COALESCE(array_agg(inserted.id), '{}'), array_agg(inserted.updated_at)
    INTO recorded, recorded_at FROM inserted;
    RETURN QUERY SELECT 'recorded'::TEXT, r.id, r.at FROM unnest(recorded, recorded_at) AS r(id, at);
    IF cardinality(recorded) = cardinality(ids) THEN
        RETURN;
    END IF;

    -- Rare: some were left out. Their units go back to `held`; those whose
    -- key is not in orders were refused by the cap.
    UPDATE drops d SET held = d.held - back.units
    FROM (SELECT t.drop_id, sum(t.quantity)::BIGINT AS units
          FROM unnest(ids, drop_ids, quantities) AS t(id, drop_id, quantity)
          WHERE NOT t.id = ANY (recorded)
          GROUP BY t.drop_id) back
    WHERE d.id = back.drop_id;
    RETURN QUERY
    SELECT 'over_cap'::TEXT, t.id, NULL::TIMESTAMPTZ
    FROM unnest(ids, drop_ids, user_ids, idempotency_keys) AS t(id, drop_id, user_id, key)
    WHERE NOT t.id = ANY (recorded)
      AND NOT EXISTS (SELECT 1 FROM orders o
          WHERE o.drop_id = t.drop_id AND o.user_id = t.user_id AND o.idempotency_key = t.key);
END $$;
