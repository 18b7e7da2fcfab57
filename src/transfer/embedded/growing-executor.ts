// The default executor on a machine of several cores: copies start on the coordinator's own thread and move to copy
// worker threads once that thread has no time to spare and the machine has a core nobody uses. A worker costs
// ~0.2 CPU-s to start (its own Node and module graph, taken from a core the copies or the origin could use), a
// message each way per batch and a second event loop's wake-ups; that pays only when the copies need a core of their
// own for long enough (a near origin and a directory destination, with blocking file writes, for more than a
// second). Where the copies mostly wait (a far origin), the machine's cores are already busy (a store or an origin
// on the same machine) or little is left to copy, the coordinator's thread keeps them and no worker is started.
import os from 'node:os'
import { performance, type EventLoopUtilization } from 'node:perf_hooks'
import { InlineExecutor, type CopyConfig, type CopyExecutor, type CopyJob, type ResultHandler, type WorkerExecutor } from './copy-executor.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

type Thresholds = Record<keyof typeof TRANSFER_DEFAULTS.embedded.grow, number>

export type GrowingExecutorOptions = {
  /** Starts the copy worker threads (with no settings yet: they get them, and then the copies, on growth). */
  createPool: () => WorkerExecutor
  /** Files waiting to be copied. */
  queued: () => number
  /** Whether the crawl is still finding files. */
  crawling: () => boolean
  /** Called when the workers take over the copies. @defaultValue none */
  onGrow?: () => void
  /** The event loop's utilisation so far (injected by tests). @defaultValue performance.eventLoopUtilization */
  utilization?: () => EventLoopUtilization
  /** Milliseconds every core of the machine has spent idle so far (injected by tests). @defaultValue machineIdleMs */
  idleMs?: () => number
  /** The thresholds (tests). @defaultValue TRANSFER_DEFAULTS.embedded.grow */
  grow?: Partial<Thresholds>
}

/**
 * Runs copies inline until the coordinator's thread has been busy at least `busyShare` of `busyWindows` windows in
 * a row, with at least `idleCores` of the machine's cores idle, while the files queued would take at least
 * `minLeftMs` at the window's rate (or the copies have run that long and the crawl still goes on); then starts the
 * workers, keeps copying inline until every worker has built its copier, and from then on hands every new copy to the
 * workers (the inline copies in flight finish where they are).
 */
export class GrowingExecutor implements CopyExecutor {
  readonly #config: CopyConfig
  readonly #inline: InlineExecutor
  readonly #o: GrowingExecutorOptions
  readonly #utilization: () => EventLoopUtilization
  readonly #grow: Thresholds
  #pool: WorkerExecutor | undefined
  #pooled = false
  #last: EventLoopUtilization
  /** The event loop's age (ms) when this executor was made: how long the copies have run. */
  readonly #born: number
  readonly #idleMs: () => number
  #lastIdle: number
  #hot = 0
  /** Copies finished in the current window. */
  #done = 0

  constructor(config: CopyConfig, onResult: ResultHandler, options: GrowingExecutorOptions) {
    this.#config = config
    this.#o = options
    this.#grow = { ...TRANSFER_DEFAULTS.embedded.grow, ...options.grow }
    this.#inline = new InlineExecutor(config, (id, outcome) => { this.#done++; onResult(id, outcome) })
    this.#utilization = options.utilization ?? (() => performance.eventLoopUtilization())
    this.#last = this.#utilization()
    this.#born = this.#last.idle + this.#last.active
    this.#idleMs = options.idleMs ?? machineIdleMs
    this.#lastIdle = this.#idleMs()
  }

  /** Whether new copies still run on the coordinator's thread (what the adaptive limit's busy signal is about). */
  get inline(): boolean {
    return !this.#pooled
  }

  run(job: CopyJob): void {
    if (this.#pooled && this.#pool) { this.#pool.run(job); return }
    if (!this.#pool) this.#watch()
    this.#inline.run(job)
  }

  /** Reads the utilisation once a window has passed since the last reading (no timer: copies call run often). */
  #watch(): void {
    const now = this.#utilization()
    const elapsed = now.idle + now.active - (this.#last.idle + this.#last.active)
    const g = this.#grow
    if (elapsed < g.windowMs) return
    const share = performance.eventLoopUtilization(now, this.#last).utilization
    const rate = this.#done / elapsed
    const idle = this.#idleMs()
    const idleCores = (idle - this.#lastIdle) / elapsed
    this.#last = now
    this.#lastIdle = idle
    this.#done = 0
    // A worker needs a core nobody uses: where the origin or the store shares the machine and keeps it busy, a
    // worker would take its CPU and the copies would go no faster.
    this.#hot = share >= g.busyShare && idleCores >= g.idleCores ? this.#hot + 1 : 0
    if (this.#hot < g.busyWindows) return
    // Enough left to pay for the start: the files queued take minLeftMs at this rate, or the crawl has kept this
    // thread busy for that long and still goes on (a library whose crawl, not its copies, sets the pace).
    const copyingMs = now.idle + now.active - this.#born
    if (this.#o.queued() >= rate * g.minLeftMs || (this.#o.crawling() && copyingMs >= g.minLeftMs)) this.#start()
  }

  #start(): void {
    const pool = (this.#pool = this.#o.createPool())
    pool.configure(this.#config, () => { this.#pooled = true; this.#o.onGrow?.() })
  }

  async close(): Promise<void> {
    await this.#inline.close()
    await this.#pool?.close()
  }
}

/** Milliseconds all the machine's cores have spent idle since boot (/proc/stat through os.cpus()). */
export function machineIdleMs(): number {
  let idle = 0
  for (const c of os.cpus()) idle += c.times.idle
  return idle
}
