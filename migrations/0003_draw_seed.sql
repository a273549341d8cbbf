-- The pre-queue draw: a secret seed per drop. Its SHA-256 is public from the
-- drop's creation; the seed itself is revealed once the drop has opened, so
-- anyone can recompute the order (users sorted by HMAC-SHA256(seed, user id)).
ALTER TABLE drops ADD COLUMN draw_seed TEXT NOT NULL
    DEFAULT md5(random()::text || clock_timestamp()::text) || md5(random()::text || clock_timestamp()::text);
