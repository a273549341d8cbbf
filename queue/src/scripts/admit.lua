-- admit.lua: take up to N users off the head of the line and admit them,
-- skipping (and removing) those who left: no live connection and no poll
-- since the cutoff. Skipped users cost no admission capacity.
--
-- KEYS[1] line      zset
-- KEYS[2] alive     prefix of the liveness buckets (see join.lua)
-- KEYS[3] admitted  zset user -> admitted at, ms
-- KEYS[4] progress  hash {removed, admitted, skipped}
-- KEYS[5] shopping  zset user -> admitted at, ms: admitted and not yet
--                   ordered (the sale service's reserve.lua removes a buyer)
-- ARGV[1] N, how many to admit at most
-- ARGV[2] now, ms
-- ARGV[3] abandon cutoff, ms: seen before this = left
-- ARGV[4] scan limit: most head entries looked at in one call
-- ARGV[5] number of liveness buckets
--
-- Returns the admitted user ids, in line order.

local n = tonumber(ARGV[1])
local now = ARGV[2]
local cutoff = tonumber(ARGV[3])
local limit = tonumber(ARGV[4])
local buckets = tonumber(ARGV[5])
local admitted = {}
local skipped = 0
local scanned = 0
while #admitted < n and scanned < limit do
  local head = redis.call('ZRANGE', KEYS[1], 0, 99, 'WITHSCORES')
  if #head == 0 then break end
  for i = 1, #head, 2 do
    local user = head[i]
    local alive = KEYS[2] .. ':' .. string.format('%d', math.fmod(tonumber(head[i + 1]), buckets))
    scanned = scanned + 1
    local seen = tonumber(redis.call('HGET', alive, user) or '0')
    redis.call('ZREM', KEYS[1], user)
    redis.call('HDEL', alive, user)
    if seen < cutoff then
      skipped = skipped + 1
    else
      redis.call('ZADD', KEYS[3], now, user)
      redis.call('ZADD', KEYS[5], now, user)
      admitted[#admitted + 1] = user
    end
    if #admitted >= n or scanned >= limit then break end
  end
end
if #admitted + skipped > 0 then
  redis.call('HINCRBY', KEYS[4], 'removed', #admitted + skipped)
  redis.call('HINCRBY', KEYS[4], 'admitted', #admitted)
  redis.call('HINCRBY', KEYS[4], 'skipped', skipped)
end
return admitted
