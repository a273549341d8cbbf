-- hold.lua: hold the given seats for one fan, all or nothing.
--
-- KEYS: see seats_lib.lua (KEYS[9]: this request's idempotency key).
-- ARGV[1] user id
-- ARGV[2] now, ms
-- ARGV[3] the new hold's id (used only when this call holds)
-- ARGV[4] idempotency key lifetime, seconds
-- ARGV[5] idempotency tag (kept in the record, so an unrecorded hold's key
--         can be forgotten)
-- ARGV[6] log length to keep (approximate)
-- ARGV[7..] seat indices (distinct, on sale: the caller checked)
--
-- Returns one of:
--   {"ok", hold_id, expires_ms, epoch, version}
--   {"dup", hold_id}            the idempotency key was used before
--   {"missing"}                 the drop is not loaded
--   {"taken", index, ...}       these seats are held or sold: nothing held
--   {"err", code}               closed | paused | not_open | not_seated |
--                               cap_exceeded | invalid
-- A seat whose hold lapsed counts as free: the lapsed hold is given back
-- here and now (correctness never waits for the sweeper). The fan's own
-- lapsed holds are given back before the cap is counted.

local user, now, hold_id = ARGV[1], tonumber(ARGV[2]), ARGV[3]
local idem_ttl, tag, maxlen = tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local wanted = {}
for i = 7, #ARGV do wanted[#wanted + 1] = ARGV[i] end
if user == '' or not now or not idem_ttl or #wanted == 0 then return {'err', 'invalid'} end

local seen = redis.call('GET', KEYS[9])
if seen then return {'dup', seen} end

local d = redis.call('HMGET', KEYS[1], 'state', 'opens_at_ms', 'cap', 'seated', 'hold_ms', 'epoch')
if not d[1] then return {'missing'} end
if d[4] ~= '1' then return {'err', 'not_seated'} end
if d[1] == 'closed' then return {'err', 'closed'} end
if d[1] == 'paused' then return {'err', 'paused'} end
if now < tonumber(d[2]) then return {'err', 'not_open'} end
local cap, hold_ms = tonumber(d[3]), tonumber(d[5])

local changes = {}
local mine = 0
for _, id in ipairs(split(redis.call('HGET', KEYS[4], user), ',')) do
  local h = parse_hold(redis.call('HGET', KEYS[3], id))
  if not h then
    user_remove(user, id)
  elseif lapsed(h, now) then
    release(id, h, changes)
  else
    mine = mine + #h.seats
  end
end
if mine + #wanted > cap then
  publish(changes, maxlen)
  return {'err', 'cap_exceeded'}
end

local taken = {}
for _, seat in ipairs(wanted) do
  local owner = redis.call('HGET', KEYS[2], seat)
  if owner then
    local h = parse_hold(redis.call('HGET', KEYS[3], owner))
    if not h then
      redis.call('HDEL', KEYS[2], seat)
    elseif lapsed(h, now) then
      release(owner, h, changes)
    else
      taken[#taken + 1] = seat
    end
  end
end
if #taken > 0 then
  publish(changes, maxlen)
  local answer = {'taken'}
  for _, seat in ipairs(taken) do answer[#answer + 1] = seat end
  return answer
end

local expires = now + hold_ms
for _, seat in ipairs(wanted) do
  redis.call('HSET', KEYS[2], seat, hold_id)
  changes[#changes + 1] = seat .. ':h'
end
redis.call('HSET', KEYS[3], hold_id,
  format_hold({expires = expires, state = 'h', seats = wanted, tag = tag, order = '', user = user}))
local list = redis.call('HGET', KEYS[4], user)
redis.call('HSET', KEYS[4], user, (list and list ~= '') and (list .. ',' .. hold_id) or hold_id)
redis.call('ZADD', KEYS[5], expires, hold_id)
redis.call('HINCRBY', KEYS[1], 'sold', #wanted)
redis.call('SET', KEYS[9], hold_id, 'EX', idem_ttl)
local version = publish(changes, maxlen)
return {'ok', hold_id, tostring(expires), d[6] or '0', tostring(version)}
