-- load_access.lua: load an invite-only drop's codes and granted users from
-- PostgreSQL into Redis, unless they are loaded already.
--
-- KEYS[1] codes    hash code hash -> "max_uses|used"
-- KEYS[2] users    set of user ids granted access
-- KEYS[3] loaded   the marker, set last
-- ARGV[1] number of codes n; then n triples code hash, max_uses, used (used
--         counted from PostgreSQL's grants); then the granted user ids
--
-- Returns 1 when this call loaded, 0 when the marker was there. Codes or
-- users the sale added meanwhile (HSETNX / SADD) are kept; the counts from
-- PostgreSQL win for the codes it knows.

if redis.call('EXISTS', KEYS[3]) == 1 then return 0 end
local n = tonumber(ARGV[1])
for i = 0, n - 1 do
  local at = 2 + i * 3
  redis.call('HSET', KEYS[1], ARGV[at], ARGV[at + 1] .. '|' .. ARGV[at + 2])
end
for i = 2 + n * 3, #ARGV do
  redis.call('SADD', KEYS[2], ARGV[i])
end
redis.call('SET', KEYS[3], '1')
return 1
