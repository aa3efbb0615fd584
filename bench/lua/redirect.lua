-- wrk script for bench/redirect: GET /<code> for codes picked uniformly at
-- random from a file (one code a line), keep-alive. Each thread loads the list
-- into a table of ready-made requests at init and counts what it sends; done()
-- prints one "@@BENCH {json}" line for bench/redirect.
-- There is deliberately no response() hook: wrk would build a Lua table of
-- every response's headers for it, which costs wrk CPU in proportion to the
-- server's header count (linkd sends twice nginx's), and wrk shares the two
-- cores with the server. wrk's own counters give what the bench needs:
-- responses, and those with a status of 400 or more (errors.status).
-- usage: wrk ... -s redirect.lua URL -- CODES_FILE [SUFFIX [HEADER...]]
-- SUFFIX (e.g. "?ref=mail") goes after each code; each HEADER ("Name: value")
-- goes on every request.

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  local suffix = args[2] or ""
  local headers = nil
  for i = 3, #args do
    local name, value = args[i]:match("^([^:]+):%s*(.*)$")
    if not name then error("not a header: " .. args[i]) end
    headers = headers or {}
    headers[name] = value
  end
  local n = 0
  for line in io.lines(args[1]) do
    if #line > 0 then
      n = n + 1
      reqs[n] = wrk.format("GET", "/" .. line .. suffix, headers)
    end
  end
  if n == 0 then error("no codes in " .. tostring(args[1])) end
  nreqs = n
  math.randomseed(os.time() + tid * 104729 + math.floor(os.clock() * 1e6))
  sent = 0
end

function request()
  sent = sent + 1
  return reqs[math.random(nreqs)]
end

function done(summary, latency, requests)
  local total = 0
  for _, t in ipairs(threads) do total = total + (t:get("sent") or 0) end
  local e = summary.errors
  io.write(string.format(
    '@@BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,"err_status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"sent":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    total))
end
