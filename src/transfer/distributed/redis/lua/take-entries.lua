-- Reads up to ARGV[3] new entries for consumer ARGV[2] of group ARGV[1] from the streams KEYS in priority order
-- (an earlier stream is drained first), in one round trip; never blocks. Same reply shape as XREADGROUP over
-- several streams.
local left = tonumber(ARGV[3])
local out = {}
for _, s in ipairs(KEYS) do
  if left <= 0 then break end
  local res = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', left, 'STREAMS', s, '>')
  if res and res[1] then
    out[#out + 1] = res[1]
    left = left - #res[1][2]
  end
end
return out
