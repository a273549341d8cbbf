-- load_seats.lua: rebuild a seated sale in Redis from PostgreSQL's record
-- (its settings and every live hold and held order), in one atomic call.
--
-- KEYS: see seats_lib.lua (KEYS[9] unused).
-- ARGV[1] epoch (drops.redis_epoch of this load): replaces only a load of
--         an older epoch, so racing rebuilders converge on the newest
-- ARGV[2] stock (seats on sale)   ARGV[3] state        ARGV[4] opens_at_ms
-- ARGV[5] cap                     ARGV[6] price_cents  ARGV[7] currency
-- ARGV[8] timeout_secs            ARGV[9] version      ARGV[10] hold_ms
-- ARGV[11] log length to keep (approximate)
-- ARGV[12..] groups of five: hold id, user, expires_ms, state (h|o),
--            seat indices comma separated
--
-- Returns 1 when it loaded, 0 when a load of this epoch or newer is there.
-- The log gets a "reset" entry: every seat map reloads its snapshot.

if redis.call('EXISTS', KEYS[1]) == 1
  and tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0') >= tonumber(ARGV[1]) then
  return 0
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
local sold = 0
for i = 12, #ARGV, 5 do
  local id, user, expires, state = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local seats = split(ARGV[i + 4], ',')
  for _, seat in ipairs(seats) do redis.call('HSET', KEYS[2], seat, id) end
  redis.call('HSET', KEYS[3], id, format_hold({expires = expires, state = state,
    seats = seats, tag = '', order = (state == 'o') and 'rebuilt' or '', user = user}))
  local list = redis.call('HGET', KEYS[4], user)
  redis.call('HSET', KEYS[4], user, (list and list ~= '') and (list .. ',' .. id) or id)
  if state == 'h' then redis.call('ZADD', KEYS[5], expires, id) end
  sold = sold + #seats
end
redis.call('HSET', KEYS[1], 'stock', ARGV[2], 'sold', sold, 'state', ARGV[3],
  'opens_at_ms', ARGV[4], 'cap', ARGV[5], 'price_cents', ARGV[6], 'currency', ARGV[7],
  'timeout_secs', ARGV[8], 'version', ARGV[9], 'epoch', ARGV[1], 'seated', '1',
  'hold_ms', ARGV[10])
local version = redis.call('INCR', KEYS[6])
redis.call('XADD', KEYS[7], 'MAXLEN', '~', tonumber(ARGV[11]), '*', 'v', version, 'c', 'reset')
return 1
