-- Ad clicks with distinct parameters: GET /c/<slug>?fbclid=...&utm_campaign=...
local counter = 0
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  slug = args[1]
  redirects = 0
  other = 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", "/c/" .. slug .. "?fbclid=IwAR" .. tid .. "x" .. counter .. "&utm_campaign=bench&utm_source=fb&sub1=" .. counter)
end

function response(status, headers, body)
  if status == 302 then redirects = redirects + 1 else other = other + 1 end
end

function done(summary, latency, requests)
  local r, o = 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("redirects")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT ok=%d other=%d\n", r, o))
end
