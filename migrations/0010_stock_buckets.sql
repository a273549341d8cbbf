-- Stock buckets (issue 18): a general-admission drop's stock may be split
-- over several Redis Cluster slots, so one hot drop is not bound to one
-- master's core. 1 (the default) keeps the whole stock in the drop's own
-- slot, as before. Fixed at creation (see sale::gate::buckets).
ALTER TABLE drops
    ADD COLUMN stock_buckets integer NOT NULL DEFAULT 1
        CHECK (stock_buckets BETWEEN 1 AND 16);
