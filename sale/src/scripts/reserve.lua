-- reserve.lua: decide one order atomically and reserve its units.
--
-- KEYS[1] drop hash       {stock, sold, state, opens_at_ms, cap, price_cents, currency,
--                          timeout_secs, epoch, moved}; or one stock bucket's hash
--                          (sale::gate::buckets): then `moved` is the net of units
--                          lent and borrowed, and KEYS[5..7] are the bucket's own
--                          (empty) keys, checked by the caller in the drop's slot
-- KEYS[2] held hash       user id -> units held (pending + paid)
-- KEYS[3] reservations    order id -> "quantity|reserved_at_ms|idempotency_tag|user"
--                          (user last: user ids may contain '|')
-- KEYS[4] idempotency key string "order_id|quantity", expires after ARGV[5] seconds
-- KEYS[5] the queue's shopping set (admitted, not yet ordered): the buyer
--         leaves it, so the admission pump may let the next fan in
-- ARGV[1] user id
-- ARGV[2] quantity (integer >= 1)
-- ARGV[3] now, milliseconds since the epoch
-- ARGV[4] new order id (used only when this call reserves)
-- ARGV[5] idempotency key lifetime, seconds
-- ARGV[6] idempotency tag (the hex suffix of KEYS[4]), kept in the reservation
--         so a reconciler can forget the key of an order never recorded
-- ARGV[7] the admission token's id (jti)
--
-- Returns one string, its fields joined by '|' (one bulk reply: the client
-- parses a string far more cheaply than an array of seven; no field can
-- hold '|': ids are UUIDs, numbers are digits, a currency three letters):
--   "ok|order_id|remaining|price_cents|currency|timeout_secs|epoch"
--                                  epoch: the load this Redis copy came from; the
--                                  order writer refuses a stale one
--   "dup|order_id|quantity"        the idempotency key was used before
--   "missing"                      the drop is not loaded in Redis
--   "err|code"                     code: closed | paused | not_open | invalid_quantity
--                                  | cap_exceeded | sold_out | seated (a seated sale:
--                                  seats are held, then ordered from the hold)
--                                  | revoked (the user or this token was revoked:
--                                  checked first, even before a retry's answer)
-- Checks run in this order and nothing is written unless all pass.

local user = ARGV[1]
local qty = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local order_id = ARGV[4]
local idem_ttl = tonumber(ARGV[5])
if not qty or qty < 1 or qty ~= math.floor(qty) or not now or not idem_ttl or user == '' then
  return 'err|invalid_quantity'
end

-- Revocation, in this same call (no extra round trip on the order path).
if redis.call('SISMEMBER', KEYS[6], user) == 1 or redis.call('ZSCORE', KEYS[7], ARGV[7]) then
  return 'err|revoked'
end

-- A retry of an earlier request answers with that request's order.
local seen = redis.call('GET', KEYS[4])
if seen then
  return 'dup|' .. seen
end

local d = redis.call('HMGET', KEYS[1], 'stock', 'sold', 'state', 'opens_at_ms', 'cap',
  'price_cents', 'currency', 'timeout_secs', 'epoch', 'seated', 'moved')
if not d[1] then
  return 'missing'
end
if d[10] == '1' then return 'err|seated' end
local stock, sold = tonumber(d[1]) + tonumber(d[11] or '0'), tonumber(d[2])
local state, opens_at, cap = d[3], tonumber(d[4]), tonumber(d[5])

if state == 'closed' then return 'err|closed' end
if state == 'paused' then return 'err|paused' end
if now < opens_at then return 'err|not_open' end
if qty > cap then return 'err|invalid_quantity' end
local held = tonumber(redis.call('HGET', KEYS[2], user) or '0')
if held + qty > cap then return 'err|cap_exceeded' end
if sold + qty > stock then return 'err|sold_out' end

redis.call('HINCRBY', KEYS[1], 'sold', qty)
redis.call('HINCRBY', KEYS[2], user, qty)
redis.call('HSET', KEYS[3], order_id, qty .. '|' .. now .. '|' .. ARGV[6] .. '|' .. user)
redis.call('SET', KEYS[4], order_id .. '|' .. qty, 'EX', idem_ttl)
redis.call('ZREM', KEYS[5], user)
return 'ok|' .. order_id .. '|' .. (stock - sold - qty) .. '|' .. d[6] .. '|' .. d[7] .. '|'
  .. d[8] .. '|' .. (d[9] or '0')
