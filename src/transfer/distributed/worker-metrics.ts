// Prometheus series of a worker. Rates per role come from rate(colony_transfer_jobs_total[1m]) etc.
import { Counter, Gauge, Histogram, createMetricsRegistry, type Registry } from '../../shared/metrics.ts'
import type { Keys, QueueName } from './redis/keys.ts'
import type { ScriptedRedis } from './redis/scripts.ts'
import { groupOf } from './redis/keys.ts'

export type WorkerMetrics = {
  registry: Registry
  files: Counter<'result'>
  bytes: Counter
  retries: Counter
  jobs: Counter<'role' | 'outcome'>
  reclaimed: Counter<'role'>
  batchSeconds: Histogram<'executor'>
  /** --bwlimit / --max-rps: tokens leased from the run's Redis bucket, and the waits those leases imposed. */
  limitTokens: Counter<'limit'>
  limitWaitSeconds: Counter<'limit'>
}

const QUEUES: QueueName[] = ['scan', 'crawl', 'copy', 'retry']

export function createWorkerMetrics(redis: ScriptedRedis, keys: Keys): WorkerMetrics {
  const registry = createMetricsRegistry()
  const files = new Counter({ name: 'colony_transfer_files_total', help: 'Files settled by this worker, by result (copied, skipped-present, failed, retried)', labelNames: ['result'], registers: [registry] })
  const bytes = new Counter({ name: 'colony_transfer_bytes_total', help: 'Bytes copied by this worker', registers: [registry] })
  const retries = new Counter({ name: 'colony_transfer_retries_total', help: 'Files this worker sent back for a retry', registers: [registry] })
  const jobs = new Counter({ name: 'colony_transfer_jobs_total', help: 'Queue jobs handled, by role and outcome', labelNames: ['role', 'outcome'], registers: [registry] })
  const reclaimed = new Counter({ name: 'colony_transfer_reclaimed_total', help: 'Jobs taken over from a dead or stalled worker', labelNames: ['role'], registers: [registry] })
  const batchSeconds = new Histogram({ name: 'colony_transfer_batch_seconds', help: 'Wall time of one copy batch', labelNames: ['executor'], buckets: [0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60], registers: [registry] })
  const limitTokens = new Counter({ name: 'colony_transfer_limit_tokens_total', help: 'Tokens leased from a run\'s cluster-wide bucket (bytes or requests)', labelNames: ['limit'], registers: [registry] })
  const limitWaitSeconds = new Counter({ name: 'colony_transfer_limit_wait_seconds_total', help: 'Waits imposed by --bwlimit / --max-rps leases, summed', labelNames: ['limit'], registers: [registry] })
  new Gauge({
    name: 'colony_transfer_queue_depth', help: 'Entries in a queue (waiting + in flight) and pending (in flight)', labelNames: ['queue', 'kind'], registers: [registry],
    async collect() {
      for (const q of QUEUES) {
        try {
          const [len, pending] = await Promise.all([
            redis.xlen(keys.queue(q)),
            redis.xpending(keys.queue(q), groupOf(q)).then((r) => Number((r as unknown[])[0] ?? 0)).catch(() => 0),
          ])
          this.set({ queue: q, kind: 'length' }, len)
          this.set({ queue: q, kind: 'pending' }, pending)
        } catch { /* Redis down: keep the last values */ }
      }
    },
  })
  return { registry, files, bytes, retries, jobs, reclaimed, batchSeconds, limitTokens, limitWaitSeconds }
}
