-- revoke.lua: an operator's revocation, applied to one drop atomically.
--
-- KEYS[1] revoked users   set of revoked user ids
-- KEYS[2] revoked tokens  zset admission token id (jti) -> its expiry, ms
-- KEYS[3] line            the queue's line: zset user -> place score
-- KEYS[4] alive           prefix of the line's liveness buckets (hash
--                         KEYS[4]..':'..(score mod ARGV[3]), same hash tag)
-- KEYS[5] admitted        the queue's admissions: zset user -> admitted at, ms
-- KEYS[6] shopping        admitted, not yet ordered: zset user -> admitted at
-- ARGV[1] "user": revoke user ARGV[2]; ARGV[3] the number of liveness buckets.
--         The user is added to KEYS[1] and loses their place: out of the line
--         (and its liveness bucket), their admission and their shopping slot.
--         "lift": remove user ARGV[2] from KEYS[1] (they may join again).
--         "jti": revoke token ARGV[2], which expires at ARGV[3] ms; entries
--         expired before ARGV[4] (now, ms) are dropped on the way.
--
-- Returns 1 when something changed (a place was taken, a user or a token
-- newly revoked, a revocation lifted), else 0. Idempotent.

local mode, subject = ARGV[1], ARGV[2]
if subject == nil or subject == '' then
  return redis.error_reply('revoke.lua: empty subject')
end

if mode == 'user' then
  local buckets = tonumber(ARGV[3])
  if not buckets or buckets < 1 then
    return redis.error_reply('revoke.lua: bad bucket count')
  end
  local changed = redis.call('SADD', KEYS[1], subject)
  local score = redis.call('ZSCORE', KEYS[3], subject)
  if score then
    local bucket = math.fmod(tonumber(score), buckets)
    redis.call('ZREM', KEYS[3], subject)
    redis.call('HDEL', KEYS[4] .. ':' .. string.format('%d', bucket), subject)
    changed = 1
  end
  changed = math.max(changed, redis.call('ZREM', KEYS[5], subject), redis.call('ZREM', KEYS[6], subject))
  return changed
elseif mode == 'lift' then
  return redis.call('SREM', KEYS[1], subject)
elseif mode == 'jti' then
  local expires, now = tonumber(ARGV[3]), tonumber(ARGV[4])
  if not expires or not now then
    return redis.error_reply('revoke.lua: bad expiry')
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', '(' .. now)
  return redis.call('ZADD', KEYS[2], expires, subject)
end
return redis.error_reply('revoke.lua: unknown mode')
