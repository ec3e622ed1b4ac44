-- wrk script for bench/webhooks.py. Arguments after "--": the expected status, then
-- optionally a file of signed Standard Webhooks deliveries, one a line:
--   webhook-id <TAB> webhook-timestamp <TAB> webhook-signature <TAB> body
-- With a file, each request POSTs the next delivery (each unique; a wrap-around, which would
-- send duplicates, is counted); without one, a plain GET. Run with one wrk thread (-t 1), so
-- that every delivery is sent once. Prints the summary as one JSON line.

function init(args)
  expected = tonumber(args[1])
  requests = {}
  if args[2] then
    for line in io.lines(args[2]) do
      local id, stamp, signature, body = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)\t(.*)$")
      if id then
        requests[#requests + 1] = wrk.format("POST", nil, {
          ["Content-Type"] = "application/json",
          ["webhook-id"] = id,
          ["webhook-timestamp"] = stamp,
          ["webhook-signature"] = signature,
        }, body)
      end
    end
  end
  position = 0
  wrapped = 0
  unexpected = 0
  statuses = {}
end

function request()
  if #requests == 0 then
    return wrk.format("GET")
  end
  position = position + 1
  if position > #requests then
    position = 1
    wrapped = wrapped + 1
  end
  return requests[position]
end

function response(status, headers, body)
  if status ~= expected then
    unexpected = unexpected + 1
    statuses[status] = (statuses[status] or 0) + 1
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function done(summary, latency, requests_)
  local bad, wraps, sent = 0, 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("unexpected")
    wraps = wraps + thread:get("wrapped")
    sent = sent + thread:get("position")
  end
  local errors = summary.errors
  io.write(string.format(
    'BENCH_WRK {"requests": %d, "duration_us": %d, "unexpected": %d, "wrapped": %d, ' ..
    '"socket_errors": %d, "timeouts": %d, "status_errors": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "mean_us": %.1f, "max_us": %d}\n',
    summary.requests, summary.duration, bad, wraps,
    errors.connect + errors.read + errors.write, errors.timeout, errors.status,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.mean, latency.max))
end
