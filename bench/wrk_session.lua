-- wrk script: each request carries the session cookie of one of many learners (a file of
-- session keys, one a line, given after "--"), so the load spreads over real learners; and,
-- when given as a third argument ("csrftoken=..."), the CSRF cookie a browser keeps after its
-- first page, so that a page with a form does not mint a new CSRF secret on every request.
-- Counts non-200 answers (a 302 to the login page would look fast) and prints the summary
-- as one JSON line for bench/run.py.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  cookie_name = args[1]
  extra_cookie = args[3] and ("; " .. args[3]) or ""
  cookies = {}
  if args[2] then
    for line in io.lines(args[2]) do
      if #line > 0 then cookies[#cookies + 1] = line end
    end
  end
  math.randomseed(os.time() + #threads * 7919)
  position = math.random(math.max(#cookies, 1))
  non200 = 0
end

function request()
  if #cookies == 0 then
    return wrk.format("GET")
  end
  position = position % #cookies + 1
  return wrk.format("GET", nil, { ["Cookie"] = cookie_name .. "=" .. cookies[position] .. extra_cookie })
end

function response(status, headers, body)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local bad = 0
  for _, thread in ipairs(threads) do bad = bad + thread:get("non200") end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_WRK {"requests": %d, "duration_us": %d, "non200": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, bad,
    errors.connect + errors.read + errors.write, errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.mean, latency.max))
end
