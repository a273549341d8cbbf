-- load_drop.lua: put a drop into Redis from PostgreSQL's record.
--
-- KEYS[1] drop hash
-- KEYS[2] held hash
-- KEYS[3] reservations
-- KEYS[4] stock bucket's lent journal, KEYS[5] its credited ids (see
--         lend.lua, credit.lua); "rebuild" deletes them with the rest
-- ARGV[1] mode: "create" (only when absent), "sync" (settings only; stock only
--         ever rises), or "rebuild" (when absent or of an older epoch, with
--         holdings)
-- ARGV[2] stock        ARGV[3] state          ARGV[4] opens_at_ms
-- ARGV[5] cap          ARGV[6] price_cents    ARGV[7] currency
-- ARGV[8] timeout_secs
-- ARGV[9] version: PostgreSQL's updated_at in microseconds; "sync" ignores
--         settings older than those already loaded (a slow sync never undoes
--         a newer operator change)
-- ARGV[10] sold (rebuild only: units held by pending + paid orders)
-- ARGV[11] epoch: PostgreSQL's drops.redis_epoch this load belongs to (create
--          and rebuild store it; sync leaves it alone)
-- ARGV[12] seated: "1" for a seated sale (seats are held and ordered by
--          hold.lua / order_hold.lua; reserve.lua refuses it), else "0"
-- ARGV[13] hold time of a seated sale, ms (0 for units)
-- ARGV[14] moved: a stock bucket's net units borrowed (rebuild only; "0"
--          otherwise: "create" starts every bucket at its even share)
-- ARGV[15] buckets: how many stock buckets the drop has (kept on the drop's
--          own hash for the services to route by; "1" elsewhere)
-- ARGV[16..] rebuild only: triples order_id, user, quantity of holding orders
--
-- Returns 1 when it wrote, 0 when nothing needed doing. "create" never
-- touches a drop that is already loaded; "rebuild" only replaces a load of an
-- older epoch, so racing loaders converge on the newest epoch.

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
    'price_cents', ARGV[6], 'currency', ARGV[7], 'timeout_secs', ARGV[8], 'version', ARGV[9],
    'seated', ARGV[12], 'hold_ms', ARGV[13])
  return 1
end

local sold = 0
if mode == 'rebuild' then
  -- A rebuild replaces an older load wholesale (two processes that rebuilt
  -- one after the other: the later epoch is the one PostgreSQL accepts).
  if exists and tonumber(redis.call('HGET', KEYS[1], 'epoch') or '0') >= tonumber(ARGV[11]) then
    return 0
  end
  sold = tonumber(ARGV[10])
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5])
  for i = 16, #ARGV, 3 do
    local order_id, user, qty = ARGV[i], ARGV[i + 1], tonumber(ARGV[i + 2])
    redis.call('HINCRBY', KEYS[2], user, qty)
    redis.call('HSET', KEYS[3], order_id, qty .. '|0||' .. user)
  end
elseif exists then
  return 0
end
redis.call('HSET', KEYS[1], 'stock', ARGV[2], 'sold', sold, 'state', ARGV[3],
  'opens_at_ms', ARGV[4], 'cap', ARGV[5], 'price_cents', ARGV[6], 'currency', ARGV[7],
  'timeout_secs', ARGV[8], 'version', ARGV[9], 'epoch', ARGV[11], 'seated', ARGV[12],
  'hold_ms', ARGV[13], 'moved', ARGV[14], 'lending', 0, 'buckets', ARGV[15])
return 1
