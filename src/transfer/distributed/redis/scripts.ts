// Lua scripts: each makes one state transition atomic, so a worker killed between two Redis calls
// can never leave a batch half-settled (bits set but the queue entry still pending is harmless;
// the reverse would drop files — these scripts make the reverse impossible).
import type { ChainableCommander, Redis } from 'ioredis'

/**
 * Settles a copy batch: ack+delete its queue entry, set done bits (bytes counted only for bits that
 * flip 0→1, so a batch settled twice after a reclaim is never counted twice), record permanent
 * failures, and queue retries — the last two only by the worker whose XACK actually acked it.
 *
 * Done files arrive as a bitmap slice, not one argument per file: ARGV[5] is the done bitmap's bytes
 * from byte ARGV[4] on (same bit order as SETBIT), OR-ed into the class bitmap with one GETRANGE +
 * SETRANGE. When no bit was already set (the normal case) the totals ARGV[6..8] are taken as given;
 * otherwise (a reclaimed batch settled twice) the script walks the bits, with ARGV[9] = the done files'
 * byte counts in index order (comma list) and ARGV[10] = their "skipped, already present" bits.
 * ARGV[11] = 4-byte origin fingerprints of the done files in index order (--watch runs only).
 */
const SETTLE_BATCH = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
local c = ARGV[3]
local b0 = tonumber(ARGV[4]); local mask = ARGV[5]; local nd = tonumber(ARGV[6])
local sizes = ARGV[9]; local skipMask = ARGV[10]; local fps = ARGV[11]
local files, bytes, skipped = 0, 0, 0
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
    files = nd; bytes = tonumber(ARGV[7]); skipped = tonumber(ARGV[8])
  else
    local sz = {}
    for v in string.gmatch(sizes, '[^,]+') do sz[#sz + 1] = tonumber(v) end
    local j = 0
    for k = 1, n do
      local m = string.byte(mask, k)
      if m ~= 0 then
        local o = string.byte(old, k) or 0; local sk = string.byte(skipMask, k) or 0
        for b = 7, 0, -1 do
          local v = bit.lshift(1, b)
          if bit.band(m, v) ~= 0 then
            j = j + 1
            if bit.band(o, v) == 0 then
              files = files + 1; bytes = bytes + (sz[j] or 0)
              if bit.band(sk, v) ~= 0 then skipped = skipped + 1 end
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
local p = 12
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
if failures > 0 then redis.call('HINCRBY', KEYS[8], 'failed', failures) end
redis.call('HINCRBY', KEYS[7], c, 1)
return { acked, files, failures }
`

/** Appends a file-list chunk only if the list still has the expected length (a re-run crawl is a no-op). */
const APPEND_FILES = `
if redis.call('LLEN', KEYS[1]) ~= tonumber(ARGV[2]) then return -1 end
redis.call('RPUSH', KEYS[1], ARGV[3])
return redis.call('HINCRBY', KEYS[2], ARGV[1], tonumber(ARGV[4]))
`

/** Queues copy batches and advances the class cursor together, only from the expected cursor. */
const ENQUEUE_BATCHES = `
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if cur ~= tonumber(ARGV[2]) then return 0 end
for i = 4, #ARGV do redis.call('XADD', KEYS[2], '*', 'j', ARGV[i]) end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
`

/** Registers a class once; queues its crawl job in the same step (or none for a skipped class). */
const REGISTER_CLASS = `
if redis.call('HSETNX', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
if ARGV[3] ~= '' then redis.call('XADD', KEYS[2], '*', 'j', ARGV[3]) end
redis.call('HINCRBY', KEYS[3], ARGV[1], 1)
return 1
`

/**
 * Merges a JSON patch into a class record if its state is one of ARGV[2] (comma list; '' = any).
 * When ARGV[4] is a job, it is queued on KEYS[3] in the same step (a re-crawl in --watch).
 */
const PATCH_CLASS = `
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rec = cjson.decode(raw)
if ARGV[2] ~= '' then
  local ok = false
  for s in string.gmatch(ARGV[2], '[^,]+') do if rec.state == s then ok = true end end
  if not ok then return 0 end
end
local patch = cjson.decode(ARGV[3])
for k, v in pairs(patch) do
  if v == cjson.null then rec[k] = nil else rec[k] = v end
end
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rec))
redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
if ARGV[4] and ARGV[4] ~= '' then redis.call('XADD', KEYS[3], '*', 'j', ARGV[4]) end
return 1
`

/** Acks+deletes an entry and, only if this call acked it, bumps a counter (exactly-once accounting). */
const ACK_AND_COUNT = `
local acked = redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if acked == 1 and ARGV[3] ~= '' then redis.call('HINCRBY', KEYS[2], ARGV[3], tonumber(ARGV[4])) end
return acked
`

/** Creates a run with its first scan jobs in one step; 0 when the run already exists. */
const SUBMIT_RUN = `
if redis.call('HSETNX', KEYS[1], 'config', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'createdAt', ARGV[2], 'state', 'running', 'gen', 1, 'scanPending', ARGV[3])
for i = 5, #ARGV do redis.call('XADD', KEYS[2], '*', 'j', ARGV[i]) end
redis.call('SADD', KEYS[3], ARGV[4])
redis.call('SADD', KEYS[4], ARGV[4])
return 1
`

/**
 * Reads up to ARGV[3] new entries for consumer ARGV[2] of group ARGV[1] from the streams KEYS in priority
 * order (an earlier stream is drained first), in one round trip; never blocks. Same reply shape as
 * XREADGROUP over several streams.
 */
const TAKE_ENTRIES = `
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
`

/** Deletes a lock only if we still hold it. */
const RELEASE_LOCK = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`

type Arg = string | number | Buffer

export interface ScriptedCommands {
  settleBatch(...args: Arg[]): Promise<[number, number, number]>
  appendFiles(...args: Arg[]): Promise<number>
  enqueueBatches(...args: Arg[]): Promise<number>
  registerClass(...args: Arg[]): Promise<number>
  patchClass(...args: Arg[]): Promise<number>
  releaseLock(...args: Arg[]): Promise<number>
  ackAndCount(...args: Arg[]): Promise<number>
  submitRun(...args: Arg[]): Promise<number>
  takeEntries(...args: Arg[]): Promise<Array<[string, Array<[string, string[] | null]>]>>
}

export type ScriptedRedis = Redis & ScriptedCommands

/** A pipeline that can queue the scripts too. */
export type ScriptedPipeline = ChainableCommander & {
  registerClass(...args: Arg[]): ScriptedPipeline
  patchClass(...args: Arg[]): ScriptedPipeline
}

export function scriptedPipeline(redis: ScriptedRedis): ScriptedPipeline {
  return redis.pipeline() as ScriptedPipeline
}

export function defineScripts(redis: Redis): ScriptedRedis {
  redis.defineCommand('settleBatch', { numberOfKeys: 11, lua: SETTLE_BATCH })
  redis.defineCommand('appendFiles', { numberOfKeys: 2, lua: APPEND_FILES })
  redis.defineCommand('enqueueBatches', { numberOfKeys: 2, lua: ENQUEUE_BATCHES })
  redis.defineCommand('registerClass', { numberOfKeys: 3, lua: REGISTER_CLASS })
  redis.defineCommand('patchClass', { numberOfKeys: 3, lua: PATCH_CLASS })
  redis.defineCommand('releaseLock', { numberOfKeys: 1, lua: RELEASE_LOCK })
  redis.defineCommand('ackAndCount', { numberOfKeys: 2, lua: ACK_AND_COUNT })
  redis.defineCommand('submitRun', { numberOfKeys: 4, lua: SUBMIT_RUN })
  redis.defineCommand('takeEntries', { lua: TAKE_ENTRIES })
  return redis as ScriptedRedis
}
