// Crawler role: expands a class into its file list (stored once, compressed, append-only) and queues
// copy batches from a resumable cursor, throttled by the copy queue's length so Redis memory stays
// bounded however far crawlers run ahead of copiers.
import { delay } from '../../../shared/backoff.ts'
import { describeError, isColonyError } from '../../../shared/errors.ts'
import type { CrawlResult, FileRef, SkipReason } from '../../core/types.ts'
import { copyListJob, copyRangeJob, type ClassRecord, type CopyBatchJob, type CrawlJob, type RunConfig } from '../../wire-format.ts'
import { FileList, encodeFileChunk, fingerprintOf, sortForList } from '../redis/file-list.ts'
import { groupOf } from '../redis/keys.ts'
import { appendFiles, enqueueBatches, patchClass } from '../redis/scripts.ts'
import { ackEntry, type StreamEntry } from '../redis/stream-queue.ts'
import type { RoleContext } from './role-context.ts'
import { runRoleLoop } from './role-runner.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

export type CrawlerOptions = {
  /** Classes crawled at once. @defaultValue TRANSFER_DEFAULTS.distributed.crawlerSlots */
  slots?: number
  /** Copy-queue length (batches) above which crawlers wait. @defaultValue TRANSFER_DEFAULTS.distributed.maxQueuedBatches */
  maxQueuedBatches?: number
}

const SKIP_REASONS = new Set<string>(['aborted', 'test', 'recording', 'playlist-missing', 'invalid-entry', 'not-a-playlist', 'hostile-playlist', 'forbidden-host', 'too-large'])

export async function runCrawler(ctx: RoleContext, options: CrawlerOptions = {}): Promise<void> {
  const blocking = ctx.redis.duplicate() as typeof ctx.redis
  blocking.on('error', () => {})
  try {
    await runRoleLoop<CrawlJob>({
      redis: ctx.redis, blocking, streams: [ctx.keys.queue('crawl')], group: groupOf('crawl'),
      consumer: ctx.consumer, log: ctx.log, slots: options.slots ?? TRANSFER_DEFAULTS.distributed.crawlerSlots, claimIdleMs: ctx.claimIdleMs, signal: ctx.signal,
      handle: (entry) => handleCrawl(ctx, entry, options.maxQueuedBatches ?? TRANSFER_DEFAULTS.distributed.maxQueuedBatches),
    })
  } finally {
    blocking.disconnect()
  }
}

async function handleCrawl(ctx: RoleContext, entry: StreamEntry<CrawlJob>, maxQueued: number): Promise<void> {
  const { redis, keys, log } = ctx
  const { r, c } = entry.job
  const ack = (): Promise<void> => ackEntry(redis, entry.stream, groupOf('crawl'), entry.id)
  if (entry.claimed) ctx.metrics.reclaimed.inc({ role: 'crawler' })
  const config = await ctx.configs.get(r)
  const raw = await redis.hget(keys.classes(r), c)
  if (!config || !raw) { await ack(); return }
  const rec = JSON.parse(raw) as ClassRecord
  if (rec.state === 'skipped' || rec.state === 'failed') { await ack(); return }
  const core = await ctx.coreFor(config)
  let result: CrawlResult
  try {
    result = await core.crawl({ id: rec.id, source: rec.source, ...(rec.status ? { status: rec.status } : {}) }, { signal: ctx.workSignal, trustHost: rec.trusted === true })
  } catch (err) {
    if (ctx.workSignal.aborted) throw err
    const code = isColonyError(err) ? err.code : 'TRANSFER_CRAWL_FAILED'
    const reason = isColonyError(err) ? err.details.skipReason : undefined
    log.warn({ class: c, err: describeError(err) }, 'class could not be crawled')
    // A live class keeps its state: the next --watch cycle tries again.
    if (!rec.live) {
      const patch: Partial<ClassRecord> = typeof reason === 'string' && SKIP_REASONS.has(reason)
        ? { state: 'skipped', skipReason: reason as SkipReason, code, message: describeError(err) }
        : { state: 'failed', code, message: describeError(err) }
      await patchClass(redis, { keys, run: r, classId: c, ifStateIn: ['queued', 'copying'], patch })
    }
    ctx.metrics.jobs.inc({ role: 'crawler', outcome: 'class-failed' })
    await ack()
    return
  }
  const { added, requeue } = await storeFiles(ctx, config, rec, result)
  await queueBatches(ctx, config, c, maxQueued)
  if (requeue.length) await queueChanged(ctx, config, c, requeue)
  if (result.problems.length) {
    const fields: string[] = []
    for (const p of result.problems) fields.push(`crawl:${p.key ?? p.source}`, JSON.stringify(p))
    await redis.hset(keys.problems(r, c), ...fields)
  }
  const live = Boolean(config.watchMs) && !result.complete
  const changed = added > 0 || requeue.length > 0 || live !== Boolean(rec.live) || rec.state === 'queued'
  if (changed) {
    const patch: Partial<ClassRecord> & { live: boolean } = { state: 'copying', live, problems: result.problems.length }
    await patchClass(redis, { keys, run: r, classId: c, ifStateIn: ['queued', 'copying', 'verified', 'incomplete'], patch })
  }
  ctx.metrics.jobs.inc({ role: 'crawler', outcome: 'crawled' })
  log.debug({ run: r, class: c, files: result.files.length, added, requeue: requeue.length, live }, 'class crawled')
  await ack()
}

/** Appends files not yet known; returns how many, and indices to copy again (changed at the origin). */
async function storeFiles(ctx: RoleContext, config: RunConfig, rec: ClassRecord, result: CrawlResult): Promise<{ added: number; requeue: Array<{ i: number; fp?: number }> }> {
  const { redis, keys } = ctx
  const r = config.run
  const c = rec.id
  for (let attempt = 0; ; attempt++) {
    const chunks = await redis.lrangeBuffer(keys.files(r, c), 0, -1)
    const list = FileList.fromChunks(chunks)
    const requeue: Array<{ i: number; fp?: number }> = []
    const fp = config.watchMs && list.length ? await redis.getBuffer(keys.fingerprint(r, c)) : null
    // A first crawl (the common case) has nothing to compare against.
    const fresh: FileRef[] = list.length === 0 ? result.files.slice() : []
    if (list.length) for (const f of result.files) {
      const idx = list.indexOf(f.key)
      if (idx === undefined) { fresh.push(f); continue }
      if (!config.watchMs) continue
      // Playlists of a class that was live change as it records (and gain ENDLIST at the end).
      if (rec.live && (f.kind === 'media' || f.kind === 'master')) { requeue.push({ i: idx }); continue }
      if (fp && (f.etag !== undefined || f.size !== undefined) && fp.length >= idx * 4 + 4) {
        const stored = fp.readUInt32BE(idx * 4)
        const now = fingerprintOf(f.etag, f.size)
        if (stored !== 0 && stored !== now) requeue.push({ i: idx, fp: now })
      }
    }
    if (fresh.length === 0) return { added: 0, requeue }
    if (await appendFiles(redis, { keys, run: r, classId: c, expectedChunks: chunks.length, chunk: encodeFileChunk(sortForList(fresh)), files: fresh.length })) return { added: fresh.length, requeue }
    if (attempt > 5) throw new Error(`file list of class ${c} keeps changing under this crawler`)
  }
}

/** Queues batches from the class cursor up to its file count, waiting while the copy queue is long. */
async function queueBatches(ctx: RoleContext, config: RunConfig, c: string, maxQueued: number): Promise<void> {
  const { redis, keys } = ctx
  const r = config.run
  const size = Math.max(1, config.batchSize)
  for (;;) {
    const [count, cursor] = await Promise.all([redis.hget(keys.count(r), c), redis.hget(keys.cursor(r), c)])
    const total = Number(count ?? 0)
    const cur = Number(cursor ?? 0)
    if (cur >= total) return
    while (await redis.xlen(keys.queue('copy')) > maxQueued) await delay(100, ctx.workSignal)
    const jobs: CopyBatchJob[] = []
    let next = cur
    while (next < total && jobs.length < 20) {
      const e = Math.min(total, next + size)
      jobs.push(copyRangeJob({ run: r, classId: c, from: next, to: e }))
      next = e
    }
    await enqueueBatches(redis, { keys, run: r, classId: c, fromCursor: cur, toCursor: next, jobs })
  }
}

/** Files whose origin changed: clear their done bit and queue them again. */
async function queueChanged(ctx: RoleContext, config: RunConfig, c: string, files: Array<{ i: number; fp?: number }>): Promise<void> {
  const { redis, keys } = ctx
  const r = config.run
  const pipe = redis.pipeline()
  for (const f of files) pipe.setbit(keys.done(r, c), f.i, 0)
  for (let k = 0; k < files.length; k += config.batchSize) {
    const slice = files.slice(k, k + config.batchSize)
    const fresh = slice.filter((f) => f.fp !== undefined)
    const stale = slice.filter((f) => f.fp === undefined)
    if (fresh.length) pipe.xadd(keys.queue('copy'), '*', 'j', JSON.stringify(copyListJob({ run: r, classId: c, indices: fresh.map((f) => f.i), attempt: 0, fingerprints: fresh.map((f) => f.fp as number) })))
    if (stale.length) pipe.xadd(keys.queue('copy'), '*', 'j', JSON.stringify(copyListJob({ run: r, classId: c, indices: stale.map((f) => f.i), attempt: 0 })))
  }
  pipe.hincrby(keys.version(r), c, 1)
  await pipe.exec()
}
