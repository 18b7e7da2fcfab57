-- Settles one copy batch atomically: acks and deletes its queue entry, sets the done bits of the files copied
-- and verified (bytes counted only for bits that flip 0 -> 1, so a batch settled twice after a reclaim is never
-- counted twice), records permanent failures and queues retries -- the last two only by the caller whose XACK
-- acked the entry. A worker killed between two Redis calls can therefore never drop a file.
--
-- KEYS[1]  copy or retry stream of the entry      KEYS[7]  run's class version hash
-- KEYS[2]  class done bitmap                      KEYS[8]  run's stats hash (files, bytes, retries, failed)
-- KEYS[3]  class failed bitmap                    KEYS[9]  class problems hash (file index -> problem JSON)
-- KEYS[4]  run's bytes-per-class hash             KEYS[10] retry stream
-- KEYS[5]  run's retries-per-class hash           KEYS[11] class fingerprint string (4 bytes per file)
-- KEYS[6]  run's skipped-per-class hash         KEYS[12] run's rewritten-playlists-per-class hash
--
-- ARGV[1] consumer group   ARGV[2] entry id   ARGV[3] class id
-- ARGV[4] first byte of the done slice; ARGV[5] the done bitmap's bytes from there on (SETBIT bit order), OR-ed
--         into the class bitmap with one GETRANGE + SETRANGE
-- ARGV[6] done files   ARGV[7] their bytes   ARGV[8] how many were skipped as already present: taken as given
--         when no bit was already set (the normal case); otherwise the script walks the bits with
-- ARGV[9] the done files' byte counts in index order (comma list) and ARGV[10] their "skipped" bitmap slice
-- ARGV[11] 4-byte origin fingerprints of the done files in index order (--watch runs only, else empty)
-- ARGV[12] how many done files are playlists stored rewritten (--rewrite-uri), counted like ARGV[8], with
-- ARGV[13] their bitmap slice when the bits are walked
-- ARGV[14] number of failures F, then F pairs (file index, problem JSON)
-- then the number of files to retry and the retry job JSON ('' when none)
--
-- Returns { acked (1 when this call acked the entry), files newly done, failures newly recorded }.
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local c = ARGV[3]
local b0 = tonumber(ARGV[4]); local mask = ARGV[5]; local nd = tonumber(ARGV[6])
local sizes = ARGV[9]; local skipMask = ARGV[10]; local fps = ARGV[11]; local rwMask = ARGV[13]
local files, bytes, skipped, rewritten = 0, 0, 0, 0
local n = #mask
if nd > 0 and n > 0 then
  local old = redis.call('GETRANGE', KEYS[2], b0, b0 + n - 1)
  local out = {}
  local again = false
  for k = 1, n do
    local m = string.byte(mask, k); local o = string.byte(old, k) or 0
    if bit.band(m, o) ~= 0 then again = true end
    out[k] = string.char(bit.bor(m, o))
  end
  redis.call('SETRANGE', KEYS[2], b0, table.concat(out))
  if not again then
    files = nd; bytes = tonumber(ARGV[7]); skipped = tonumber(ARGV[8]); rewritten = tonumber(ARGV[12])
  else
    local sz = {}
    for v in string.gmatch(sizes, '[^,]+') do sz[#sz + 1] = tonumber(v) end
    local j = 0
    for k = 1, n do
      local m = string.byte(mask, k)
      if m ~= 0 then
        local o = string.byte(old, k) or 0; local sk = string.byte(skipMask, k) or 0; local rw = string.byte(rwMask, k) or 0
        for b = 7, 0, -1 do
          local v = bit.lshift(1, b)
          if bit.band(m, v) ~= 0 then
            j = j + 1
            if bit.band(o, v) == 0 then
              files = files + 1; bytes = bytes + (sz[j] or 0)
              if bit.band(sk, v) ~= 0 then skipped = skipped + 1 end
              if bit.band(rw, v) ~= 0 then rewritten = rewritten + 1 end
            end
          end
        end
      end
    end
  end
  if redis.call('EXISTS', KEYS[3]) == 1 then
    local fo = redis.call('GETRANGE', KEYS[3], b0, b0 + n - 1)
    local fout = {}; local cleared = false
    for k = 1, #fo do
      local f = string.byte(fo, k); local both = bit.band(f, string.byte(mask, k))
      if both ~= 0 then
        cleared = true
        for b = 7, 0, -1 do
          if bit.band(both, bit.lshift(1, b)) ~= 0 then redis.call('HDEL', KEYS[9], tostring((b0 + k - 1) * 8 + 7 - b)) end
        end
      end
      fout[k] = string.char(bit.band(f, bit.bnot(both)))
    end
    if cleared then redis.call('SETRANGE', KEYS[3], b0, table.concat(fout)) end
  end
  if #fps > 0 then
    local j = 0
    for k = 1, n do
      local m = string.byte(mask, k)
      for b = 7, 0, -1 do
        if bit.band(m, bit.lshift(1, b)) ~= 0 then
          j = j + 1
          redis.call('SETRANGE', KEYS[11], ((b0 + k - 1) * 8 + 7 - b) * 4, string.sub(fps, 4 * j - 3, 4 * j))
        end
      end
    end
  end
end
local p = 14
local nf = tonumber(ARGV[p]); p = p + 1
local failures = 0
for i = 1, nf do
  local idx = tonumber(ARGV[p]); local pj = ARGV[p + 1]
  p = p + 2
  if acked == 1 and redis.call('GETBIT', KEYS[2], idx) == 0 then
    if redis.call('SETBIT', KEYS[3], idx, 1) == 0 then failures = failures + 1 end
    redis.call('HSET', KEYS[9], tostring(idx), pj)
  end
end
local nr = tonumber(ARGV[p]); local rj = ARGV[p + 1]
if acked == 1 and nr > 0 then
  redis.call('XADD', KEYS[10], '*', 'j', rj)
  redis.call('HINCRBY', KEYS[5], c, nr)
  redis.call('HINCRBY', KEYS[8], 'retries', nr)
end
if files > 0 then
  redis.call('HINCRBY', KEYS[4], c, bytes)
  redis.call('HINCRBY', KEYS[8], 'files', files)
  redis.call('HINCRBY', KEYS[8], 'bytes', bytes)
end
if skipped > 0 then redis.call('HINCRBY', KEYS[6], c, skipped) end
if rewritten > 0 then redis.call('HINCRBY', KEYS[12], c, rewritten) end
if failures > 0 then redis.call('HINCRBY', KEYS[8], 'failed', failures) end
redis.call('HINCRBY', KEYS[7], c, 1)
return { acked, files, failures }
