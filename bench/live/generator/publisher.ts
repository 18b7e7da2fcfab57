// Publishes at a fixed rate, round-robin over the topics, each event carrying its send time ("bt", µs on the
// machine-wide monotonic clock the receivers read too). Events due while too many requests are in flight are
// skipped and counted, never queued: a backlog would turn the fixed rate into a burst later.
import { Pool } from 'undici'
import { publishRequests, type BenchEvent, type BenchTarget } from './target.ts'

export type PublisherOptions = {
  target: BenchTarget
  topics: string[]
  /** Main events per second (all topics together). */
  rate: number
  /** Type of the main events: 'like' (coalescible) or 'comment'. */
  type: string
  /** Extra comments per second for latency probes (likes may arrive coalesced without a timestamp). @defaultValue 0 */
  probeRate?: number
  /** colony only: one POST per topic per tick carrying every due event. @defaultValue true */
  batch?: boolean
  /** Bytes of padding in each event's data. @defaultValue 0 */
  padding?: number
  /** Publish requests in flight at most. @defaultValue 1024 */
  maxInFlight?: number
  /** Tick period: colony batches a topic's due events per tick. @defaultValue 10 */
  tickMs?: number
}

export type PublisherStats = {
  /** Main events accepted by the server, per topic index. */
  acceptedPerTopic: number[]
  /** Probe comments accepted, per topic index. */
  probesPerTopic: number[]
  accepted: number
  failed: number
  /** Events not sent because maxInFlight requests were outstanding. */
  skipped: number
  /** Events whose request was still unanswered when the publisher stopped (outcome unknown). */
  abandoned: number
  /** Failure reasons → count. */
  errors: Record<string, number>
  requests: number
}

export function nowMicros(): number {
  return Number(process.hrtime.bigint() / 1000n)
}

export class Publisher {
  readonly stats: PublisherStats
  private readonly options: PublisherOptions
  private readonly pool: Pool
  private inFlight = 0
  private seq = 0
  private probeSeq = 0
  private timer: NodeJS.Timeout | undefined
  private started = 0
  private sentMain = 0
  private sentProbes = 0
  private readonly idle: Array<() => void> = []
  private readonly pad: string
  private stopped = false

  constructor(options: PublisherOptions) {
    this.options = options
    this.pool = new Pool(options.target.url, { connections: 32, pipelining: 1, keepAliveTimeout: 30_000 })
    this.pad = 'x'.repeat(options.padding ?? 0)
    const n = options.topics.length
    this.stats = { acceptedPerTopic: new Array<number>(n).fill(0), probesPerTopic: new Array<number>(n).fill(0), accepted: 0, failed: 0, skipped: 0, abandoned: 0, errors: {}, requests: 0 }
  }

  start(): void {
    this.started = performance.now()
    this.timer = setInterval(() => this.tick(), this.options.tickMs ?? 10)
  }

  private tick(): void {
    const elapsed = (performance.now() - this.started) / 1000
    const dueMain = Math.floor(elapsed * this.options.rate) - this.sentMain
    const dueProbes = Math.floor(elapsed * (this.options.probeRate ?? 0)) - this.sentProbes
    if (dueMain <= 0 && dueProbes <= 0) return
    const byTopic = new Map<number, Array<{ event: BenchEvent; probe: boolean }>>()
    const add = (probe: boolean): void => {
      const n = this.options.topics.length
      const index = probe ? this.probeSeq++ % n : this.seq++ % n
      const data: Record<string, unknown> = { bt: 0, s: probe ? this.probeSeq : this.seq }
      if (this.pad) data.pad = this.pad
      const event = { topic: this.options.topics[index] ?? '', type: probe ? 'comment' : this.options.type, data }
      const list = byTopic.get(index)
      if (list) list.push({ event, probe })
      else byTopic.set(index, [{ event, probe }])
    }
    for (let i = 0; i < dueMain; i++) add(false)
    for (let i = 0; i < dueProbes; i++) add(true)
    this.sentMain += Math.max(0, dueMain)
    this.sentProbes += Math.max(0, dueProbes)
    for (const [index, items] of byTopic) {
      // Probes go alone so a like batch that the server coalesces cannot absorb their timestamps.
      const groups = [items.filter((i) => !i.probe), items.filter((i) => i.probe)].filter((g) => g.length > 0)
      for (const group of groups) {
        const now = nowMicros()
        for (const { event } of group) event.data.bt = now
        const requests = publishRequests(this.options.target, this.options.topics[index] ?? '', group.map((g) => g.event), this.options.batch ?? true)
        const perRequest = group.length / requests.length
        for (const req of requests) {
          if (this.inFlight >= (this.options.maxInFlight ?? 1024)) { this.stats.skipped += perRequest; continue }
          this.send(index, req, perRequest, group[0]?.probe ?? false)
        }
      }
    }
  }

  private send(index: number, req: { path: string; headers: Record<string, string>; body: string }, events: number, probe: boolean): void {
    this.inFlight++
    this.stats.requests++
    this.pool.request({ method: 'POST', path: req.path, headers: req.headers, body: req.body })
      .then(async (res) => {
        await res.body.dump()
        if (res.statusCode >= 200 && res.statusCode < 300) {
          this.stats.accepted += events
          const arr = probe ? this.stats.probesPerTopic : this.stats.acceptedPerTopic
          arr[index] = (arr[index] ?? 0) + events
        } else {
          this.fail(`http_${res.statusCode}`, events)
        }
      }, (err: NodeJS.ErrnoException) => {
        if (this.stopped) this.stats.abandoned += events
        else this.fail(err.code ?? 'error', events)
      })
      .finally(() => {
        this.inFlight--
        if (this.inFlight === 0) for (const f of this.idle.splice(0)) f()
      })
  }

  private fail(reason: string, events: number): void {
    this.stats.failed += events
    this.stats.errors[reason] = (this.stats.errors[reason] ?? 0) + events
  }

  /** Stops sending and waits (at most `timeoutMs`) for the requests in flight. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.timer) clearInterval(this.timer)
    this.timer = undefined
    if (this.stopped) return
    this.stopped = true
    if (this.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs)
        this.idle.push(() => { clearTimeout(t); resolve() })
      })
    }
    await this.pool.destroy()
  }
}
