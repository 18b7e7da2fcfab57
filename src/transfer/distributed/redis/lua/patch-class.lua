-- Merges a JSON patch into a class record (a null value deletes the field) if the record's state is one of a
-- list; queues a crawl job in the same step when one is given (a re-crawl in --watch).
-- KEYS[1] run's classes hash   KEYS[2] run's class version hash   KEYS[3] crawl stream
-- ARGV[1] class id   ARGV[2] allowed states (comma list; '' = any)   ARGV[3] patch JSON   ARGV[4] crawl job JSON or ''
-- Returns 1 when patched, 0 when the class is unknown or in another state.
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if ARGV[2] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do if rec.state == s then ok = true end end
  if not ok then return 0 end
end
local patch = cjson.decode(ARGV[3])
for k, v in pairs(patch) do
  if v == cjson.null then rec[k] = nil else rec[k] = v end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if ARGV[4] and ARGV[4] ~= '' then redis.call('XADD', KEYS[3], '*', 'j', ARGV[4]) end
return 1
