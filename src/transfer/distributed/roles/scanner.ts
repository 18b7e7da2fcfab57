// Scanner role: turns a run's sources into classes (validating catalog entries through the core) and
// queues one crawl per transferable class. In --watch runs it also owns the re-scan timer: one scanner
// per interval (a Redis lock) queues a new scan generation; classes still recording, and finished
// classes whose source lists ETag/size, are crawled again.
import { randomUUID } from 'node:crypto'
import { describeError, isColonyError } from '../../../shared/errors.ts'
import { crawlJob, scanJob, type ClassRecord, type ScanJob } from '../../wire-format.ts'
import type { ScanItem } from '../core-port.ts'
import { ActiveRuns } from '../redis/active-runs.ts'
import { groupOf } from '../redis/keys.ts'
import { ackAndCount, queuePatchClass, queueRegisterClass, registerClass, scriptedPipeline } from '../redis/scripts.ts'
import type { StreamEntry } from '../redis/stream-queue.ts'
import type { RoleContext } from './role-context.ts'
import { runRoleLoop } from './role-runner.ts'
import { ClassFilter } from '../../core/class-filter.ts'

export async function runScanner(ctx: RoleContext): Promise<void> {
  const blocking = ctx.redis.duplicate() as typeof ctx.redis
  blocking.on('error', () => {})
  const active = new ActiveRuns(ctx.redis, ctx.keys)
  try {
    await runRoleLoop<ScanJob>({
      redis: ctx.redis, blocking, streams: [ctx.keys.queue('scan')], group: groupOf('scan'),
      consumer: ctx.consumer, log: ctx.log, slots: 1, claimIdleMs: ctx.claimIdleMs, signal: ctx.signal,
      handle: (entry) => handleScan(ctx, entry),
      tick: () => queueWatchScans(ctx, active),
    })
  } finally {
    blocking.disconnect()
  }
}

/** Queues the next scan generation of every --watch run whose interval has elapsed. */
async function queueWatchScans(ctx: RoleContext, active: ActiveRuns): Promise<void> {
  const { redis, keys } = ctx
  for (const r of await active.list()) {
    const config = await ctx.configs.get(r)
    if (!config?.watchMs) continue
    const got = await redis.set(keys.lock(r, 'watch'), randomUUID(), 'PX', config.watchMs, 'NX')
    if (got !== 'OK') continue
    const g = await redis.hincrby(keys.meta(r), 'gen', 1)
    const pipe = redis.multi().hincrby(keys.meta(r), 'scanPending', config.sources.length)
    config.sources.forEach((_s, src) => pipe.xadd(keys.queue('scan'), '*', 'j', JSON.stringify(scanJob({ run: r, source: src, generation: g }))))
    await pipe.exec()
    ctx.log.info({ run: r, gen: g }, 'watch: re-scanning sources')
  }
}

async function handleScan(ctx: RoleContext, entry: StreamEntry<ScanJob>): Promise<void> {
  const { redis, keys, log } = ctx
  const { r, src, g } = entry.job
  const config = await ctx.configs.get(r)
  const done = async (): Promise<void> => {
    await ackAndCount(redis, { stream: entry.stream, group: groupOf('scan'), entryId: entry.id, ...(config ? { counter: { key: keys.meta(r), field: 'scanPending', by: -1 } } : {}) })
  }
  if (!config) { await done(); return }
  const source = config.sources[src]
  if (source === undefined) { await done(); return }
  const core = await ctx.coreFor(config)
  let items: ScanItem[]
  try {
    const inline = await redis.hget(keys.meta(r), `inline:${src}`)
    items = await core.scan(source, inline ?? undefined, { watch: Boolean(config.watchMs), signal: ctx.workSignal })
    // --include-class / --exclude-class: classes left out are never registered, only counted (per source, so a
    // --watch re-scan overwrites rather than adds).
    if (config.classFilter) {
      const filter = new ClassFilter(config.classFilter)
      const taken = items.filter((it) => filter.selects(it.entry.id))
      await redis.hset(keys.meta(r), `filtered:${src}`, String(items.length - taken.length))
      items = taken
    }
  } catch (err) {
    if (ctx.workSignal.aborted) throw err
    log.warn({ run: r, source, err: describeError(err) }, 'source could not be scanned')
    // The source becomes a failed pseudo-class so the report says why nothing came from it.
    const rec: ClassRecord = { id: `source:${source}`, source, state: 'failed', code: isColonyError(err) ? err.code : 'TRANSFER_SCAN_FAILED', message: describeError(err), g }
    if (g === 1) await registerClass(redis, { keys, run: r, record: rec })
    await done()
    return
  }
  const existing: ScanItem[] = []
  for (let k = 0; k < items.length; k += 500) {
    const slice = items.slice(k, k + 500)
    const pipe = scriptedPipeline(redis)
    for (const { entry: e, skip, trusted } of slice) {
      const rec: ClassRecord = {
        id: e.id, source: e.source, state: skip ? 'skipped' : 'queued', g, ...(trusted ? { trusted: true } : {}),
        ...(e.status ? { status: e.status } : {}),
        ...(skip ? { skipReason: skip.reason, message: skip.message } : {}),
      }
      queueRegisterClass(pipe, { keys, run: r, record: rec, ...(skip ? {} : { crawl: crawlJob({ run: r, classId: e.id, generation: g }) }) })
    }
    const res = await pipe.exec()
    res?.forEach(([, v], n) => { const it = slice[n]; if (v === 0 && it && !it.skip) existing.push(it) })
  }
  if (g > 1 && existing.length) await recrawl(ctx, r, g, existing)
  log.info({ run: r, source, classes: items.length, gen: g }, 'source scanned')
  ctx.metrics.jobs.inc({ role: 'scanner', outcome: 'scanned' })
  await done()
}

/** Re-crawls, in a later generation, the classes that may have changed since. */
async function recrawl(ctx: RoleContext, r: string, g: number, items: ScanItem[]): Promise<void> {
  const { redis, keys } = ctx
  const config = await ctx.configs.get(r)
  if (!config) return
  const core = await ctx.coreFor(config)
  const raws = await redis.hmget(keys.classes(r), ...items.map((i) => i.entry.id))
  const pipe = scriptedPipeline(redis)
  raws.forEach((raw, n) => {
    const item = items[n]
    if (!raw || !item) return
    const rec = JSON.parse(raw) as ClassRecord
    if (rec.g === g) return
    const again = (rec.state === 'copying' && rec.live) || rec.state === 'queued' ||
      ((rec.state === 'verified' || rec.state === 'incomplete') && core.listable(item.entry))
    if (!again) return
    queuePatchClass(pipe, { keys, run: r, classId: rec.id, patch: { g }, crawl: crawlJob({ run: r, classId: rec.id, generation: g }) })
  })
  await pipe.exec()
}
