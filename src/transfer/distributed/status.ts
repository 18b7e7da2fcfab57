// What `status`, the submit command's follow loop and the dashboard show: run meta, per-class progress,
// queue depths, live workers, and the report once written.
import type { RunReport } from '../core/types.ts'
import type { Keys, QueueName } from './redis/keys.ts'
import type { ScriptedRedis } from './redis/scripts.ts'
import type { ClassProgress } from './report.ts'
import { DistributedTransferError } from './errors.ts'
import { groupOf } from './redis/keys.ts'
import { readClassProgress } from './report.ts'
import type { RunConfig, WorkerInfo } from '../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import { readRunMeta, readRunStats } from './redis/run-state.ts'

export type RunStatus = {
  run: string
  state: 'running' | 'finished'
  config: RunConfig
  createdAt: string
  finishedAt?: string
  totals: { classes: number; finishedClasses: number; files: number; verified: number; failed: number; bytes: number; retries: number }
  classes: ClassProgress[]
  queues: Record<QueueName, { length: number; pending: number }>
  workers: WorkerInfo[]
  report?: RunReport
}

const QUEUES: QueueName[] = ['scan', 'crawl', 'copy', 'retry']

export async function listRuns(redis: ScriptedRedis, keys: Keys): Promise<string[]> {
  return (await redis.smembers(keys.runs)).sort()
}

/** Workers whose last heartbeat is recent (TRANSFER_DEFAULTS.distributed.workerAliveMs). */
export async function listWorkers(redis: ScriptedRedis, keys: Keys): Promise<WorkerInfo[]> {
  const all = await redis.hgetall(keys.workers)
  return Object.values(all).map((raw) => JSON.parse(raw) as WorkerInfo).filter((w) => Date.now() - w.seen < TRANSFER_DEFAULTS.distributed.workerAliveMs).sort((a, b) => a.id.localeCompare(b.id))
}

export async function readQueues(redis: ScriptedRedis, keys: Keys): Promise<RunStatus['queues']> {
  const out = {} as RunStatus['queues']
  for (const q of QUEUES) {
    const [length, pending] = await Promise.all([
      redis.xlen(keys.queue(q)),
      redis.xpending(keys.queue(q), groupOf(q)).then((r) => Number((r as unknown[])[0] ?? 0)).catch(() => 0),
    ])
    out[q] = { length, pending }
  }
  return out
}

export async function readRunStatus(redis: ScriptedRedis, keys: Keys, run: string, options: { classes?: boolean } = {}): Promise<RunStatus> {
  const meta = await readRunMeta(redis, keys, run)
  if (!meta.config) throw new DistributedTransferError('TRANSFER_DIST_RUN_NOT_FOUND', `no run "${run}" in this Redis (see colony transfer status)`, { status: 404, details: { run } })
  const config = JSON.parse(meta.config) as RunConfig
  const [classes, stats, queues, workers, report] = await Promise.all([
    options.classes === false ? Promise.resolve([]) : readClassProgress(redis, keys, run),
    readRunStats(redis, keys, run), readQueues(redis, keys), listWorkers(redis, keys), redis.get(keys.report(run)),
  ])
  const totals = { classes: classes.length, finishedClasses: 0, files: 0, verified: 0, failed: 0, bytes: Number(stats.bytes ?? 0), retries: Number(stats.retries ?? 0) }
  for (const c of classes) {
    totals.files += c.files; totals.verified += c.verified; totals.failed += c.failed
    if (['verified', 'incomplete', 'skipped', 'failed'].includes(c.record.state)) totals.finishedClasses++
  }
  return {
    run, state: meta.state === 'finished' ? 'finished' : 'running', config, createdAt: meta.createdAt ?? config.createdAt,
    ...(meta.finishedAt ? { finishedAt: meta.finishedAt } : {}),
    totals, classes, queues, workers,
    ...(report ? { report: JSON.parse(report) as RunReport } : {}),
  }
}
