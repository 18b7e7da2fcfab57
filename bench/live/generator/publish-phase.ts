// One publishing window on connections already held: publish at a fixed rate, measure deliveries, server
// and generator CPU and latency over the window, then stop and let in-flight events drain.
import os from 'node:os'
import { countOf, maxValue, quantile } from './histogram.ts'
import { readMachineCpu, sampleGroup } from './proc-stats.ts'
import { Publisher } from './publisher.ts'
import type { ReceiverPool } from './receiver-pool.ts'
import type { BenchTarget } from './target.ts'

export type LatencySummary = { samples: number; p50Ms: number; p90Ms: number; p99Ms: number; maxMs: number }

/** What one publishing window measured. */
export type PhaseResult = {
  window: { seconds: number; publishRate: number; type: string; topics: number }
  /** Deliveries = events a viewer received, counting each like inside a coalesced frame. */
  deliveries: { count: number; perSecond: number; framesPerSecond: number; likesPerSecond: number; perServerCpuSecond: number; expected: number; received: number; ratio: number }
  latency: LatencySummary
  /** Server CPU during the window (all its processes) and its share of the machine's cores. */
  serverCpu: { seconds: number; share: number; rssPeakBytes: number }
  generator: { processes: number; cpuSeconds: number; cpuShare: number; maxEventLoopUtilization: number; readsPerSecond: number; cpuMicrosPerRead: number }
  publisher: { accepted: number; failed: number; skipped: number; abandoned: number; errors: Record<string, number>; requests: number }
  /** Share of both cores busy during the window, everyone included (other users of the machine too). */
  machineBusyShare: number
  /** 1-minute load average at the end of the window (runnable processes; above the core count = contended). */
  loadAverage: number
}

export type PhaseOptions = {
  pool: ReceiverPool
  serverPids: number[]
  target: BenchTarget
  topics: string[]
  /** Viewers per topic index (for the expected delivery count). */
  viewers: number[]
  rate: number
  type: string
  probeRate: number
  durationMs: number
  warmupMs: number
  batch: boolean
  padding: number
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

function summarizeLatency(h: Uint32Array): LatencySummary {
  const ms = (us: number): number => Math.round(us / 10) / 100
  return { samples: countOf(h), p50Ms: ms(quantile(h, 0.5)), p90Ms: ms(quantile(h, 0.9)), p99Ms: ms(quantile(h, 0.99)), maxMs: ms(maxValue(h)) }
}

function cpuOfSelf(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}

const delivered = (c: { plain: number; likes: number }): number => c.plain + c.likes

export async function runPublishPhase(o: PhaseOptions): Promise<PhaseResult> {
  const cores = os.availableParallelism()
  const genCpu = (): number => sampleGroup(o.pool.pids).cpuSeconds + cpuOfSelf()
  const start = await o.pool.snapshot(true)
  const publishing = o.rate > 0 || o.probeRate > 0
  const publisher = publishing
    ? new Publisher({ target: o.target, topics: o.topics, rate: o.rate, type: o.type, probeRate: o.probeRate, batch: o.batch, padding: o.padding })
    : undefined
  try {
    publisher?.start()
    if (publisher) await sleep(o.warmupMs)
    const a = await o.pool.snapshot(true)
    const serverA = sampleGroup(o.serverPids)
    const genA = genCpu()
    const machineA = readMachineCpu()
    let rssPeak = serverA.rssBytes
    const end = performance.now() + o.durationMs
    while (performance.now() < end) {
      await sleep(Math.min(1000, Math.max(0, end - performance.now())))
      rssPeak = Math.max(rssPeak, sampleGroup(o.serverPids).rssBytes)
    }
    const b = await o.pool.snapshot(false)
    const serverB = sampleGroup(o.serverPids)
    const genB = genCpu()
    const machineB = readMachineCpu()
    if (publisher) {
      await publisher.stop()
      // Drain: events published just before the stop are still on their way.
      let prev = -1
      const drainEnd = performance.now() + 5000
      for (;;) {
        const got = delivered((await o.pool.snapshot(false)).counters)
        if (got === prev || performance.now() > drainEnd) break
        prev = got
        await sleep(500)
      }
    }
    const final = await o.pool.snapshot(false)
    const seconds = (serverB.at - serverA.at) / 1000
    const perSec = (x: number): number => (seconds > 0 ? x / seconds : 0)
    const count = delivered(b.counters) - delivered(a.counters)
    const serverCpu = serverB.cpuSeconds - serverA.cpuSeconds
    const stats = publisher?.stats
    const expected = stats ? o.topics.reduce((sum, _, k) => sum + ((stats.acceptedPerTopic[k] ?? 0) + (stats.probesPerTopic[k] ?? 0)) * (o.viewers[k] ?? 0), 0) : 0
    const received = delivered(final.counters) - delivered(start.counters)
    const genSeconds = genB - genA
    const reads = b.counters.reads - a.counters.reads
    return {
      window: { seconds, publishRate: o.rate, type: o.type, topics: o.topics.length },
      deliveries: {
        count, perSecond: perSec(count), framesPerSecond: perSec(b.counters.events - a.counters.events), likesPerSecond: perSec(b.counters.likes - a.counters.likes),
        perServerCpuSecond: serverCpu > 0 ? count / serverCpu : NaN, expected, received, ratio: expected > 0 ? received / expected : NaN,
      },
      latency: summarizeLatency(b.histogram),
      serverCpu: { seconds: serverCpu, share: seconds > 0 ? serverCpu / (seconds * cores) : 0, rssPeakBytes: rssPeak },
      generator: {
        processes: o.pool.children.length, cpuSeconds: genSeconds, cpuShare: seconds > 0 ? genSeconds / (seconds * cores) : 0,
        maxEventLoopUtilization: b.maxEventLoopUtilization, readsPerSecond: perSec(reads), cpuMicrosPerRead: reads > 0 ? (genSeconds * 1e6) / reads : NaN,
      },
      publisher: stats
        ? { accepted: stats.accepted, failed: stats.failed, skipped: stats.skipped, abandoned: stats.abandoned, errors: stats.errors, requests: stats.requests }
        : { accepted: 0, failed: 0, skipped: 0, abandoned: 0, errors: {}, requests: 0 },
      machineBusyShare: machineB.totalSeconds > machineA.totalSeconds ? (machineB.busySeconds - machineA.busySeconds) / (machineB.totalSeconds - machineA.totalSeconds) : 0,
      loadAverage: os.loadavg()[0] ?? 0,
    }
  } finally {
    await publisher?.stop(1000).catch(() => {})
  }
}
