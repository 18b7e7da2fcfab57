// Copier role: takes copy batches (retries first), runs them on an executor, settles each batch in one
// atomic script. A batch reclaimed from a dead copier skips files whose done bit is already set.
import { computeBackoff, delay } from '../../../shared/backoff.ts'
import type { BatchExecutor, BatchFile, BatchResult } from './executor.ts'
import type { CopyJob } from '../jobs.ts'
import type { RoleContext } from './role-context.ts'
import type { RunConfig } from '../run-config.ts'
import type { StreamEntry } from '../redis/stream-queue.ts'
import { FileListCache } from '../redis/file-list-cache.ts'
import { fingerprintOf } from '../redis/file-list.ts'
import { indicesOf } from '../jobs.ts'
import { groupOf } from '../redis/keys.ts'
import { runRoleLoop } from './role-runner.ts'
import { ackEntry } from '../redis/stream-queue.ts'

export type CopierOptions = {
  /** Batches held at once. @defaultValue 2 */
  slots?: number
  /** The executor for a run: local copies, or AWS Lambda when the run was submitted with --executor lambda. */
  executorFor: (config: RunConfig) => BatchExecutor
}

function bitSet(bytes: Buffer, firstByte: number, index: number): boolean {
  const b = bytes[Math.floor(index / 8) - firstByte] ?? 0
  return ((b >> (7 - (index % 8))) & 1) === 1
}

export async function runCopier(ctx: RoleContext, options: CopierOptions): Promise<void> {
  const { redis, keys } = ctx
  const lists = new FileListCache(redis, keys)
  const blocking = redis.duplicate() as typeof redis
  blocking.on('error', () => {})
  try {
    await runRoleLoop<CopyJob>({
      redis, blocking, streams: [keys.queue('retry'), keys.queue('copy')], group: groupOf('copy'),
      consumer: ctx.consumer, log: ctx.log, slots: options.slots ?? 2, claimIdleMs: ctx.claimIdleMs, signal: ctx.signal,
      handle: (entry) => handleBatch(ctx, lists, options.executorFor, entry),
    })
  } finally {
    blocking.disconnect()
  }
}

async function handleBatch(ctx: RoleContext, lists: FileListCache, executorFor: (config: RunConfig) => BatchExecutor, entry: StreamEntry<CopyJob>): Promise<void> {
  const { redis, keys, metrics } = ctx
  const job = entry.job
  if (entry.claimed) metrics.reclaimed.inc({ role: 'copier' })
  const config = await ctx.configs.get(job.r)
  const wanted = indicesOf(job)
  if (!config) {
    await ackEntry(redis, entry.stream, groupOf('copy'), entry.id)
    return
  }
  if (wanted.length === 0) {
    await settle(ctx, entry, config, [], [], 0)
    return
  }
  const lo = Math.min(...wanted)
  const hi = Math.max(...wanted)
  // A range batch on its first delivery (never held by anyone, first attempt) cannot have done bits:
  // ranges are queued once, from the crawler's cursor. Only re-deliveries and index lists look first.
  const fresh = !entry.claimed && job.a === 0 && job.i === undefined
  const [doneBytes, list] = await Promise.all([
    fresh ? Buffer.alloc(0) : redis.getrangeBuffer(keys.done(job.r, job.c), Math.floor(lo / 8), Math.floor(hi / 8)),
    lists.get(job.r, job.c, hi),
  ])
  const files: BatchFile[] = []
  const changed = new Map<number, number>()
  job.x?.forEach((fp, k) => { const i = job.i?.[k]; if (i !== undefined) changed.set(i, fp) })
  for (const i of wanted) {
    if (bitSet(doneBytes, Math.floor(lo / 8), i)) continue
    const ref = list.files[i]
    if (!ref) continue
    // A changed file: the listed size/ETag are the old ones, so let the copy look at the origin afresh.
    if (changed.has(i)) files.push({ i, ref: { source: ref.source, key: ref.key, kind: ref.kind } })
    else files.push({ i, ref })
  }
  if (job.nb && job.nb > Date.now()) await delay(Math.min(job.nb - Date.now(), 60_000), ctx.workSignal)
  const executor = executorFor(config)
  const end = metrics.batchSeconds.startTimer({ executor: executor.kind })
  const results = files.length ? await executor.run(config, job.c, files, job.a, ctx.workSignal) : []
  end()
  // Outcomes of aborted copies say nothing about the files: leave the batch for another worker.
  if (ctx.workSignal.aborted) throw new Error('worker stopped mid-batch')
  await settle(ctx, entry, config, files, results, job.a, changed)
}

/** The done files of a batch as the settle script takes them: one bitmap slice, totals, and per-file detail it reads only when needed. */
export function doneArgs(done: Array<{ i: number; bytes: number; skipped: boolean; fp?: number }>): { b0: number; mask: Buffer; bytes: number; skipped: number; sizes: string; skipMask: Buffer; fps: Buffer } {
  if (done.length === 0) return { b0: 0, mask: Buffer.alloc(0), bytes: 0, skipped: 0, sizes: '', skipMask: Buffer.alloc(0), fps: Buffer.alloc(0) }
  let sorted = true
  for (let k = 1; k < done.length; k++) if ((done[k] as { i: number }).i < (done[k - 1] as { i: number }).i) { sorted = false; break }
  if (!sorted) done.sort((a, b) => a.i - b.i)
  const b0 = Math.floor((done[0] as { i: number }).i / 8)
  const n = Math.floor((done[done.length - 1] as { i: number }).i / 8) - b0 + 1
  const mask = Buffer.alloc(n)
  const skipMask = Buffer.alloc(n)
  const fps = done[0]?.fp === undefined ? Buffer.alloc(0) : Buffer.alloc(4 * done.length)
  const sizes: number[] = []
  let bytes = 0
  let skipped = 0
  let anySkipped = false
  for (let k = 0; k < done.length; k++) {
    const d = done[k] as { i: number; bytes: number; skipped: boolean; fp?: number }
    const byte = (d.i >> 3) - b0
    const bit = 0x80 >> (d.i & 7)
    mask[byte] = (mask[byte] as number) | bit
    if (d.skipped) { skipMask[byte] = (skipMask[byte] as number) | bit; skipped++; anySkipped = true }
    bytes += d.bytes
    sizes.push(d.bytes)
    if (fps.length) fps.writeUInt32BE(d.fp ?? 0, 4 * k)
  }
  return { b0, mask, bytes, skipped, sizes: sizes.join(','), skipMask: anySkipped ? skipMask : Buffer.alloc(0), fps }
}

async function settle(ctx: RoleContext, entry: StreamEntry<CopyJob>, config: RunConfig, files: BatchFile[], results: BatchResult[], attempt: number, changed = new Map<number, number>()): Promise<void> {
  const { redis, keys, metrics } = ctx
  const { r, c } = entry.job
  const done: Array<{ i: number; bytes: number; skipped: boolean; fp?: number }> = []
  const failed: Array<string | number> = []
  const retry: number[] = []
  let retryAfter = 0
  let copiedBytes = 0
  let copied = 0
  let present = 0
  const byIndex = config.watchMs ? new Map(files.map((f) => [f.i, f.ref])) : undefined
  for (const { i, outcome } of results) {
    if (outcome.ok) {
      // Report bytes are those of verified files, present-and-skipped ones included (as the embedded report counts them).
      if (byIndex) {
        const ref = byIndex.get(i)
        // The origin's validators as the listing gives them, so a re-crawl compares like with like.
        done.push({ i, bytes: outcome.bytes, skipped: outcome.skipped, fp: changed.get(i) ?? fingerprintOf(ref?.etag, ref?.size ?? outcome.bytes) })
      } else {
        done.push({ i, bytes: outcome.bytes, skipped: outcome.skipped })
      }
      if (outcome.skipped) present++
      else { copied++; copiedBytes += outcome.bytes }
    } else if (outcome.retryable && attempt < config.retries) {
      retry.push(i)
      retryAfter = Math.max(retryAfter, outcome.retryAfterMs ?? 0)
    } else {
      failed.push(i, JSON.stringify({ code: outcome.code, message: outcome.message.slice(0, 300), attempts: attempt + 1 }))
    }
  }
  // One increment per batch, not per file: label lookups add up at tens of thousands of files a second.
  if (copied) metrics.files.inc({ result: 'copied' }, copied)
  if (present) metrics.files.inc({ result: 'skipped-present' }, present)
  if (failed.length) metrics.files.inc({ result: 'failed' }, failed.length / 2)
  if (copiedBytes) metrics.bytes.inc(copiedBytes)
  let retryJob = ''
  if (retry.length) {
    const wait = Math.max(computeBackoff(attempt), retryAfter)
    const x = retry.map((i) => changed.get(i))
    retryJob = JSON.stringify({ r, c, i: retry, a: attempt + 1, nb: Date.now() + wait, ...(x.every((v) => v !== undefined) && changed.size ? { x } : {}) })
    metrics.retries.inc(retry.length)
    metrics.files.inc({ result: 'retried' }, retry.length)
  }
  const d = doneArgs(done)
  const [acked] = await redis.settleBatch(
    entry.stream, keys.done(r, c), keys.failed(r, c), keys.bytes(r), keys.retries(r), keys.skipped(r), keys.version(r), keys.stats(r),
    keys.problems(r, c), keys.queue('retry'), keys.fingerprint(r, c),
    groupOf('copy'), entry.id, c, d.b0, d.mask, done.length, d.bytes, d.skipped, d.sizes, d.skipMask, d.fps,
    failed.length / 2, ...failed, retry.length, retryJob,
  )
  metrics.jobs.inc({ role: 'copier', outcome: acked === 1 ? 'settled' : 'already-settled' })
}
