-- credit.lua: a stock bucket receives units lent to it (the second half of
-- a transfer), at most once per transfer id.
--
-- KEYS[1] the receiving bucket's hash {stock, sold, moved, epoch}
-- KEYS[2] its credited ids: zset transfer id -> credited at, ms
-- ARGV[1] transfer id
-- ARGV[2] units
-- ARGV[3] the epoch the transfer was made under
-- ARGV[4] now, ms
-- ARGV[5] how long credited ids are remembered, ms (far longer than a
--         journalled transfer can wait for the reconciler)
--
-- Returns "ok" (credited now), "dup" (credited before) or "stale" (the
-- bucket is missing or of another epoch: a rebuild has reloaded it from
-- PostgreSQL, which knows nothing of the transfer; the donor's journal entry
-- is wiped by the same rebuild).

local units = tonumber(ARGV[2])
if not units or units < 1 then
  return 'stale'
end
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch or epoch ~= ARGV[3] then
  return 'stale'
end
if redis.call('ZSCORE', KEYS[2], ARGV[1]) then
  return 'dup'
end
redis.call('HINCRBY', KEYS[1], 'moved', units)
redis.call('ZADD', KEYS[2], tonumber(ARGV[4]), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', tonumber(ARGV[4]) - tonumber(ARGV[5]))
return 'ok'
