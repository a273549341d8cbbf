-- leave.lua: a waiting user leaves the line (an admitted user keeps their
-- admission: it is not in the line any more).
--
-- KEYS[1] line      zset user -> score
-- KEYS[2] alive     prefix of the liveness buckets (see join.lua)
-- ARGV[1] user id
-- ARGV[2] number of liveness buckets
--
-- Returns 1 when the user was waiting and has left, else 0.

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local bucket = math.fmod(tonumber(score), tonumber(ARGV[2]))
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2] .. ':' .. string.format('%d', bucket), ARGV[1])
return 1
