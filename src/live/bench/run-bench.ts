// One benchmark run against one server: open N SSE connections, measure what holding them costs, publish at
// a fixed rate for a bounded time, and measure what delivering costs (server CPU from /proc), how fast, and
// how late (publish-to-receive latency on the shared monotonic clock). It always stops by itself.
import os from 'node:os'
import { BenchError } from './bench-error.ts'
import { countOf, maxValue, quantile } from './histogram.ts'
import { readMachineCpu, sampleGroup, sumPss, withDescendants, type GroupSample } from './proc-stats.ts'
import { Publisher, type PublisherStats } from './publisher.ts'
import { ReceiverPool, type PoolSnapshot } from './receiver-pool.ts'
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
  /** Published event type: 'like' (the server may coalesce it) or 'comment'. @defaultValue 'comment' */
  type?: string
  /** Comments per second sent as latency probes beside the main events. @defaultValue 0 */
  probeRate?: number
  /** Measured publishing time. */
  durationMs: number
  /** Publishing before the measurement starts. @defaultValue min(2000, durationMs / 4) */
  warmupMs?: number
  /** Generator processes. @defaultValue ceil(connections / 15000), at least 1 */
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

export type LatencySummary = { samples: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number }

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
  window: { seconds: number; publishRate: number; type: string; topics: number }
  /** Deliveries = events a viewer received, counting each like inside a coalesced frame. */
  deliveries: { count: number; perSecond: number; framesPerSecond: number; likesPerSecond: number; perServerCpuSecond: number; expected: number; received: number; ratio: number }
  latency: LatencySummary
  generator: { processes: number; cpuSeconds: number; cpuShare: number; maxEventLoopUtilization: number; readsPerSecond: number; cpuMicrosPerRead: number }
  publisher: { accepted: number; failed: number; skipped: number; abandoned: number; errors: Record<string, number>; requests: number }
  /** Share of both cores busy during the window, everyone included (other users of the machine too). */
  machineBusyShare: number
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

function summarizeLatency(h: Uint32Array): LatencySummary {
  const ms = (us: number): number => Math.round(us / 10) / 100
  return { samples: countOf(h), p50Ms: ms(quantile(h, 0.5)), p90Ms: ms(quantile(h, 0.9)), p99Ms: ms(quantile(h, 0.99)), maxMs: ms(maxValue(h)) }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function cpuOfSelf(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

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
  const cores = os.availableParallelism()
  const processes = options.processes ?? Math.max(1, Math.ceil(options.connections / 15_000))
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
  let publisher: Publisher | undefined
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

    let rssPeak = heldSample.rssBytes
    const startSnap = held
    let a: PoolSnapshot = held
    let b: PoolSnapshot = held
    let serverA: GroupSample = heldSample
    let serverB: GroupSample = heldSample
    let genA = 0
    let genB = 0
    let machineA = readMachineCpu()
    let machineB = machineA
    const genCpu = (): number => sampleGroup(pool.pids).cpuSeconds + cpuOfSelf()
    const type = options.type ?? 'comment'
    if (options.rate > 0 || (options.probeRate ?? 0) > 0) {
      publisher = new Publisher({ target: options.target, topics, rate: options.rate, type, probeRate: options.probeRate ?? 0, batch: options.batch ?? true, padding: options.padding ?? 0 })
      publisher.start()
      await sleep(options.warmupMs ?? Math.min(2000, options.durationMs / 4))
      a = await pool.snapshot(true)
      serverA = sampleGroup(livePids); genA = genCpu(); machineA = readMachineCpu()
      const end = performance.now() + options.durationMs
      while (performance.now() < end) {
        await sleep(Math.min(1000, Math.max(0, end - performance.now())))
        rssPeak = Math.max(rssPeak, sampleGroup(livePids).rssBytes)
      }
      b = await pool.snapshot(false)
      serverB = sampleGroup(livePids); genB = genCpu(); machineB = readMachineCpu()
      await publisher.stop()
      // Drain: events published just before the stop are still on their way.
      let prev = -1
      const drainEnd = performance.now() + 5000
      for (;;) {
        const s = await pool.snapshot(false)
        const got = s.counters.plain + s.counters.likes
        if (got === prev || performance.now() > drainEnd) break
        prev = got
        await sleep(500)
      }
    } else {
      // Hold only: the window measures what idle connections cost (heartbeats).
      a = await pool.snapshot(true)
      serverA = sampleGroup(livePids); genA = genCpu(); machineA = readMachineCpu()
      await sleep(options.durationMs)
      b = await pool.snapshot(false)
      serverB = sampleGroup(livePids); genB = genCpu(); machineB = readMachineCpu()
    }
    const final = await pool.snapshot(false)
    const windowSeconds = (serverB.at - serverA.at) / 1000
    const deliveries = (b.counters.plain + b.counters.likes) - (a.counters.plain + a.counters.likes)
    const serverCpu = serverB.cpuSeconds - serverA.cpuSeconds
    const stats: PublisherStats | undefined = publisher?.stats
    const expected = stats ? topics.reduce((sum, _, k) => sum + ((stats.acceptedPerTopic[k] ?? 0) + (stats.probesPerTopic[k] ?? 0)) * (viewers[k] ?? 0), 0) : 0
    const received = (final.counters.plain + final.counters.likes) - (startSnap.counters.plain + startSnap.counters.likes)
    const heldCount = held.counters.open
    const perConn = (bytes: number): number => (heldCount > 0 ? Math.round(bytes / heldCount) : NaN)
    const genCpuSeconds = genB - genA
    return {
      target: { kind: options.target.kind, url: options.target.url },
      connections: {
        requested: options.connections, held: heldCount, failed: final.counters.failed, dropped: final.counters.dropped, errors: final.counters.errors, rampSeconds,
        ...(serverViewers === undefined ? {} : { serverViewers }),
      },
      server: {
        processes: livePids.length, rssBeforeBytes: before.rssBytes, rssHeldBytes: heldSample.rssBytes, pssHeldBytes: pssHeld,
        rssPerConnectionBytes: perConn(heldSample.rssBytes), rssDeltaPerConnectionBytes: perConn(heldSample.rssBytes - before.rssBytes),
        pssPerConnectionBytes: perConn(pssHeld), rssPeakBytes: rssPeak,
        cpuSeconds: serverCpu, cpuShare: windowSeconds > 0 ? serverCpu / (windowSeconds * cores) : 0,
      },
      window: { seconds: windowSeconds, publishRate: options.rate, type, topics: options.topics },
      deliveries: {
        count: deliveries,
        perSecond: windowSeconds > 0 ? deliveries / windowSeconds : 0,
        framesPerSecond: windowSeconds > 0 ? (b.counters.events - a.counters.events) / windowSeconds : 0,
        likesPerSecond: windowSeconds > 0 ? (b.counters.likes - a.counters.likes) / windowSeconds : 0,
        perServerCpuSecond: serverCpu > 0 ? deliveries / serverCpu : NaN,
        expected, received, ratio: expected > 0 ? received / expected : NaN,
      },
      latency: summarizeLatency(b.histogram),
      generator: {
        processes, cpuSeconds: genCpuSeconds, cpuShare: windowSeconds > 0 ? genCpuSeconds / (windowSeconds * cores) : 0, maxEventLoopUtilization: b.maxEventLoopUtilization,
        readsPerSecond: windowSeconds > 0 ? (b.counters.reads - a.counters.reads) / windowSeconds : 0,
        cpuMicrosPerRead: b.counters.reads > a.counters.reads ? (genCpuSeconds * 1e6) / (b.counters.reads - a.counters.reads) : NaN,
      },
      publisher: stats ? { accepted: stats.accepted, failed: stats.failed, skipped: stats.skipped, abandoned: stats.abandoned, errors: stats.errors, requests: stats.requests } : { accepted: 0, failed: 0, skipped: 0, abandoned: 0, errors: {}, requests: 0 },
      machineBusyShare: machineB.totalSeconds > machineA.totalSeconds ? (machineB.busySeconds - machineA.busySeconds) / (machineB.totalSeconds - machineA.totalSeconds) : 0,
    }
  } finally {
    await publisher?.stop(1000).catch(() => {})
    await pool.stop()
  }
}
