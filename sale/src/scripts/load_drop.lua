-- load_drop.lua: put a drop into Redis from PostgreSQL's record.
--
-- KEYS[1] drop hash
-- KEYS[2] held hash
-- KEYS[3] reservations
-- ARGV[1] mode: "create" (only when absent), "sync" (settings only; stock only
--         ever rises), or "rebuild" (only when absent, with holdings)
-- ARGV[2] stock        ARGV[3] state          ARGV[4] opens_at_ms
-- ARGV[5] cap          ARGV[6] price_cents    ARGV[7] currency
-- ARGV[8] timeout_secs
-- ARGV[9] version: PostgreSQL's updated_at in microseconds; "sync" ignores
--         settings older than those already loaded (a slow sync never undoes
--         a newer operator change)
-- ARGV[10] sold (rebuild only: units held by pending + paid orders)
-- ARGV[11..] rebuild only: triples order_id, user, quantity of holding orders
--
-- Returns 1 when it wrote, 0 when nothing needed doing. "create" and
-- "rebuild" never touch a drop that is already loaded, so several processes
-- may race to load the same drop and exactly one wins.

local mode = ARGV[1]
local exists = redis.call('EXISTS', KEYS[1]) == 1

if mode == 'sync' then
  if not exists then return 0 end
  local version = tonumber(redis.call('HGET', KEYS[1], 'version') or '0')
  if tonumber(ARGV[9]) < version then return 0 end
  local stock = tonumber(redis.call('HGET', KEYS[1], 'stock'))
  if tonumber(ARGV[2]) > stock then
    redis.call('HSET', KEYS[1], 'stock', ARGV[2])
  end
  redis.call('HSET', KEYS[1], 'state', ARGV[3], 'opens_at_ms', ARGV[4], 'cap', ARGV[5],
    'price_cents', ARGV[6], 'currency', ARGV[7], 'timeout_secs', ARGV[8], 'version', ARGV[9])
  return 1
end

if exists then return 0 end
local sold = 0
if mode == 'rebuild' then
  sold = tonumber(ARGV[10])
  redis.call('DEL', KEYS[2], KEYS[3])
  for i = 11, #ARGV, 3 do
    local order_id, user, qty = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    redis.call('HINCRBY', KEYS[2], user, qty)
    redis.call('HSET', KEYS[3], order_id, user .. '|' .. qty .. '|0')
  end
end
redis.call('HSET', KEYS[1], 'stock', ARGV[2], 'sold', sold, 'state', ARGV[3],
  'opens_at_ms', ARGV[4], 'cap', ARGV[5], 'price_cents', ARGV[6], 'currency', ARGV[7],
  'timeout_secs', ARGV[8], 'version', ARGV[9])
return 1
