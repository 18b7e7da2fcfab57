// Copier role: takes copy batches (retries first), runs them on an executor, settles each batch in one
// atomic script. A batch reclaimed from a dead copier skips files whose done bit is already set.
import { computeBackoff, delay } from '../../../shared/backoff.ts'
import { copyListJob, indicesOf, type CopyBatchJob, type FileProblem, type RunConfig } from '../../wire-format.ts'
import { FileListCache } from '../redis/file-list-cache.ts'
import { fingerprintOf } from '../redis/file-list.ts'
import { groupOf } from '../redis/keys.ts'
import { settleBatch, type DoneFile, type SettleBatchInput } from '../redis/scripts.ts'
import { ackEntry, type StreamEntry } from '../redis/stream-queue.ts'
import type { BatchExecutor, BatchFile, BatchResult } from './executor.ts'
import type { RoleContext } from './role-context.ts'
import { runRoleLoop } from './role-runner.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

export type CopierOptions = {
  /** Batches held at once. @defaultValue TRANSFER_DEFAULTS.distributed.minCopySlots */
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
    await runRoleLoop<CopyBatchJob>({
      redis, blocking, streams: [keys.queue('retry'), keys.queue('copy')], group: groupOf('copy'),
      consumer: ctx.consumer, log: ctx.log, slots: options.slots ?? TRANSFER_DEFAULTS.distributed.minCopySlots, claimIdleMs: ctx.claimIdleMs, signal: ctx.signal,
      handle: (entry) => handleBatch(ctx, lists, options.executorFor, entry),
    })
  } finally {
    blocking.disconnect()
  }
}

async function handleBatch(ctx: RoleContext, lists: FileListCache, executorFor: (config: RunConfig) => BatchExecutor, entry: StreamEntry<CopyBatchJob>): Promise<void> {
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

async function settle(ctx: RoleContext, entry: StreamEntry<CopyBatchJob>, config: RunConfig, files: BatchFile[], results: BatchResult[], attempt: number, changed = new Map<number, number>()): Promise<void> {
  const { redis, keys, metrics } = ctx
  const { r, c } = entry.job
  const done: DoneFile[] = []
  const failures: SettleBatchInput['failures'] = []
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
        done.push({ i, bytes: outcome.bytes, skipped: outcome.skipped, fp: changed.get(i) ?? fingerprintOf(ref?.etag, ref?.size ?? outcome.bytes), ...(outcome.rewritten ? { rewritten: true } : {}) })
      } else {
        done.push({ i, bytes: outcome.bytes, skipped: outcome.skipped, ...(outcome.rewritten ? { rewritten: true } : {}) })
      }
      if (outcome.skipped) present++
      else { copied++; copiedBytes += outcome.bytes }
    } else if (outcome.retryable && attempt < config.retries) {
      retry.push(i)
      retryAfter = Math.max(retryAfter, outcome.retryAfterMs ?? 0)
    } else {
      const problem: FileProblem = { code: outcome.code, message: outcome.message.slice(0, 300), attempts: attempt + 1 }
      failures.push({ index: i, problem: JSON.stringify(problem) })
    }
  }
  // One increment per batch, not per file: label lookups add up at tens of thousands of files a second.
  if (copied) metrics.files.inc({ result: 'copied' }, copied)
  if (present) metrics.files.inc({ result: 'skipped-present' }, present)
  if (failures.length) metrics.files.inc({ result: 'failed' }, failures.length)
  if (copiedBytes) metrics.bytes.inc(copiedBytes)
  let retryJob: SettleBatchInput['retry']
  if (retry.length) {
    const wait = Math.max(computeBackoff(attempt), retryAfter)
    const fingerprints = retry.map((i) => changed.get(i))
    retryJob = {
      files: retry.length,
      job: copyListJob({
        run: r, classId: c, indices: retry, attempt: attempt + 1, notBefore: Date.now() + wait,
        ...(changed.size && fingerprints.every((v) => v !== undefined) ? { fingerprints: fingerprints as number[] } : {}),
      }),
    }
    metrics.retries.inc(retry.length)
    metrics.files.inc({ result: 'retried' }, retry.length)
  }
  const { acked } = await settleBatch(redis, { keys, run: r, classId: c, stream: entry.stream, entryId: entry.id, done, failures, ...(retryJob ? { retry: retryJob } : {}) })
  metrics.jobs.inc({ role: 'copier', outcome: acked ? 'settled' : 'already-settled' })
}
