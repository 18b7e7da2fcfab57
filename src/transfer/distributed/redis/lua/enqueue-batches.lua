-- Queues copy batches and advances the class cursor together, only from the expected cursor.
-- KEYS[1] run's cursor-per-class hash   KEYS[2] copy stream
-- ARGV[1] class id   ARGV[2] expected cursor   ARGV[3] new cursor   ARGV[4..] copy job JSONs
-- Returns 1 when queued, 0 when the cursor had moved.
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur ~= tonumber(ARGV[2]) then return 0 end
for i = 4, #ARGV do redis.call('XADD', KEYS[2], '*', 'j', ARGV[i]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
