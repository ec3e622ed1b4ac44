-- wrk script: each request carries the session cookie of one of many learners (a file of
-- session keys, one a line, given after "--"), so the load spreads over real learners; and,
-- when given as a third argument ("csrftoken=..."), the CSRF cookie a browser keeps after its
-- first page, so that a page with a form does not mint a new CSRF secret on every request.
-- Counts non-200 answers (a 302 to the login page would look fast) and prints the summary
-- as one JSON line for bench/run.py.

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")

function init(args)
  cookie_name = args[1]
  extra_cookie = args[3] and ("; " .. args[3]) or ""
  cookies = {}
  if args[2] then
    for line in io.lines(args[2]) do
      if #line > 0 then cookies[#cookies + 1] = line end
    end
  end
  math.randomseed(os.time() + id * 7919)
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
