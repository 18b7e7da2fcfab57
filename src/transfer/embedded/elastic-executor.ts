// The embedded engine's copy executor where `--workers auto` has one worker thread to give (2 cores): copies start
// on the coordinator's own thread, and move to the copy worker only when the run shows it is bound by per-file work.
//
// A worker thread costs a fixed share of CPU (its own Node bootstrap and module graph, 0.1–0.2 CPU-s) and a message
// per batch of outcomes. What one worker buys is the coordinator's per-file work (crawl, journal, hand-out) running
// beside the copies:
// - small files (under `smallFileBytes` on average): the per-file work is as large as the copies' own, and running
//   it beside them shortens the run;
// - bigger files: the copies are bound by bytes and the per-file work is a sliver of the run. One worker would move
//   the same work to another thread and add its start and its messages, so the copies stay where they are.
// The worker starts once `sizeSamples` copies of media (playlists left out: a crawl copies them first, and small
// files finish first) have finished with a mean size under `smallFileBytes`, and `startBacklog` files wait in the
// queue (a short run is over before a worker would pay). From the moment it is
// ready it takes every copy handed out; copies already running on the coordinator finish there.
import type { CopyConfig, CopyExecutor, CopyJob, ResultHandler } from './copy-executor.ts'
import { InlineExecutor, WorkerExecutor } from './copy-executor.ts'

export type ElasticOptions = {
  /** Files waiting in the queue from which the worker may start. */
  startBacklog: number
  /** Copied files averaging under this many bytes make a run bound by per-file work. */
  smallFileBytes: number
  /** Copies that must have finished before their mean size says anything. */
  sizeSamples: number
  /** The copy worker failed (a bug, an out-of-memory): its jobs are answered as retryable failures. */
  onFatal?: (err: Error) => void
  /** The worker started (`backlog`: files waiting then; `meanBytes`: mean size of the files copied so far). */
  onStart?: (info: { workers: number; backlog: number; meanBytes: number }) => void
}

export class ElasticExecutor implements CopyExecutor {
  readonly #config: CopyConfig
  readonly #onResult: ResultHandler
  readonly #options: ElasticOptions
  readonly #inline: InlineExecutor
  #pool: WorkerExecutor | undefined
  #ready = false
  // Size of the media copies finished so far, and the playlist jobs in flight (not counted).
  #files = 0
  #bytes = 0
  readonly #playlists = new Set<number>()

  constructor(config: CopyConfig, onResult: ResultHandler, options: ElasticOptions) {
    this.#config = config
    this.#onResult = (id, outcome) => {
      if (!this.#playlists.delete(id) && outcome.ok) { this.#files++; this.#bytes += outcome.bytes }
      onResult(id, outcome)
    }
    this.#options = options
    this.#inline = new InlineExecutor(config, this.#onResult)
  }

  /** Where new copies go: 'inline' (the coordinator), 'starting' (the worker loading), 'worker'. */
  get stage(): 'inline' | 'starting' | 'worker' {
    return this.#ready ? 'worker' : this.#pool ? 'starting' : 'inline'
  }

  /** The queue's backlog after a hand-out: the worker starts the first time the rule above holds. */
  demand(backlog: number): void {
    const o = this.#options
    if (this.#pool || backlog < o.startBacklog || this.#files < o.sizeSamples) return
    const meanBytes = this.#bytes / this.#files
    if (meanBytes >= o.smallFileBytes) return
    this.#pool = new WorkerExecutor(this.#config, 1, this.#onResult, o.onFatal, () => { this.#ready = true })
    o.onStart?.({ workers: 1, backlog, meanBytes })
  }

  run(job: CopyJob): void {
    if (job.ref.kind === 'master' || job.ref.kind === 'media') this.#playlists.add(job.id)
    if (this.#ready && this.#pool) this.#pool.run(job)
    else this.#inline.run(job)
  }

  async close(): Promise<void> {
    await Promise.all([this.#inline.close(), this.#pool?.close()])
  }
}
