-- lend.lua: a stock bucket lends units to another bucket of its drop (the
-- first half of a transfer; see sale::gate::buckets).
--
-- KEYS[1] the donor bucket's hash {stock, sold, moved, lending, epoch}
-- KEYS[2] the donor's lent journal: transfer id -> "to|units|epoch|at_ms"
-- ARGV[1] transfer id (new, unique)
-- ARGV[2] the receiving bucket's number
-- ARGV[3] units wanted (integer >= 1)
-- ARGV[4] the epoch the receiver was loaded under (a transfer never crosses
--         a rebuild)
-- ARGV[5] now, ms
--
-- Returns the units lent (0 when the donor has none free, is not loaded, or
-- is of another epoch). Lent units leave the donor's stock (`moved`) and are
-- counted in `lending` until settle.lua finds them credited, so "sold out"
-- can tell units in flight from units gone.

local want = tonumber(ARGV[3])
if not want or want < 1 or want ~= math.floor(want) then
  return 0
end
local d = redis.call('HMGET', KEYS[1], 'stock', 'sold', 'moved', 'epoch')
if not d[1] or d[4] ~= ARGV[4] then
  return 0
end
local free = tonumber(d[1]) + tonumber(d[3] or '0') - tonumber(d[2])
local units = math.min(want, free)
if units < 1 then
  return 0
end
redis.call('HINCRBY', KEYS[1], 'moved', -units)
redis.call('HINCRBY', KEYS[1], 'lending', units)
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2] .. '|' .. units .. '|' .. ARGV[4] .. '|' .. ARGV[5])
return units
