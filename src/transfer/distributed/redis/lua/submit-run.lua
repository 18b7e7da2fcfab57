-- Creates a run with its first scan jobs in one step.
-- KEYS[1] run's meta hash   KEYS[2] scan stream   KEYS[3] set of all runs   KEYS[4] set of active runs
-- ARGV[1] run config JSON   ARGV[2] creation time   ARGV[3] scans pending   ARGV[4] run name   ARGV[5..] scan job JSONs
-- Returns 1 when created, 0 when the run already exists.
if redis.call('HSETNX', KEYS[1], 'config', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'createdAt', ARGV[2], 'state', 'running', 'gen', 1, 'scanPending', ARGV[3])
for i = 5, #ARGV do redis.call('XADD', KEYS[2], '*', 'j', ARGV[i]) end
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[4])
return 1
