-- redeem.lua: redeem an access code of an invite-only drop, atomically.
--
-- KEYS[1] codes    hash code hash -> "max_uses|used"
-- KEYS[2] users    set of user ids granted access
-- KEYS[3] loaded   present once KEYS[1..2] were loaded from PostgreSQL
-- ARGV[1] user id
-- ARGV[2] the code's hash
-- ARGV[3] "redeem", or "undo" (give back a use this user's redemption took,
--         when recording it in PostgreSQL failed)
--
-- Returns {"granted"} (the user had access already: nothing used),
-- {"redeemed"} (one use taken, the user granted), {"undone"}, or
-- {"refused", why}: why is unloaded | unknown_code | used_up.

local user, code = ARGV[1], ARGV[2]
if ARGV[3] == 'undo' then
  if redis.call('SREM', KEYS[2], user) == 1 then
    local rec = redis.call('HGET', KEYS[1], code)
    if rec then
      local sep = string.find(rec, '|', 1, true)
      local max, used = string.sub(rec, 1, sep - 1), tonumber(string.sub(rec, sep + 1))
      redis.call('HSET', KEYS[1], code, max .. '|' .. math.max(used - 1, 0))
    end
  end
  return {'undone'}
end
if redis.call('EXISTS', KEYS[3]) == 0 then return {'refused', 'unloaded'} end
if redis.call('SISMEMBER', KEYS[2], user) == 1 then return {'granted'} end
local rec = redis.call('HGET', KEYS[1], code)
if not rec then return {'refused', 'unknown_code'} end
local sep = string.find(rec, '|', 1, true)
local max, used = tonumber(string.sub(rec, 1, sep - 1)), tonumber(string.sub(rec, sep + 1))
if used >= max then return {'refused', 'used_up'} end
redis.call('HSET', KEYS[1], code, max .. '|' .. (used + 1))
redis.call('SADD', KEYS[2], user)
return {'redeemed'}
