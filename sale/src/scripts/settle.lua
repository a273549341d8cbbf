-- settle.lua: closes a transfer in the donor bucket once its units are
-- credited to the receiver (the journal entry goes, `lending` falls).
--
-- KEYS[1] the donor bucket's hash
-- KEYS[2] the donor's lent journal
-- ARGV[1] transfer id
--
-- Returns 1 when the entry was closed now, 0 when it was gone already.

local rec = redis.call('HGET', KEYS[2], ARGV[1])
if not rec then
  return 0
end
local sep1 = string.find(rec, '|', 1, true)
local sep2 = string.find(rec, '|', sep1 + 1, true)
local units = tonumber(string.sub(rec, sep1 + 1, sep2 - 1))
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HINCRBY', KEYS[1], 'lending', -units)
end
return 1
