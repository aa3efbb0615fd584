-- wrk script for bench/create: POST /urls with a JSON body, a unique
-- original_url per request and the user_id of a random seeded user.
-- done() prints one "@@BENCH {json}" line for bench/create.
-- usage: wrk ... -s create.lua URL -- N_USERS RUN_TAG

local threads = {}
local next_id = 1

function setup(thread)
  thread:set("tid", next_id)
  next_id = next_id + 1
  table.insert(threads, thread)
end

function init(args)
  nusers = tonumber(args[1])
  tag = args[2]
  math.randomseed(os.time() + tid * 104729 + math.floor(os.clock() * 1e6))
  headers = {["Content-Type"] = "application/json"}
  sent, s201, s2xx, s4xx, s429, s5xx, sother = 0, 0, 0, 0, 0, 0, 0
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"user_id":%d,"original_url":"https://example.com/bench/%s/%d/%d","title":"bench %d"}',
    math.random(nusers), tag, tid, sent, sent)
  return wrk.format("POST", "/urls", headers, body)
end

function response(status, headers, body)
  if status == 201 then s201 = s201 + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status < 300 then s2xx = s2xx + 1
  elseif status >= 400 and status < 500 then s4xx = s4xx + 1
  elseif status >= 500 then s5xx = s5xx + 1
  else sother = sother + 1 end
end

function done(summary, latency, requests)
  local c = {sent = 0, s201 = 0, s2xx = 0, s4xx = 0, s429 = 0, s5xx = 0, sother = 0}
  for _, t in ipairs(threads) do
    for k, _ in pairs(c) do c[k] = c[k] + (t:get(k) or 0) end
  end
  local e = summary.errors
  io.write(string.format(
    '@@BENCH {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"err_connect":%d,"err_read":%d,"err_write":%d,"err_timeout":%d,"err_status":%d,' ..
    '"p50_us":%d,"p90_us":%d,"p99_us":%d,"p999_us":%d,"max_us":%d,"mean_us":%.1f,' ..
    '"sent":%d,"s201":%d,"s2xx":%d,"s4xx":%d,"s429":%d,"s5xx":%d,"sother":%d}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency:percentile(99.9), latency.max, latency.mean,
    c.sent, c.s201, c.s2xx, c.s4xx, c.s429, c.s5xx, c.sother))
end
