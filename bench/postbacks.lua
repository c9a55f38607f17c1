-- Deposits with distinct transaction ids over existing leads; a share of them
-- repeats an earlier postback exactly, as a network's retries do.
local threads = {}

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = args[1]
  dup_share = tonumber(args[2])
  clickids = {}
  for line in io.lines(args[3]) do table.insert(clickids, line) end
  -- Each wrk run (warm-up, measured) gets its own transaction ids.
  run = args[4]
  counter = 0
  recorded = 0
  duplicate = 0
  other = 0
  sent = {}
  math.randomseed(1000 + tid)
end

function request()
  local path
  if #sent > 0 and math.random() < dup_share then
    path = sent[math.random(#sent)]
  else
    counter = counter + 1
    local clickid = clickids[((counter * 7919 + tid * 104729) % #clickids) + 1]
    path = "/api/postbacks/" .. token .. "/deposit?clickid=" .. clickid ..
      "&amount=" .. (counter % 500) .. ".25&tid=" .. run .. "-" .. tid .. "-" .. counter
    if #sent < 10000 then table.insert(sent, path) end
  end
  return wrk.format("GET", path)
end

function response(status, headers, body)
  if status == 200 and body:find('"recorded"', 1, true) then recorded = recorded + 1
  elseif status == 200 and body:find('"duplicate"', 1, true) then duplicate = duplicate + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local r, d, o = 0, 0, 0
  for _, t in ipairs(threads) do
    r = r + t:get("recorded")
    d = d + t:get("duplicate")
    o = o + t:get("other")
  end
  io.write(string.format("RESULT ok=%d duplicate=%d other=%d\n", r, d, o))
end
