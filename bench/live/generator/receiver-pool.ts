// The coordinator's handle on its receiver processes: forks them, splits the connections, and merges their
// counters and histograms. A process holds at most `perProcess` sockets (the open-files cap is per process).
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { createHistogram, mergeInto } from './histogram.ts'
import type { ChildMessage, ParentMessage, ReceiverConfig, ReceiverCounters } from './receiver-protocol.ts'

const RECEIVER = fileURLToPath(new URL('./receiver-process.ts', import.meta.url))

export type ReceiverPoolOptions = {
  /** Server addresses; process p connects to endpoints[p % endpoints.length] (several nodes of one service). */
  endpoints: Array<{ host: string; port: number }>
  /** Request path per topic. */
  paths: string[]
  /** Extra request header lines. @defaultValue '' */
  headers?: string
  connections: number
  /** Generator processes. */
  processes: number
  /** Local addresses per process (index = process). */
  sourceAddresses: string[][]
  /** Total new connections per second. */
  connectRate: number
  /** Unanswered connects per process at most. @defaultValue 256 */
  maxPending?: number
}

export type PoolSnapshot = {
  counters: ReceiverCounters
  histogram: Uint32Array
  /** Busiest receiver's event-loop utilisation since the previous snapshot (1 = saturated). */
  maxEventLoopUtilization: number
}

function emptyCounters(): ReceiverCounters {
  return { open: 0, pending: 0, failed: 0, dropped: 0, errors: {}, events: 0, plain: 0, likes: 0, bytes: 0, reads: 0 }
}

export function addCounters(a: ReceiverCounters, b: ReceiverCounters): ReceiverCounters {
  const errors = { ...a.errors }
  for (const [k, v] of Object.entries(b.errors)) errors[k] = (errors[k] ?? 0) + v
  return {
    open: a.open + b.open, pending: a.pending + b.pending, failed: a.failed + b.failed, dropped: a.dropped + b.dropped,
    errors, events: a.events + b.events, plain: a.plain + b.plain, likes: a.likes + b.likes, bytes: a.bytes + b.bytes, reads: a.reads + b.reads,
  }
}

export class ReceiverPool {
  readonly children: ChildProcess[] = []
  private readonly latest = new Map<ChildProcess, ReceiverCounters>()
  private snapshotId = 0
  private readonly options: ReceiverPoolOptions

  constructor(options: ReceiverPoolOptions) {
    this.options = options
  }

  get pids(): number[] {
    return this.children.map((c) => c.pid).filter((p): p is number => p !== undefined)
  }

  start(): void {
    const { connections, processes } = this.options
    let first = 0
    for (let i = 0; i < processes; i++) {
      const count = Math.floor(connections / processes) + (i < connections % processes ? 1 : 0)
      const child = fork(RECEIVER, [], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'advanced' })
      this.children.push(child)
      this.latest.set(child, emptyCounters())
      child.on('message', (msg: ChildMessage) => { if (msg.type === 'progress') this.latest.set(child, msg.counters) })
      const endpoint = this.options.endpoints[i % this.options.endpoints.length] ?? { host: '127.0.0.1', port: 0 }
      const config: ReceiverConfig = {
        host: endpoint.host, port: endpoint.port, paths: this.options.paths, headers: this.options.headers ?? '',
        firstIndex: first, connections: count, sourceAddresses: this.options.sourceAddresses[i] ?? [],
        connectRate: Math.max(1, this.options.connectRate / processes), maxPending: this.options.maxPending ?? 256,
      }
      this.send(child, { type: 'start', config })
      first += count
    }
  }

  private send(child: ChildProcess, msg: ParentMessage): void {
    if (child.connected) child.send(msg)
  }

  /** Latest progress counters summed over processes (updated every 250 ms). */
  progress(): ReceiverCounters {
    let sum = emptyCounters()
    for (const c of this.latest.values()) sum = addCounters(sum, c)
    return sum
  }

  /** Exact counters and merged histogram right now; `resetHistogram` starts a new latency window. */
  async snapshot(resetHistogram: boolean): Promise<PoolSnapshot> {
    const id = ++this.snapshotId
    const replies = await Promise.all(this.children.map((child) => new Promise<ChildMessage & { type: 'snapshot' }>((resolve, reject) => {
      const onMessage = (msg: ChildMessage): void => {
        if (msg.type === 'snapshot' && msg.id === id) { cleanup(); resolve(msg) }
      }
      const onExit = (): void => { cleanup(); reject(new Error(`receiver ${child.pid} exited`)) }
      const cleanup = (): void => { child.off('message', onMessage); child.off('exit', onExit) }
      child.on('message', onMessage)
      child.once('exit', onExit)
      this.send(child, { type: 'snapshot', id, resetHistogram })
    })))
    let counters = emptyCounters()
    const histogram = createHistogram()
    let maxEventLoopUtilization = 0
    for (const r of replies) {
      counters = addCounters(counters, r.counters)
      mergeInto(histogram, r.histogram)
      maxEventLoopUtilization = Math.max(maxEventLoopUtilization, r.eventLoopUtilization)
    }
    return { counters, histogram, maxEventLoopUtilization }
  }

  /** Resets every connection and waits for the processes to exit (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    await Promise.all(this.children.map(async (child) => {
      if (child.exitCode !== null || child.signalCode !== null) return
      const gone = new Promise<void>((r) => child.once('exit', () => r()))
      this.send(child, { type: 'stop' })
      const t = setTimeout(() => child.kill('SIGKILL'), 5000)
      await gone
      clearTimeout(t)
    }))
  }
}
