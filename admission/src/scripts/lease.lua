-- lease.lua: take or keep a leader lease.
--
-- KEYS[1] the lease key (string: the holder's id, with a TTL)
-- ARGV[1] "acquire" (take it when free, or renew it when already ours) or
--         "release" (give it up, only when ours)
-- ARGV[2] holder id
-- ARGV[3] lease time, milliseconds (acquire only)
--
-- Returns 1 when the caller holds the lease afterwards (acquire) or gave it up
-- (release), 0 otherwise. Never takes over a lease another holder still has.

local current = redis.call('GET', KEYS[1])
if ARGV[1] == 'release' then
  if current == ARGV[2] then
    redis.call('DEL', KEYS[1])
    return 1
  end
  return 0
end
if current == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if not current then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0
