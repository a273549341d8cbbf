-- mirror.lua: keeps a bucketed drop's own hash in step with its stock
-- buckets, in the drop's slot (the queue reads `stock` and `sold` there),
-- and takes a buyer out of the queue's shopping set.
--
-- KEYS[1] the drop's hash (stock = the whole drop's, sold = the mirror)
-- KEYS[2] the queue's shopping set
-- ARGV[1] mode: "add" (ARGV[2] units reserved (+) or released (-)) or
--         "set" (ARGV[2] the units sold, as counted over every bucket)
-- ARGV[3] user leaving the shopping set ("" for none)
--
-- Returns 1 when the drop's hash is loaded (and was updated), else 0: a
-- missing hash is never created here (only load_drop.lua creates it).

if ARGV[3] ~= '' then
  redis.call('ZREM', KEYS[2], ARGV[3])
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local n = tonumber(ARGV[2])
if not n then
  return 0
end
if ARGV[1] == 'set' then
  redis.call('HSET', KEYS[1], 'sold', n)
else
  redis.call('HINCRBY', KEYS[1], 'sold', n)
end
return 1
