-- lapse.lua: give back the seats of holds past their expiry (tidying:
-- every script already treats a lapsed hold as gone; this tells the seat
-- maps and the counters).
--
-- KEYS: see seats_lib.lua (KEYS[9] unused).
-- ARGV[1] now, ms
-- ARGV[2] most holds to give back in this call
-- ARGV[3] log length to keep (approximate)
--
-- Returns {holds given back, version}.

local now = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, tonumber(ARGV[2]))
local changes, count = {}, 0
for _, id in ipairs(due) do
  local h = parse_hold(redis.call('HGET', KEYS[3], id))
  if not h then
    redis.call('ZREM', KEYS[5], id)
  elseif lapsed(h, now) then
    release(id, h, changes)
    count = count + 1
  end
end
return {count, publish(changes, tonumber(ARGV[3]))}
