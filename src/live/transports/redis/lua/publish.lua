-- One atomic step per publish batch: dedupe, sequence, append to history, route to the live watchers.
-- Atomicity is what keeps ids gap-free and delivery in id order across any number of dispatchers.
-- Called through publishEvents() in scripts.ts; the key and argument layout is written down there.
--
-- KEYS[1] sequence, KEYS[2] history list, KEYS[3] routing zset (node -> expiry), KEYS[4] history byte total.
-- ARGV[1..9]: now, history max events, history TTL, dedupe TTL, seen-key prefix, channel prefix, topic,
-- event count, history max bytes; then 4 per event: type, data, ts, origin ('' = none).
local now = tonumber(ARGV[1])
local histMax = tonumber(ARGV[2])
local histTtl = tonumber(ARGV[3])
local dedupeTtl = tonumber(ARGV[4])
local seenPrefix = ARGV[5]
local chanPrefix = ARGV[6]
local topic = ARGV[7]
local n = tonumber(ARGV[8])
local histBytes = tonumber(ARGV[9])
-- A history list without its byte total is summed once.
if redis.call('EXISTS', KEYS[4]) == 0 then
  local sum = 0
  for _, old in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do sum = sum + #old end
  redis.call('SET', KEYS[4], sum)
end
local added = 0
local evs = {}
for i = 0, n - 1 do
  local b = 10 + i * 4
  local origin = ARGV[b + 3]
  local fresh = true
  if origin ~= '' then
    fresh = redis.call('SET', seenPrefix .. origin, '1', 'NX', 'PX', dedupeTtl)
  end
  if fresh then
    local id = redis.call('INCR', KEYS[1])
    local ev = { topic = topic, id = id, type = ARGV[b], data = ARGV[b + 1], ts = tonumber(ARGV[b + 2]) }
    if origin ~= '' then ev.origin = origin end
    local text = cjson.encode(ev)
    redis.call('RPUSH', KEYS[2], text)
    added = added + #text
    evs[#evs + 1] = text
  end
end
if #evs > 0 then
  local total = redis.call('INCRBY', KEYS[4], added)
  local len = redis.call('LLEN', KEYS[2])
  while len > 1 and (len > histMax or total > histBytes) do
    total = redis.call('DECRBY', KEYS[4], #redis.call('LPOP', KEYS[2]))
    len = len - 1
  end
  redis.call('PEXPIRE', KEYS[2], histTtl)
  redis.call('PEXPIRE', KEYS[4], histTtl)
  redis.call('PEXPIRE', KEYS[1], histTtl)
  local payload = '[' .. table.concat(evs, ',') .. ']'
  local nodes = redis.call('ZRANGEBYSCORE', KEYS[3], now, '+inf')
  for _, node in ipairs(nodes) do redis.call('PUBLISH', chanPrefix .. node, payload) end
end
return evs
