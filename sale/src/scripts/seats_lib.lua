-- seats_lib.lua: what the seat scripts share; prepended to each of them
-- (hold.lua, release_hold.lua, order_hold.lua, lapse.lua, load_seats.lua).
--
-- Every seat script takes the same KEYS, all under the drop's hash tag:
--   KEYS[1] drop hash        (stock, sold, state, opens_at_ms, cap, seated,
--                             hold_ms, epoch, ...): sold counts seats held
--                             or ordered
--   KEYS[2] owners           hash seat index -> hold id
--   KEYS[3] holds            hash hold id -> record (below)
--   KEYS[4] user holds       hash user -> hold ids, comma separated
--   KEYS[5] expiry           zset hold id -> expires_ms (holds not ordered)
--   KEYS[6] version          counter, one step per script call that changed seats
--   KEYS[7] log              stream of changes: fields v (version) and
--                            c ("<index>:<state>,..." with state f, h or s;
--                            or "reset" after a rebuild)
--   KEYS[8] shopping         the queue's shopping set (a buyer leaves it on ordering)
--   KEYS[9] idempotency key  of the request (or of the hold being forgotten)
--
-- A hold record is "expires_ms|state|indices|tag|order_id|user": state "h"
-- (a hold, live while expires_ms > now) or "o" (ordered: no expiry),
-- indices comma separated, tag the idempotency tag, order_id empty until
-- ordered; user last, as user ids may contain '|'.

local function split(text, sep)
  local out = {}
  if not text or text == '' then return out end
  for part in string.gmatch(text, '([^' .. sep .. ']+)') do out[#out + 1] = part end
  return out
end

local function parse_hold(rec)
  if not rec then return nil end
  local fields, from = {}, 1
  for _ = 1, 5 do
    local at = string.find(rec, '|', from, true)
    if not at then return nil end
    fields[#fields + 1] = string.sub(rec, from, at - 1)
    from = at + 1
  end
  return {
    expires = tonumber(fields[1]), state = fields[2], seats = split(fields[3], ','),
    tag = fields[4], order = fields[5], user = string.sub(rec, from),
  }
end

local function format_hold(h)
  return h.expires .. '|' .. h.state .. '|' .. table.concat(h.seats, ',') .. '|' .. h.tag
    .. '|' .. h.order .. '|' .. h.user
end

local function lapsed(h, now)
  return h.state == 'h' and h.expires <= now
end

local function user_remove(user, hold_id)
  local kept = {}
  for _, id in ipairs(split(redis.call('HGET', KEYS[4], user), ',')) do
    if id ~= hold_id then kept[#kept + 1] = id end
  end
  if #kept == 0 then
    redis.call('HDEL', KEYS[4], user)
  else
    redis.call('HSET', KEYS[4], user, table.concat(kept, ','))
  end
end

-- Gives a hold's seats back, exactly once (the record is the guard), and
-- notes each freed seat in `changes`.
local function release(hold_id, h, changes)
  for _, seat in ipairs(h.seats) do
    if redis.call('HGET', KEYS[2], seat) == hold_id then
      redis.call('HDEL', KEYS[2], seat)
      changes[#changes + 1] = seat .. ':f'
    end
  end
  user_remove(h.user, hold_id)
  redis.call('ZREM', KEYS[5], hold_id)
  redis.call('HDEL', KEYS[3], hold_id)
  if redis.call('EXISTS', KEYS[1]) == 1 then
    redis.call('HINCRBY', KEYS[1], 'sold', -#h.seats)
  end
  return #h.seats
end

-- Writes the changes as one log entry under a new version; the current
-- version either way.
local function publish(changes, maxlen)
  if #changes == 0 then
    return tonumber(redis.call('GET', KEYS[6]) or '0')
  end
  local version = redis.call('INCR', KEYS[6])
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', maxlen, '*', 'v', version, 'c',
    table.concat(changes, ','))
  return version
end
