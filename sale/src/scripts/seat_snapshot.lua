-- seat_snapshot.lua: every seat's owner and every hold, with the version
-- they belong to, in one atomic read (a seat map starts from it, then
-- follows the log).
--
-- KEYS: see seats_lib.lua (only 2, 3 and 6 are read).
-- ARGV: none.
--
-- Returns {version, {index, hold id, ...}, {hold id, record, ...}}.

return {
  tonumber(redis.call('GET', KEYS[6]) or '0'),
  redis.call('HGETALL', KEYS[2]),
  redis.call('HGETALL', KEYS[3]),
}
