-- wrk script: a tick's round trip as the progress page makes it with JavaScript: the
-- in-place htmx POST that ticks (then, next time, unticks) one key of a learner, answered
-- with the page's fresh body. Arguments after "--": the session cookie's name, a file of
-- "<session key> <key id>" lines (one learner each, a key whose tick moves no level:
-- bench/measure.py chooses them), and the CSRF cookie ("csrftoken=<32 letters or digits>"),
-- whose value goes in the X-CSRFToken header as a page's htmx does with the token
-- (Django accepts the unmasked secret: docs.djangoproject.com/en/5.2/howto/csrf/), and
-- wrk's number of threads.
-- Each wrk thread takes its own share of the learners, so one learner's ticks and unticks
-- alternate (done=1, done=0, ...). Counts non-200 answers and prints one JSON line.

dofile(debug.getinfo(1, "S").source:match("^@(.*/)") .. "wrk_common.lua")

function init(args)
  local cookie_name = args[1]
  local csrf_cookie = args[3]
  local token = string.match(csrf_cookie, "=(.*)$")
  local count = tonumber(args[4]) or 1  -- wrk's -t
  items = {}
  local index = 0
  for line in io.lines(args[2]) do
    local session, key = string.match(line, "^(%S+)%s+(%d+)$")
    if session then
      if index % count == id then
        items[#items + 1] = {
          path = "/progress/keys/" .. key .. "/",
          headers = {
            ["Cookie"] = cookie_name .. "=" .. session .. "; " .. csrf_cookie,
            ["X-CSRFToken"] = token,
            ["HX-Request"] = "true",
            ["Content-Type"] = "application/x-www-form-urlencoded",
          },
          done = 0,
        }
      end
      index = index + 1
    end
  end
  position = 0
  non200 = 0
end

function request()
  position = position % #items + 1
  local item = items[position]
  item.done = 1 - item.done
  return wrk.format("POST", item.path, item.headers, "done=" .. item.done)
end
