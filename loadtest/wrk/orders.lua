-- orders.lua: a wrk script that posts orders to a Lineup sale service the
-- way a real rush does, as an independent check of `loadtest orders`.
--
--   loadtest tokens --count 100000 --out tokens.txt      # prints the drop
--   wrk -t2 -c200 -d10s -s loadtest/wrk/orders.lua http://127.0.0.1:8081 \
--       -- tokens.txt <drop> 2 2
--
-- Arguments after "--":
--   1. the token file: one admission token per line, one buyer each
--      (`loadtest tokens` mints them with the key the sale service trusts);
--   2. the drop id the tokens admit to;
--   3. the number of wrk threads, the same as -t (default 1): thread i
--      takes every THREADS-th line, so no two threads share a buyer (wrk
--      does not tell a thread how many there are; a thread beyond the
--      number given stops the run with an error);
--   4. the cap per user (default 2): each buyer places at most this many
--      orders with its token.
--
-- Every request is one order of one unit (`{"quantity":1}`) with its own
-- Idempotency-Key. A thread that has used all its buyers stops and says so
-- at the end; wrk's own Requests/sec then still divides by the whole -d, so
-- give enough tokens (rate x seconds / cap). done() prints the figure to
-- read: orders acknowledged (201) per second, and the answers by status.

local threads = {}
local started = 0

function setup(thread)
  started = started + 1
  thread:set("id", started)
  table.insert(threads, thread)
end

function init(args)
  local file, drop = args[1], args[2]
  if not file or not drop then
    error("usage: wrk ... -s orders.lua <url> -- TOKENS DROP [THREADS] [CAP]")
  end
  declared = tonumber(args[3] or "1")
  cap = tonumber(args[4] or "2")
  if id > declared then
    error(string.format("wrk started thread %d but %d were given after --: pass -t's value", id, declared))
  end
  tokens = {}
  local line_no = 0
  for line in io.lines(file) do
    if line ~= "" then
      if line_no % declared == id - 1 then
        tokens[#tokens + 1] = line
      end
      line_no = line_no + 1
    end
  end
  path = "/api/drops/" .. drop .. "/orders"
  body = '{"quantity":1}'
  math.randomseed(os.time() * 100 + id)
  run = string.format("%x%04x", os.time(), math.random(0, 65535))
  buyer, used, sent, buyers_used, ran_out = 1, 0, 0, 0, 0
  statuses = {}
end

function request()
  if used == cap then
    buyer, used = buyer + 1, 0
  end
  local token = tokens[buyer]
  if token == nil then
    -- Every buyer of this thread has placed its orders: stop the thread.
    -- wrk still wants a request; a health check, not counted as an order.
    ran_out = 1
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  if used == 0 then
    buyers_used = buyers_used + 1
  end
  used, sent = used + 1, sent + 1
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = run .. "-" .. id .. "-" .. sent,
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local sent, buyers, ran_out, by_status = 0, 0, 0, {}
  for _, thread in ipairs(threads) do
    sent = sent + thread:get("sent")
    buyers = buyers + thread:get("buyers_used")
    ran_out = ran_out + thread:get("ran_out")
    for status, n in pairs(thread:get("statuses")) do
      by_status[status] = (by_status[status] or 0) + n
    end
  end
  local seconds = summary.duration / 1e6
  local created = by_status[201] or 0
  io.write(string.format(
    "orders: %d sent by %d buyers (at most %d each), %d acknowledged (201) in %.1f s = %.0f/s\n",
    sent, buyers, cap_of(threads), created, seconds, created / seconds))
  io.write(string.format("latency ms (all requests): p50 %.2f, p99 %.2f, p99.9 %.2f, max %.2f\n",
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    latency:percentile(99.9) / 1000, latency.max / 1000))
  local answers = {}
  for status, n in pairs(by_status) do
    local what = status == 200 and " (health checks after buyers ran out)" or ""
    answers[#answers + 1] = string.format("%d: %d%s", status, n, what)
  end
  table.sort(answers)
  io.write("answers: " .. table.concat(answers, ", ") .. "\n")
  if ran_out > 0 then
    io.write(string.format(
      "WARNING: %d of %d threads ran out of buyers before the end: wrk's Requests/sec " ..
      "counts the whole -d; give more tokens\n", ran_out, #threads))
  end
end

-- The cap the threads were given (the same for all).
function cap_of(threads)
  return threads[1] and threads[1]:get("cap") or 0
end
