// `colony live serve`: one command using every core. Worker processes share the port (SO_REUSEPORT);
// without Redis the primary is their dispatcher, with Redis every worker is a node of the shared service.
import cluster, { type Worker } from 'node:cluster'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { fileURLToPath } from 'node:url'
import { computeBackoff } from '../../shared/backoff.ts'
import { createSilentLogger, type Logger } from '../../shared/logger.ts'
import type { Registry } from '../../shared/metrics.ts'
import { siblingModule } from '../../shared/module-url.ts'
import { relayClusterMetrics } from './cluster-metrics.ts'
import { ClusterRelay } from '../transports/cluster-transport.ts'
import { LIVE_DEFAULTS } from '../defaults.ts'
import { LiveError } from '../errors.ts'
import type { HubOptions } from '../core/hub-state.ts'
import type { LiveServerOptions } from '../http/live-server.ts'
import type { LiveTransport } from '../types.ts'
import { clusterMessageOf, type LifecycleMessage } from '../wire/cluster-ipc.ts'

/** Everything `colony live serve` accepts; JSON-serialisable so workers receive it through the environment. */
export type ServeLiveOptions = Omit<LiveServerOptions, 'transport' | 'hub' | 'logger' | 'reusePort' | 'clock'> & {
  /** Worker processes; 1 runs in this process. @defaultValue defaultWorkerCount(capacity) */
  workers?: number
  /** Connections the service should be able to hold; sizes the default worker count. @defaultValue LIVE_DEFAULTS.cluster.capacity */
  capacity?: number
  /** Link nodes through Redis. @defaultValue undefined (embedded) */
  redis?: string
  /** Redis key and channel prefix. @defaultValue LIVE_DEFAULTS.redis.prefix */
  redisPrefix?: string
  /** Routing-table expiry of a silent node. @defaultValue LIVE_DEFAULTS.redis.nodeTtlMs */
  nodeTtlMs?: number
  /** Hub options with `coalesce` as [type, windowMs] pairs. @defaultValue {} */
  hub?: Omit<HubOptions, 'coalesce'> & { coalesce?: [string, number][] }
  /** Drain time on shutdown. @defaultValue LIVE_DEFAULTS.cluster.graceMs */
  graceMs?: number
  /**
   * V8 young-generation semi-space of each worker, in MB (0 = V8's default of up to 16): caps how far each
   * worker's young generation can grow under fan-out load, at no CPU cost a profile shows.
   * @defaultValue LIVE_DEFAULTS.cluster.semiSpaceMb
   */
  semiSpaceMb?: number
}

export type ServedLive = { url: string; port: number; workers: number; close(): Promise<void> }

/** Sockets one process may hold: the open-files soft limit minus room for Redis, logs, IPC. */
export function connectionsPerProcess(): number {
  try {
    const m = /Max open files\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'))
    const n = m?.[1] === 'unlimited' ? 1_000_000 : Number(m?.[1] ?? 1024)
    return Math.max(64, n - 1_000)
  } catch {
    return 1024 - 100
  }
}

/**
 * One worker per core, but never fewer than the open-files limit allows for `capacity` connections:
 * with 20,000 files per process, 100k viewers need 6 workers even on 2 cores.
 */
export function defaultWorkerCount(capacity: number = LIVE_DEFAULTS.cluster.capacity): number {
  return Math.max(os.availableParallelism(), Math.ceil(capacity / connectionsPerProcess()))
}

function toServerOptions(o: ServeLiveOptions, logger: Logger): LiveServerOptions {
  const { workers: _w, capacity: _c, redis: _r, redisPrefix: _p, nodeTtlMs: _t, graceMs: _g, semiSpaceMb: _s, hub, ...rest } = o
  const out: LiveServerOptions = { ...rest, logger }
  if (hub) {
    const { coalesce, ...tuning } = hub
    out.hub = coalesce ? { ...tuning, coalesce: new Map(coalesce) } : tuning
  }
  return out
}

// Loaded on demand: a process that never talks to Redis does not pay ioredis' memory (multiplied by every worker).
async function redisTransport(o: ServeLiveOptions, logger: Logger): Promise<LiveTransport | undefined> {
  if (!o.redis) return undefined
  const { RedisTransport } = await import('../transports/redis/redis-transport.ts')
  return new RedisTransport({ url: o.redis, prefix: o.redisPrefix, nodeTtlMs: o.nodeTtlMs, historySize: o.hub?.historySize, historyBytes: o.hub?.historyBytes, logger })
}

/** Runs inside a worker: a full live node on the shared port. */
export async function runLiveWorker(o: ServeLiveOptions, logger: Logger): Promise<void> {
  const { ClusterWorkerTransport } = await import('../transports/cluster-transport.ts')
  const { startLiveServer } = await import('../http/live-server.ts')
  const { joinClusterMetrics } = await import('./cluster-metrics.ts')
  const transport = await redisTransport(o, logger) ?? new ClusterWorkerTransport()
  // The registry exists once the server does; the primary may ask for it any time after.
  const holder: { registry?: Registry } = {}
  const renderMetrics = joinClusterMetrics(() => holder.registry)
  const server = await startLiveServer({ ...toServerOptions(o, logger), transport, reusePort: true, renderMetrics, healthExtra: { worker: cluster.worker?.id } })
  holder.registry = server.registry
  let closing = false
  const stop = async (): Promise<void> => {
    if (closing) return
    closing = true
    await server.close({ graceMs: o.graceMs })
    process.exit(0)
  }
  process.on('message', (m: unknown) => { if (clusterMessageOf(m, 'shutdown')) void stop() })
  // The primary coordinates shutdown; a signal sent to the whole group must not cut the drain short.
  process.on('SIGINT', () => undefined)
  process.on('SIGTERM', () => { void stop() })
  // A worker whose primary is gone has lost its dispatcher (embedded) and its supervisor: drain and leave.
  process.on('disconnect', () => { void stop() })
  process.send?.({ live: 1, kind: 'ready', port: server.port } satisfies LifecycleMessage)
}

/** Starts the service: in this process when workers is 1, else a cluster primary with N workers. */
export async function serveLive(o: ServeLiveOptions, logger: Logger = createSilentLogger()): Promise<ServedLive> {
  const workers = o.workers ?? defaultWorkerCount(o.capacity)
  if (!Number.isInteger(workers) || workers < 1 || workers > LIVE_DEFAULTS.cluster.maxWorkers) throw new LiveError('LIVE_CONFIG', `--workers must be 1..${LIVE_DEFAULTS.cluster.maxWorkers}`)
  if (workers === 1) {
    const { startLiveServer } = await import('../http/live-server.ts')
    const server = await startLiveServer({ ...toServerOptions(o, logger), transport: await redisTransport(o, logger) })
    return { url: server.url, port: server.port, workers: 1, close: () => server.close({ graceMs: o.graceMs }) }
  }
  if (!cluster.isPrimary) throw new LiveError('LIVE_CONFIG', 'serveLive with workers > 1 must run in a primary process')
  const semi = o.semiSpaceMb ?? LIVE_DEFAULTS.cluster.semiSpaceMb
  const execArgv = semi > 0 && !process.execArgv.some((a) => a.startsWith('--max-semi-space-size')) ? [...process.execArgv, `--max-semi-space-size=${semi}`] : process.execArgv
  cluster.setupPrimary({ exec: fileURLToPath(siblingModule(import.meta.url, 'worker-main')), args: [], execArgv, silent: false })
  const relay = o.redis ? undefined : new ClusterRelay({ historySize: o.hub?.historySize, historyBytes: o.hub?.historyBytes })
  const stopMetrics = relayClusterMetrics()
  let port = o.port ?? LIVE_DEFAULTS.server.port
  let stopping = false
  const live = new Set<Worker>()
  let restarts = 0

  const fork = (): Promise<number> => new Promise((resolve, reject) => {
    const w = cluster.fork({ COLONY_LIVE_WORKER: JSON.stringify({ ...o, port }) })
    live.add(w)
    const onMsg = (m: unknown): void => {
      const ready = clusterMessageOf(m, 'ready')
      if (ready && typeof ready.port === 'number') { w.off('message', onMsg); resolve(ready.port) }
    }
    w.on('message', onMsg)
    w.once('exit', (code, signal) => {
      live.delete(w)
      reject(new LiveError('LIVE_CONFIG', `worker exited before it was ready (code ${code}, signal ${signal ?? '-'})`))
      if (stopping) return
      logger.error({ worker: w.id, code, signal }, 'live worker died; starting a new one')
      // Backoff keeps a crash-looping worker from burning the CPU its siblings need.
      setTimeout(() => { if (!stopping) fork().catch((err: unknown) => logger.error({ err: String(err) }, 'live worker restart failed')) }, computeBackoff(restarts++, { baseMs: LIVE_DEFAULTS.cluster.restartBaseMs, maxMs: LIVE_DEFAULTS.cluster.restartMaxMs }))
    })
  })

  try {
    // The first worker picks the port (when 0); the rest join it with SO_REUSEPORT.
    port = await fork()
    await Promise.all(Array.from({ length: workers - 1 }, () => fork()))
  } catch (err) {
    stopping = true
    for (const w of live) w.kill()
    relay?.close()
    stopMetrics()
    throw err
  }
  const host = o.host ?? LIVE_DEFAULTS.server.host
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${port}`,
    port,
    workers,
    async close() {
      if (stopping) return
      stopping = true
      const exits = [...live].map((w) => new Promise<void>((r) => { if (w.isDead()) r(); else w.once('exit', () => r()) }))
      for (const w of live) { try { w.send({ live: 1, kind: 'shutdown' } satisfies LifecycleMessage) } catch { w.kill() } }
      const killer = setTimeout(() => { for (const w of live) w.process.kill('SIGKILL') }, (o.graceMs ?? LIVE_DEFAULTS.cluster.graceMs) + LIVE_DEFAULTS.cluster.killAfterGraceMs)
      await Promise.all(exits)
      clearTimeout(killer)
      relay?.close()
      stopMetrics()
    },
  }
}
