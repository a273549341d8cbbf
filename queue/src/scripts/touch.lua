-- touch.lua: a sign of life from a waiting user (live socket or poll).
-- Nothing happens for a user no longer in the line (admitted or removed).
--
-- KEYS[1] line      zset user -> score
-- KEYS[2] alive     prefix of the liveness buckets (see join.lua)
-- ARGV[1] user id
-- ARGV[2] now, ms
-- ARGV[3] number of liveness buckets
--
-- Returns 1 when the user is waiting (and now counted alive), else 0.

local score = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not score then return 0 end
local bucket = math.fmod(tonumber(score), tonumber(ARGV[3]))
redis.call('HSET', KEYS[2] .. ':' .. string.format('%d', bucket), ARGV[1], ARGV[2])
return 1
