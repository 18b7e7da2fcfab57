// Aggregator role: marks a class verified (or incomplete) once every file of it is settled, and
// finishes a run — report written, run deactivated — once its scan is done and every class finished.
// Several aggregators may run: a short per-run lock makes one of them do each pass.
import { randomUUID } from 'node:crypto'
import { delay } from '../../../shared/backoff.ts'
import { FINISHED_STATES, type ClassRecord } from '../../wire-format.ts'
import { ActiveRuns } from '../redis/active-runs.ts'
import { groupOf, type QueueName } from '../redis/keys.ts'
import { patchClass, releaseLock } from '../redis/scripts.ts'
import { buildDistributedReport } from '../report.ts'
import type { RoleContext } from './role-context.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'
import { readRunMeta } from '../redis/run-state.ts'

export type AggregatorOptions = {
  /** Pause between passes. @defaultValue TRANSFER_DEFAULTS.distributed.aggregateIntervalMs */
  intervalMs?: number
}

export async function runAggregator(ctx: RoleContext, options: AggregatorOptions = {}): Promise<void> {
  const active = new ActiveRuns(ctx.redis, ctx.keys)
  const seen = new Map<string, Map<string, string>>()
  while (!ctx.signal.aborted) {
    try {
      for (const r of await active.list()) await aggregateRun(ctx, r, seen)
      await housekeep(ctx)
    } catch (err) {
      ctx.log.warn({ err: (err as Error).message }, 'aggregation pass failed; retrying')
    }
    try { await delay(options.intervalMs ?? TRANSFER_DEFAULTS.distributed.aggregateIntervalMs, ctx.signal) } catch { break }
  }
}

const QUEUES: QueueName[] = ['scan', 'crawl', 'copy', 'retry']

/**
 * Every worker process is a new consumer name; once one has been gone an hour with nothing pending it is
 * removed from its groups, and its heartbeat from the workers hash. One aggregator does it per interval.
 */
export async function housekeep(ctx: RoleContext, options: { idleMs?: number; everyMs?: number } = {}): Promise<number> {
  const { redis, keys } = ctx
  const idleMs = options.idleMs ?? TRANSFER_DEFAULTS.distributed.housekeepingIdleMs
  if (await redis.set(keys.housekeeping, ctx.consumer, 'PX', options.everyMs ?? TRANSFER_DEFAULTS.distributed.housekeepingEveryMs, 'NX') !== 'OK') return 0
  let removed = 0
  for (const q of QUEUES) {
    let consumers: unknown[]
    try { consumers = await redis.xinfo('CONSUMERS', keys.queue(q), groupOf(q)) as unknown[] } catch { continue }
    for (const c of consumers) {
      const f = c as Array<string | number>
      const get = (k: string): string | number | undefined => f[f.indexOf(k) + 1]
      if (Number(get('pending')) === 0 && Number(get('idle')) > idleMs) {
        await redis.xgroup('DELCONSUMER', keys.queue(q), groupOf(q), String(get('name')))
        removed++
      }
    }
  }
  const workers = await redis.hgetall(keys.workers)
  for (const [id, raw] of Object.entries(workers)) {
    try { if (Date.now() - (JSON.parse(raw) as { seen: number }).seen > idleMs) await redis.hdel(keys.workers, id) } catch { await redis.hdel(keys.workers, id) }
  }
  return removed
}

const parsedByRun = new Map<string, Map<string, { raw: string; rec: ClassRecord }>>()
function parsedRecords(r: string): Map<string, { raw: string; rec: ClassRecord }> {
  let m = parsedByRun.get(r)
  if (!m) {
    if (parsedByRun.size > 16) parsedByRun.clear()
    m = new Map()
    parsedByRun.set(r, m)
  }
  return m
}

/** One pass over one run; exported for tests and for `status` on a run without workers. */
export async function aggregateRun(ctx: RoleContext, r: string, seen = new Map<string, Map<string, string>>()): Promise<void> {
  const { redis, keys } = ctx
  const token = randomUUID()
  if (await redis.set(keys.lock(r, 'aggregate'), token, 'PX', 10_000, 'NX') !== 'OK') return
  try {
    const config = await ctx.configs.get(r)
    if (!config) return
    const [classes, versions, meta] = await Promise.all([redis.hgetall(keys.classes(r)), redis.hgetall(keys.version(r)), readRunMeta(redis, keys, r)])
    if (meta.state === 'finished') return
    const lastSeen = seen.get(r) ?? new Map<string, string>()
    seen.set(r, lastSeen)
    const candidates: ClassRecord[] = []
    let unfinished = 0
    const parsed = parsedRecords(r)
    for (const [id, raw] of Object.entries(classes)) {
      // Re-parse only records that changed since the last pass (a pass every 500 ms over thousands of classes adds up).
      let hit = parsed.get(id)
      if (hit?.raw !== raw) { hit = { raw, rec: JSON.parse(raw) as ClassRecord }; parsed.set(id, hit) }
      const rec = hit.rec
      if (!FINISHED_STATES.has(rec.state)) unfinished++
      if (rec.state !== 'copying' || rec.live) continue
      const v = versions[rec.id] ?? '0'
      if (lastSeen.get(rec.id) === v) continue
      lastSeen.set(rec.id, v)
      candidates.push(rec)
    }
    for (let k = 0; k < candidates.length; k += 500) {
      const slice = candidates.slice(k, k + 500)
      const pipe = redis.pipeline()
      for (const rec of slice) pipe.hget(keys.count(r), rec.id).hget(keys.cursor(r), rec.id).bitcount(keys.done(r, rec.id)).bitcount(keys.failed(r, rec.id))
      const res = (await pipe.exec()) ?? []
      for (const [n, rec] of slice.entries()) {
        const [count, cursor, done, failed] = [0, 1, 2, 3].map((j) => Number(res[4 * n + j]?.[1] ?? 0)) as [number, number, number, number]
        if (cursor < count || done + failed < count) continue
        const state = failed > 0 || (rec.problems ?? 0) > 0 ? 'incomplete' : 'verified'
        const changed = await patchClass(redis, { keys, run: r, classId: rec.id, ifStateIn: ['copying'], patch: { state } })
        if (changed) { unfinished--; lastSeen.delete(rec.id); ctx.log.info({ run: r, class: rec.id, state, files: count }, 'class finished') }
      }
    }
    if (config.watchMs || unfinished > 0 || Number(meta.scanPending ?? 1) > 0) return
    const report = await buildDistributedReport(redis, keys, r, config)
    const finishedAt = new Date().toISOString()
    report.finishedAt = finishedAt
    await redis.multi()
      .set(keys.report(r), JSON.stringify(report))
      .hset(keys.meta(r), 'state', 'finished', 'finishedAt', finishedAt, 'ok', report.ok ? '1' : '0')
      .srem(keys.active, r)
      .exec()
    parsedByRun.delete(r)
    ctx.log.info({ run: r, ok: report.ok, files: report.totals.files, verified: report.totals.verified }, 'run finished')
  } finally {
    await releaseLock(redis, { key: keys.lock(r, 'aggregate'), token })
  }
}
