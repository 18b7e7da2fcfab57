// A worker process: any subset of the four roles against one Redis, a /metrics + /healthz server,
// and a heartbeat in Redis so `status` can list who is working.
import { createServer, type Server } from 'node:http'
import os from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Logger } from '../../shared/logger.ts'
import { handleOpsRequest, listen, sendJson } from '../../shared/http-ops.ts'
import type { DistributedCore } from './core-port.ts'
import type { BatchExecutor } from './roles/executor.ts'
import type { RoleContext } from './roles/role-context.ts'
import { runAggregator } from './roles/aggregator.ts'
import { runCopier } from './roles/copier.ts'
import { runCrawler } from './roles/crawler.ts'
import { LocalExecutor } from './roles/executor.ts'
import { LambdaExecutor, type LambdaExecutorOptions } from './lambda/executor.ts'
import { createKeys } from './redis/keys.ts'
import { closeRedis, createRedis } from './redis/client.ts'
import { RunConfigCache } from './run-config.ts'
import { runScanner } from './roles/scanner.ts'
import { createWorkerMetrics } from './worker-metrics.ts'
import { clusterSourceLimits } from './rate-limits.ts'
import type { SourceLimits } from '../core/limits/source-limits.ts'
import type { RunConfig, WorkerInfo } from '../wire-format.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

const DISTRIBUTED = TRANSFER_DEFAULTS.distributed

export type WorkerRole = 'scanner' | 'crawler' | 'copier' | 'aggregator'
export const WORKER_ROLES: readonly WorkerRole[] = ['scanner', 'crawler', 'copier', 'aggregator']

export type WorkerOptions = {
  redisUrl: string
  /** Key prefix shared by the submitter and all workers. @defaultValue TRANSFER_DEFAULTS.distributed.prefix */
  prefix?: string
  roles: WorkerRole[]
  /** Files copied at once by this worker (local executor) or batches in flight (lambda). @defaultValue TRANSFER_DEFAULTS.distributed.concurrency */
  concurrency?: number
  /** Builds the core for a run (tests and benchmarks inject theirs); `limits`: the run's cluster-wide --bwlimit / --max-rps. */
  createCore: (config: RunConfig, extra: { limits?: SourceLimits }) => Promise<DistributedCore>
  /** Lambda settings for runs submitted with --executor lambda (endpoint, region). @defaultValue AWS defaults */
  lambda?: LambdaExecutorOptions
  /** Copy batches held at once. @defaultValue max(minCopySlots, ceil(concurrency / filesPerCopySlot) + 1) of TRANSFER_DEFAULTS.distributed */
  copyBatches?: number
  /** Idle ms after which another worker takes over a job. @defaultValue TRANSFER_DEFAULTS.distributed.claimIdleMs */
  claimIdleMs?: number
  /** Copy-queue length (batches) above which crawlers pause. @defaultValue TRANSFER_DEFAULTS.distributed.maxQueuedBatches */
  maxQueuedBatches?: number
  /** host:port for /metrics and /healthz; undefined = no server. @defaultValue undefined */
  metrics?: { host: string; port: number }
  log: Logger
}

export type Worker = {
  id: string
  metricsUrl?: string
  /** Resolves when every role loop has stopped. */
  done: Promise<void>
  /** Stops taking work, finishes what is in flight (up to `graceMs`, default TRANSFER_DEFAULTS.distributed.stopGraceMs), closes connections. */
  stop(graceMs?: number): Promise<void>
}

export async function startWorker(options: WorkerOptions): Promise<Worker> {
  const keys = createKeys(options.prefix ?? DISTRIBUTED.prefix)
  const redis = createRedis(options.redisUrl, { name: 'colony-transfer-worker' })
  const id = `${os.hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  const log = options.log.child({ worker: id })
  const metrics = createWorkerMetrics(redis, keys)
  const abort = new AbortController()
  const hardAbort = new AbortController()
  const cores = new Map<string, Promise<DistributedCore>>()
  const coreFor = (config: RunConfig): Promise<DistributedCore> => {
    let core = cores.get(config.run)
    if (!core) {
      core = Promise.resolve(config).then((c) => { const limits = clusterSourceLimits(redis, keys, c, metrics); return options.createCore(c, limits ? { limits } : {}) })
      cores.set(config.run, core)
      core.catch(() => cores.delete(config.run))
    }
    return core
  }
  const ctx: RoleContext = {
    redis, keys, log, metrics, configs: new RunConfigCache(redis, keys), coreFor, consumer: id,
    claimIdleMs: options.claimIdleMs ?? DISTRIBUTED.claimIdleMs, signal: abort.signal, workSignal: hardAbort.signal,
  }
  const concurrency = options.concurrency ?? DISTRIBUTED.concurrency
  const local = new LocalExecutor({ concurrency, coreFor })
  let lambda: LambdaExecutor | undefined
  const executorFor = (config: RunConfig): BatchExecutor => {
    if (config.executor !== 'lambda') return local
    lambda ??= new LambdaExecutor({ concurrency, ...options.lambda })
    return lambda
  }
  let server: Server | undefined
  let metricsUrl: string | undefined
  if (options.metrics) {
    server = createServer((req, res) => {
      handleOpsRequest(req, res, { registry: metrics.registry, health: async () => ({ worker: id, roles: options.roles, redis: redis.status, pong: await redis.ping() === 'PONG' }) })
        .then((handled) => { if (!handled) sendJson(res, 404, { error: { code: 'COLONY_NOT_FOUND', message: 'not found' } }) })
        .catch(() => { if (!res.headersSent) sendJson(res, 503, { ok: false }) })
    })
    metricsUrl = await listen(server, options.metrics)
  }
  const beat = async (): Promise<void> => {
    const info: WorkerInfo = { id, roles: options.roles, host: os.hostname(), pid: process.pid, ...(metricsUrl ? { metrics: metricsUrl } : {}), seen: Date.now() }
    try { await redis.hset(keys.workers, id, JSON.stringify(info)) } catch { /* Redis down: next beat */ }
  }
  await beat()
  const timer = setInterval(() => { void beat() }, DISTRIBUTED.heartbeatMs)
  const loops: Array<Promise<void>> = []
  const guard = (role: string, p: Promise<void>): Promise<void> => p.catch((err: unknown) => { log.error({ err, role }, 'role loop crashed') })
  if (options.roles.includes('scanner')) loops.push(guard('scanner', runScanner(ctx)))
  if (options.roles.includes('crawler')) loops.push(guard('crawler', runCrawler(ctx, { ...(options.maxQueuedBatches ? { maxQueuedBatches: options.maxQueuedBatches } : {}) })))
  if (options.roles.includes('copier')) loops.push(guard('copier', runCopier(ctx, { executorFor, slots: options.copyBatches ?? Math.max(DISTRIBUTED.minCopySlots, Math.ceil(concurrency / DISTRIBUTED.filesPerCopySlot) + 1) })))
  if (options.roles.includes('aggregator')) loops.push(guard('aggregator', runAggregator(ctx)))
  log.info({ roles: options.roles, concurrency, metrics: metricsUrl }, 'worker started')
  const done = Promise.all(loops).then(() => undefined)
  let stopping: Promise<void> | undefined
  const stop = (graceMs: number = DISTRIBUTED.stopGraceMs): Promise<void> => {
    stopping ??= (async () => {
      abort.abort()
      const grace = setTimeout(() => hardAbort.abort(), graceMs)
      await done
      clearTimeout(grace)
      clearInterval(timer)
      try { await redis.hdel(keys.workers, id) } catch { /* gone */ }
      for (const c of cores.values()) { try { await (await c).close() } catch { /* best effort */ } }
      await new Promise<void>((r) => (server ? server.close(() => r()) : r()))
      await closeRedis(redis)
    })()
    return stopping
  }
  return { id, ...(metricsUrl ? { metricsUrl } : {}), done, stop }
}
