-- Acks and deletes a stream entry and, only if this call acked it, adds to a hash counter (exactly-once accounting).
-- KEYS[1] stream   KEYS[2] hash holding the counter
-- ARGV[1] consumer group   ARGV[2] entry id   ARGV[3] counter field ('' for none)   ARGV[4] increment
-- Returns 1 when this call acked the entry.
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 1 and ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[3], tonumber(ARGV[4])) end
return acked
