-- join.lua: give a user their one place in a drop's line (or find it).
--
-- KEYS[1] line      zset user -> score (pre-queue: draw score < 2^52;
--                   after opening: 2^52 + arrival number)
-- KEYS[2] alive     prefix of the liveness buckets: hash KEYS[2]..':'..b
--                   maps user -> last sign of life, ms, for the users whose
--                   score mod ARGV[6] is b (same hash tag as the others)
-- KEYS[3] admitted  zset user -> admitted at, ms
-- KEYS[4] arrivals  counter of arrivals after opening
-- KEYS[5] progress  hash {removed: users taken off the head so far}
-- KEYS[6] revoked   set of user ids an operator revoked
-- KEYS[7] access users   set of users granted access (invite-only drops)
-- KEYS[8] access loaded  present once the access keys were loaded
-- ARGV[1] user id
-- ARGV[2] now, ms
-- ARGV[3] "pre" (before opening: place by ARGV[4]) or "fifo"
-- ARGV[4] the user's draw score (pre only), an integer below 2^52
-- ARGV[5] admission expiry cutoff, ms: an admission older than this has run
--         out, and joining again starts a new place at the back
-- ARGV[6] number of liveness buckets
-- ARGV[7] the drop's access mode: open | code | list (from PostgreSQL)
--
-- Returns {"admitted", admitted_at_ms} or {"waiting", rank (0 = first),
-- removed (progress at this moment)}, {"revoked"} for a revoked user (who
-- gets no place), or {"access", "required" | "unloaded"} when the drop is
-- invite-only and the user was not granted access (or the access keys are
-- not loaded in this Redis yet: load them and call again). A second join of the same user (tab,
-- device, reconnect) finds the same place and only refreshes liveness.

local user = ARGV[1]
if redis.call('SISMEMBER', KEYS[6], user) == 1 then
  return {'revoked'}
end
if ARGV[7] ~= 'open' and redis.call('SISMEMBER', KEYS[7], user) == 0 then
  if redis.call('EXISTS', KEYS[8]) == 0 then return {'access', 'unloaded'} end
  return {'access', 'required'}
end
local admitted_at = redis.call('ZSCORE', KEYS[3], user)
if admitted_at then
  if tonumber(admitted_at) >= tonumber(ARGV[5]) then
    return {'admitted', admitted_at}
  end
  redis.call('ZREM', KEYS[3], user)
end
local score = redis.call('ZSCORE', KEYS[1], user)
if not score then
  if ARGV[3] == 'pre' then
    score = ARGV[4]
  else
    score = 4503599627370496 + redis.call('INCR', KEYS[4])
  end
  redis.call('ZADD', KEYS[1], score, user)
end
local bucket = math.fmod(tonumber(score), tonumber(ARGV[6]))
redis.call('HSET', KEYS[2] .. ':' .. string.format('%d', bucket), user, ARGV[2])
local removed = redis.call('HGET', KEYS[5], 'removed') or '0'
return {'waiting', redis.call('ZRANK', KEYS[1], user), removed}
