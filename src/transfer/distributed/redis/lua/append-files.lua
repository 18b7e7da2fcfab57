-- Appends one chunk to a class's file list only if the list still has the expected number of chunks, so a crawl
-- re-run by another worker is a no-op.
-- KEYS[1] class file list   KEYS[2] run's file-count-per-class hash
-- ARGV[1] class id   ARGV[2] expected chunks   ARGV[3] the chunk   ARGV[4] files in the chunk
-- Returns the class's new file count, or -1 when the list changed underneath.
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return -1 end
redis.call('RPUSH', KEYS[1], ARGV[3])
return redis.call('HINCRBY', KEYS[2], ARGV[1], tonumber(ARGV[4]))
