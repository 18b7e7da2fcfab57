-- Reserves tokens from a run's token bucket (GCRA: the key holds TAT, the time in µs at which the bucket is full
-- again), going into debt if need be; the caller waits the returned time before spending them. The clock is Redis's
-- own, so workers on machines with skewed clocks still share one pace.
-- KEYS[1] bucket   ARGV[1] tokens   ARGV[2] rate (tokens/s)   ARGV[3] burst (tokens)
-- Returns the wait in µs (0 = spend now).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local amount = tonumber(ARGV[1])
local rate = tonumber(ARGV[2])
local burst = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if tat < now then tat = now end
tat = tat + math.ceil(amount * 1000000 / rate)
local wait = tat - now - math.floor(burst * 1000000 / rate)
-- The key lives until the bucket is full again, plus a minute: an idle run leaves nothing behind.
redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 60000)
if wait < 0 then return 0 end
return wait
