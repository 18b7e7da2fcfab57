-- Registers a class once and queues its crawl job in the same step (none for a skipped class).
-- KEYS[1] run's classes hash   KEYS[2] crawl stream   KEYS[3] run's class version hash
-- ARGV[1] class id   ARGV[2] class record JSON   ARGV[3] crawl job JSON ('' for none)
-- Returns 1 when registered, 0 when the class was known already.
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('XADD', KEYS[2], '*', 'j', ARGV[3]) end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return 1
