-- order_hold.lua: turn a live hold into an order (or turn that back, when
-- the order could not be recorded): the order takes exactly the held seats.
--
-- KEYS: see seats_lib.lua (KEYS[9] unused).
-- ARGV[1] hold id
-- ARGV[2] user id (the hold must be theirs)
-- ARGV[3] now, ms
-- ARGV[4] order id
-- ARGV[5] mode: "order" or "revert" (the order ARGV[4] was not recorded:
--         the seats are held again until the hold's own expiry)
-- ARGV[6] log length to keep (approximate)
--
-- Returns one of:
--   {"ok", seats held, epoch, version}
--   {"ordered", order id}       already ordered (a retry)
--   {"missing"}                 the drop is not loaded
--   {"err", code}               unknown_hold | lapsed | closed | paused
-- A lapsed hold is given back here (and answered "lapsed").

local hold_id, user, now, order_id = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local mode, maxlen = ARGV[5], tonumber(ARGV[6])
local d = redis.call('HMGET', KEYS[1], 'state', 'epoch')
if not d[1] then return {'missing'} end
local h = parse_hold(redis.call('HGET', KEYS[3], hold_id))
if not h or h.user ~= user then return {'err', 'unknown_hold'} end
local changes = {}

if mode == 'revert' then
  if h.state ~= 'o' or h.order ~= order_id then return {'err', 'unknown_hold'} end
  h.state, h.order = 'h', ''
  if lapsed(h, now) then
    release(hold_id, h, changes)
  else
    redis.call('HSET', KEYS[3], hold_id, format_hold(h))
    redis.call('ZADD', KEYS[5], h.expires, hold_id)
    for _, seat in ipairs(h.seats) do changes[#changes + 1] = seat .. ':h' end
  end
  return {'ok', #h.seats, d[2] or '0', tostring(publish(changes, maxlen))}
end

if h.state == 'o' then return {'ordered', h.order} end
if lapsed(h, now) then
  release(hold_id, h, changes)
  publish(changes, maxlen)
  return {'err', 'lapsed'}
end
if d[1] == 'closed' then return {'err', 'closed'} end
if d[1] == 'paused' then return {'err', 'paused'} end
h.state, h.order = 'o', order_id
redis.call('HSET', KEYS[3], hold_id, format_hold(h))
redis.call('ZREM', KEYS[5], hold_id)
redis.call('ZREM', KEYS[8], user)
for _, seat in ipairs(h.seats) do changes[#changes + 1] = seat .. ':s' end
return {'ok', #h.seats, d[2] or '0', tostring(publish(changes, maxlen))}
