-- release.lua: give an order's units back to the drop, at most once.
--
-- KEYS[1] drop hash
-- KEYS[2] held hash      user id -> units held
-- KEYS[3] reservations   order id -> "quantity|reserved_at_ms|idempotency_tag|user"
-- KEYS[4] the order's idempotency key
-- ARGV[1] order id
-- ARGV[2] "forget" to also delete KEYS[4] (the order was never recorded, so a
--         retry with the same key may reserve again), anything else to keep it
--
-- Returns the units that went back (>= 1), 0 when the order held nothing here
-- (already released, or never reserved in this Redis): the reservation record
-- is the once-only guard, so racing releasers cannot return stock twice.

local rec = redis.call('HGET', KEYS[3], ARGV[1])
if not rec then
  return 0
end
local sep1 = string.find(rec, '|', 1, true)
local sep2 = string.find(rec, '|', sep1 + 1, true)
local sep3 = string.find(rec, '|', sep2 + 1, true)
local qty = tonumber(string.sub(rec, 1, sep1 - 1))
local user = string.sub(rec, sep3 + 1)

redis.call('HDEL', KEYS[3], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'sold', -qty)
end
local left = redis.call('HINCRBY', KEYS[2], user, -qty)
if left <= 0 then
  redis.call('HDEL', KEYS[2], user)
end
if ARGV[2] == 'forget' then
  redis.call('DEL', KEYS[4])
end
return qty
