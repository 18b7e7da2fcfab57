// One benchmark run against one server: open N SSE connections, measure what holding them costs, publish at
// a fixed rate for a bounded time, and measure what delivering costs (server CPU from /proc), how fast, and
// how late (publish-to-receive latency on the shared monotonic clock). It always stops by itself.
import { BenchError } from './bench-error.ts'
import { sampleGroup, sumPss, withDescendants } from './proc-stats.ts'
import { runPublishPhase, type LatencySummary, type PhaseResult } from './publish-phase.ts'
import { ReceiverPool } from './receiver-pool.ts'
import { assertLoopback, subscribePath, type BenchTarget } from './target.ts'

/** Sockets one generator process holds at most (open files are capped at 20,000 per process here). */
export const MAX_SOCKETS_PER_PROCESS = 19_000
/** Connections per source address: the ephemeral range gives ~28k ports per (source, destination) pair. */
export const MAX_CONNECTIONS_PER_SOURCE = 20_000

export type LiveBenchOptions = {
  /** Where to publish, and the first node viewers connect to. */
  target: BenchTarget
  /** More nodes of the same service (redis-linked) that viewers spread over. @defaultValue [] */
  extraUrls?: string[]
  /** PIDs of the server under test; their descendants (workers) are included. */
  serverPids: number[]
  /** SSE connections to open and hold. */
  connections: number
  /** Topics; connection i watches topic i % topics. */
  topics: number
  /** Events published per second (all topics). 0 = only hold connections. */
  rate: number
  /** Further publishing windows at these rates on the same connections (a saturation sweep). @defaultValue [] */
  moreRates?: number[]
  /** Published event type: 'like' (the server may coalesce it) or 'comment'. @defaultValue 'comment' */
  type?: string
  /** Comments per second sent as latency probes beside the main events. @defaultValue 0 */
  probeRate?: number
  /** Measured publishing time. */
  durationMs: number
  /** Publishing before the measurement starts. @defaultValue min(2000, durationMs / 4) */
  warmupMs?: number
  /** Generator processes. @defaultValue max(2, ceil(connections / 15000)): both cores can receive */
  processes?: number
  /** Source addresses to bind. @defaultValue 127.<random>.<process>.<k>, ≤ 20k connections each */
  sourceAddresses?: string[]
  /** New connections per second. @defaultValue 5000 */
  connectRate?: number
  /** Unanswered connects at most, all processes together: more than the server's accept backlog (Node: 511)
   * makes the kernel drop SYNs, and each drop stalls that connect for 1–3 s of retransmission. @defaultValue 200 */
  maxPending?: number
  /** Topic name prefix; a run-unique suffix keeps runs apart. @defaultValue 'bench' */
  topicPrefix?: string
  /** colony: batch a tick's events per topic into one POST. @defaultValue true */
  batch?: boolean
  /** Padding bytes in each event's data. @defaultValue 0 */
  padding?: number
  /** Progress lines (stderr in the CLI). @defaultValue none */
  log?: (line: string) => void
}

export type LiveBenchResult = {
  target: { kind: string; url: string }
  connections: {
    requested: number; held: number; failed: number; dropped: number; errors: Record<string, number>; rampSeconds: number
    /** colony only: Σ GET /v1/topics/:t viewers after the ramp (the server's own count). */
    serverViewers?: number
  }
  server: {
    processes: number
    rssBeforeBytes: number
    rssHeldBytes: number
    pssHeldBytes: number
    /** Total RSS of the server's processes / connections held. */
    rssPerConnectionBytes: number
    /** (RSS held − RSS before connecting) / connections held. */
    rssDeltaPerConnectionBytes: number
    pssPerConnectionBytes: number
    rssPeakBytes: number
    /** Server CPU during the measured window (all its processes). */
    cpuSeconds: number
    /** Server CPU / (window × cores). */
    cpuShare: number
  }
  window: PhaseResult['window']
  deliveries: PhaseResult['deliveries']
  latency: LatencySummary
  generator: PhaseResult['generator']
  publisher: PhaseResult['publisher']
  machineBusyShare: number
  loadAverage: number
  /** Every publishing window: the first rate (whose figures are above) and then `moreRates`. */
  steps: PhaseResult[]
}

function defaultSources(processes: number, perProcess: number): string[][] {
  const base = 16 + Math.floor(Math.random() * 230)
  const per = Math.max(1, Math.ceil(perProcess / MAX_CONNECTIONS_PER_SOURCE))
  return Array.from({ length: processes }, (_, p) => Array.from({ length: per }, (_, k) => `127.${base}.${p}.${k + 1}`))
}

function splitSources(list: string[], processes: number): string[][] {
  if (list.length < processes) return Array.from({ length: processes }, () => [...list])
  return Array.from({ length: processes }, (_, p) => list.filter((_, i) => i % processes === p))
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

/** The server's own viewer count, summed over the run's topics (undefined if it cannot be read). */
async function countColonyViewers(url: string, topics: string[]): Promise<number | undefined> {
  let sum = 0
  try {
    for (const t of topics) {
      const res = await fetch(`${url}/v1/topics/${encodeURIComponent(t)}`)
      const body = await res.json() as { viewers?: unknown }
      if (typeof body.viewers !== 'number') return undefined
      sum += body.viewers
    }
  } catch { return undefined }
  return sum
}

export async function runLiveBenchmark(options: LiveBenchOptions): Promise<LiveBenchResult> {
  const log = options.log ?? ((): void => {})
  const endpoints = [options.target.url, ...(options.extraUrls ?? [])].map((u) => {
    const url = assertLoopback(u)
    return { host: url.hostname === 'localhost' ? '127.0.0.1' : url.hostname, port: Number(url.port || 80) }
  })
  const processes = options.processes ?? Math.max(Math.min(2, options.connections), Math.ceil(options.connections / 15_000))
  if (options.connections / processes > MAX_SOCKETS_PER_PROCESS) {
    throw new BenchError('LIVE_BENCH_TARGET', `${options.connections} connections need at least ${Math.ceil(options.connections / MAX_SOCKETS_PER_PROCESS)} generator processes`)
  }
  const serverPids = withDescendants(options.serverPids)
  if (serverPids.length === 0) throw new BenchError('LIVE_BENCH_TARGET', 'no server process found to measure (give --server-pid)')
  const runId = Math.random().toString(36).slice(2, 8)
  const topics = Array.from({ length: options.topics }, (_, i) => `${options.topicPrefix ?? 'bench'}-${runId}-${i}`)
  const viewers = topics.map((_, k) => Math.floor(options.connections / options.topics) + (k < options.connections % options.topics ? 1 : 0))
  const sources = options.sourceAddresses?.length
    ? splitSources(options.sourceAddresses, processes)
    : defaultSources(processes, Math.ceil(options.connections / processes))

  const before = sampleGroup(serverPids)
  const pool = new ReceiverPool({
    endpoints, paths: topics.map((t) => subscribePath(options.target, t)), connections: options.connections, processes,
    sourceAddresses: sources, connectRate: options.connectRate ?? 5000, maxPending: Math.max(8, Math.ceil((options.maxPending ?? 200) / processes)),
  })
  try {
    // Ramp: wait until every connection is answered, or nothing has moved for 20 s.
    const rampStart = performance.now()
    pool.start()
    let last = -1
    let lastMove = performance.now()
    let lastLog = 0
    for (;;) {
      await sleep(250)
      if (pool.children.some((c) => c.exitCode !== null)) throw new BenchError('LIVE_BENCH_GENERATOR', 'a generator process exited during the ramp')
      const p = pool.progress()
      const done = p.open + p.failed + p.dropped
      if (done !== last) { last = done; lastMove = performance.now() }
      if (performance.now() - lastLog > 2000) { lastLog = performance.now(); log(`ramp: ${p.open} open, ${p.pending} pending, ${p.failed} failed`) }
      if (done >= options.connections || performance.now() - lastMove > 20_000) break
    }
    const rampSeconds = (performance.now() - rampStart) / 1000
    await sleep(1000)
    // After the ramp the server's footprint is what holding the connections costs.
    const livePids = withDescendants(options.serverPids)
    const heldSample = sampleGroup(livePids)
    const pssHeld = sumPss(livePids)
    const held = await pool.snapshot(true)
    const serverViewers = options.target.kind === 'colony' ? await countColonyViewers(options.target.url, topics) : undefined
    log(`held ${held.counters.open}/${options.connections} connections in ${rampSeconds.toFixed(1)} s; server RSS ${(heldSample.rssBytes / 1e6).toFixed(1)} MB`)

    const phaseOptions = {
      pool, serverPids: livePids, target: options.target, topics, viewers, type: options.type ?? 'comment', probeRate: options.probeRate ?? 0,
      durationMs: options.durationMs, warmupMs: options.warmupMs ?? Math.min(2000, options.durationMs / 4), batch: options.batch ?? true, padding: options.padding ?? 0,
    }
    const steps: PhaseResult[] = []
    for (const rate of [options.rate, ...(options.moreRates ?? [])]) {
      if (steps.length > 0) log(`next rate: ${rate}/s`)
      steps.push(await runPublishPhase({ ...phaseOptions, rate }))
    }
    const first = steps[0] as PhaseResult
    const final = await pool.snapshot(false)
    const heldCount = held.counters.open
    const perConn = (bytes: number): number => (heldCount > 0 ? Math.round(bytes / heldCount) : NaN)
    return {
      target: { kind: options.target.kind, url: options.target.url },
      connections: {
        requested: options.connections, held: heldCount, failed: final.counters.failed, dropped: final.counters.dropped, errors: final.counters.errors, rampSeconds,
        ...(serverViewers === undefined ? {} : { serverViewers }),
      },
      server: {
        processes: livePids.length, rssBeforeBytes: before.rssBytes, rssHeldBytes: heldSample.rssBytes, pssHeldBytes: pssHeld,
        rssPerConnectionBytes: perConn(heldSample.rssBytes), rssDeltaPerConnectionBytes: perConn(heldSample.rssBytes - before.rssBytes),
        pssPerConnectionBytes: perConn(pssHeld), rssPeakBytes: Math.max(heldSample.rssBytes, ...steps.map((x) => x.serverCpu.rssPeakBytes)),
        cpuSeconds: first.serverCpu.seconds, cpuShare: first.serverCpu.share,
      },
      window: first.window, deliveries: first.deliveries, latency: first.latency, generator: first.generator, publisher: first.publisher,
      machineBusyShare: first.machineBusyShare, loadAverage: first.loadAverage, steps,
    }
  } finally {
    await pool.stop()
  }
}
