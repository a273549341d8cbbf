-- release_hold.lua: give a hold's seats back, at most once.
--
-- KEYS: see seats_lib.lua (KEYS[9]: the idempotency key to forget, with
--       mode "unrecorded"; any key otherwise).
-- ARGV[1] hold id
-- ARGV[2] mode: "user"       its fan gives it up (ARGV[4] must be the fan;
--                            an ordered hold is not released this way)
--               "lapse"      only if it is a hold past its expiry
--               "order"      only if ordered (the order expired, was
--                            cancelled or refunded)
--               "unrecorded" a hold PostgreSQL never recorded: given back,
--                            and its idempotency key forgotten
-- ARGV[3] now, ms
-- ARGV[4] user id (mode "user"), else ""
-- ARGV[5] log length to keep (approximate)
--
-- Returns {seats given back (0 when nothing was held this way), version}.

local hold_id, mode, now, user = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
local h = parse_hold(redis.call('HGET', KEYS[3], hold_id))
local version = tonumber(redis.call('GET', KEYS[6]) or '0')
if not h then return {0, version} end
if mode == 'user' and (h.user ~= user or h.state ~= 'h') then return {0, version} end
if mode == 'lapse' and not lapsed(h, now) then return {0, version} end
if mode == 'order' and h.state ~= 'o' then return {0, version} end
if mode == 'unrecorded' and h.state ~= 'h' then return {0, version} end
local changes = {}
local freed = release(hold_id, h, changes)
if mode == 'unrecorded' then redis.call('DEL', KEYS[9]) end
return {freed, publish(changes, tonumber(ARGV[5]))}
