-- Viewers of one topic across the nodes still in its routing table (expired nodes are pruned first).
-- Called through countViewers() in scripts.ts.
--
-- KEYS[1] routing zset (node -> expiry), KEYS[2] viewer hash (node -> count). ARGV[1] now (ms).
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local alive = redis.call('ZRANGE', KEYS[1], 0, -1)
if #alive == 0 then return 0 end
local counts = redis.call('HMGET', KEYS[2], unpack(alive))
local sum = 0
for _, c in ipairs(counts) do if c then sum = sum + tonumber(c) end end
return sum
