-- wrk script for bench/redirect: GET /<code> for codes picked uniformly at
-- random from a file (one code a line), keep-alive. Each thread loads the list
-- into a table of ready-made requests at init and counts the statuses it
-- receives; done() prints one "@@BENCH {json}" line for bench/redirect.
-- usage: wrk ... -s redirect.lua URL -- CODES_FILE

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  reqs = {}
  local n = 0
  for line in io.lines(args[1]) do
    if #line > 0 then
      n = n + 1
      reqs[n] = wrk.format("GET", "/" .. line)
    end
  end
  if n == 0 then error("no codes in " .. tostring(args[1])) end
  nreqs = n
  math.randomseed(os.time() + tid * 104729 + math.floor(os.clock() * 1e6))
  sent, s302, s404, s2xx, s3xx, s4xx, s5xx = 0, 0, 0, 0, 0, 0, 0
end

function request()
  sent = sent + 1
  return reqs[math.random(nreqs)]
end

function response(status, headers, body)
  if status == 302 then s302 = s302 + 1
  elseif status == 404 then s404 = s404 + 1
  elseif status < 300 then s2xx = s2xx + 1
  elseif status < 400 then s3xx = s3xx + 1
  elseif status < 500 then s4xx = s4xx + 1
  else s5xx = s5xx + 1 end
end

function done(summary, latency, requests)
  local c = {sent = 0, s302 = 0, s404 = 0, s2xx = 0, s3xx = 0, s4xx = 0, s5xx = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do c[k] = c[k] + (t:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    '@@BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,"err_status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"sent":%d,"s302":%d,"s404":%d,"s2xx":%d,"s3xx":%d,"s4xx":%d,"s5xx":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    c.sent, c.s302, c.s404, c.s2xx, c.s3xx, c.s4xx, c.s5xx))
end
