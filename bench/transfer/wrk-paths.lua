-- Cycles GETs over the paths listed (one per line) in the file named by $WRK_PATHS, and prints a JSON line
-- the bench parses. Each wrk thread has its own Lua state, so each reads the list and keeps its own cursor.
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do
  if #line > 0 then paths[#paths + 1] = line end
end
local i = math.random(#paths)

request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end

done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRK_JSON {"requests":%d,"bytes":%d,"duration_us":%d,"errors":%d,"p99_us":%d}\n',
    summary.requests, summary.bytes, summary.duration, e.connect + e.read + e.write + e.status + e.timeout, latency:percentile(99)))
end
