// Runs copyFile for the engine, in-process or on worker threads, each copier with its own HTTP pools and
// destination client. The engine's default (growing-executor.ts) starts on the coordinator's thread, which keeps the
// queue and journal, and moves the copies to worker threads once that thread is busy and a core is idle; a number
// of workers puts every copy on them from the start, and `workers: 0` keeps them on the coordinator.
import module from 'node:module'
import { Worker } from 'node:worker_threads'
import { HostAllowList } from '../../shared/allow-host.ts'
import { siblingModule } from '../../shared/module-url.ts'
import type { CopyOutcome, FileRef } from '../core/types.ts'
import type { Destination } from '../core/ports.ts'
import { copyFile } from '../core/copy-file.ts'
import { sharedSourceLimits, type SharedLimits } from '../core/limits/source-limits.ts'
import { TRANSFER_CODES } from '../errors.ts'
import { createDestination, SourceRouter } from '../adapters/create.ts'
import type { S3Options } from '../adapters/s3-client.ts'
import { S3Destination } from '../adapters/s3-destination.ts'
import type { CopyWorkerReply, CopyWorkerRequest } from '../wire-format.ts'
import { copyWithRewrite, type RewriteRule } from '../core/rewrite-uri.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

/** Everything a copier needs, as plain data so it can cross to a worker thread. */
export type CopyConfig = {
  /** Destination locator. */
  to: string
  s3?: S3Options
  /** Multipart threshold and part size for S3 destinations. */
  multipartThreshold?: number
  partSize?: number
  /** Hosts redirects may lead to. */
  allowHosts: string[]
  /** HTTP connections per origin for this copier. */
  connections: number
  /** GETs in flight on one HTTP connection (1: no pipelining). */
  pipelining?: number
  checksum: boolean
  checkExisting: boolean
  stripPrefix?: string
  /** --bwlimit / --max-rps buckets shared by every copier thread and the crawling thread. */
  limits?: SharedLimits
  /** --rewrite-uri rules for playlists. */
  rewriteUri?: RewriteRule[]
}

export type CopyJob = { id: number; ref: FileRef }
export type ResultHandler = (id: number, outcome: CopyOutcome) => void

export interface CopyExecutor {
  run(job: CopyJob): void
  close(): Promise<void>
}

/** Builds the source router and destination a copier uses, from a CopyConfig. */
export function createCopier(config: CopyConfig): { source: SourceRouter; destination: Destination; copy: (ref: FileRef) => Promise<CopyOutcome>; close: () => Promise<void> } {
  const allow = new HostAllowList(config.allowHosts)
  const source = new SourceRouter({
    http: { connections: config.connections, ...(config.pipelining ? { pipelining: config.pipelining } : {}), allowRedirect: (u) => allow.allows(u) },
    ...(config.s3 ? { s3: { ...config.s3, maxSockets: config.connections } } : {}),
    ...(config.stripPrefix ? { stripPrefix: config.stripPrefix } : {}), ...(config.limits ? { limits: sharedSourceLimits(config.limits) } : {}),
  })
  const destination = createDestination(config.to, {
    // Blocking writes on every copier, the coordinator's own thread included (--workers 0): a write of a chunk
    // already in memory costs less than a thread-pool round trip per call, and on the coordinator the crawl and
    // journal it delays are sub-millisecond each. Without them the coordinator reads each body whole into a buffer.
    dir: { syncSmallWrites: true },
    s3: { ...config.s3, maxSockets: config.connections,
      ...(config.multipartThreshold ? { multipartThreshold: config.multipartThreshold } : {}), ...(config.partSize ? { partSize: config.partSize } : {}) },
  })
  return {
    source, destination,
    copy: (ref) => copyWithRewrite(copyFile, ref, { source, destination, checksum: config.checksum, checkExisting: config.checkExisting }, config.rewriteUri),
    close: async () => { await source.close(); await destination.close?.() },
  }
}

/** Credentials the coordinator's destination can hand to copy workers (S3Destination.portableCredentials), if any. */
export async function portableCredentials(destination: Destination): Promise<S3Options['credentials']> {
  return destination instanceof S3Destination ? destination.portableCredentials().catch(() => undefined) : undefined
}

export class InlineExecutor implements CopyExecutor {
  readonly #copier: ReturnType<typeof createCopier>
  readonly #onResult: ResultHandler

  constructor(config: CopyConfig, onResult: ResultHandler) {
    this.#copier = createCopier(config)
    this.#onResult = onResult
  }

  readonly #active = new Set<Promise<void>>()

  run(job: CopyJob): void {
    const p: Promise<void> = this.#copier.copy(job.ref).then((outcome) => { this.#active.delete(p); this.#onResult(job.id, outcome) })
    this.#active.add(p)
  }

  /** Lets copies in flight finish (their outcomes are still journaled), then closes pools. */
  async close(): Promise<void> {
    while (this.#active.size > 0) await Promise.all([...this.#active])
    await this.#copier.close()
  }
}

/**
 * A worker's first code, plain JavaScript: it turns Node's compile cache on (when the coordinator runs with one)
 * BEFORE the TypeScript copy path is imported, so a worker reads its compiled module graph from disk instead of
 * loading the type stripper and compiling every module again (a quarter of a worker's CPU on short runs).
 */
const WORKER_BOOTSTRAP = `
const { workerData } = require('node:worker_threads')
if (workerData.compileCacheDir) require('node:module').enableCompileCache(workerData.compileCacheDir)
import(workerData.entry).catch((err) => { process.nextTick(() => { throw err }) })
`

/** Every message to a copy worker goes through here, so it is one of the CopyWorkerRequest shapes. */
const post = (worker: Worker, msg: CopyWorkerRequest): void => worker.postMessage(msg)

type Slot = { worker: Worker; load: number; batch: CopyJob[]; jobs: Map<number, CopyJob>; ready: boolean }

/**
 * N worker threads; each job goes to the least-loaded one. A worker that dies (a bug, an out-of-memory) has its
 * jobs answered as retryable failures and is replaced, so the run neither hangs nor loses files.
 *
 * The config may come later (`configure`): the engine starts the threads first thing, so that their module load
 * (a few hundred ms) overlaps planning and crawling instead of delaying the first copy.
 */
export class WorkerExecutor implements CopyExecutor {
  readonly #slots: Slot[] = []
  readonly #onResult: ResultHandler
  readonly #count: number
  #config: CopyConfig | undefined
  #flushScheduled = false
  #closing = false
  #fatal: ((err: Error) => void) | undefined
  #onReady: (() => void) | undefined

  constructor(config: CopyConfig | undefined, count: number, onResult: ResultHandler, onFatal?: (err: Error) => void) {
    this.#onResult = onResult
    this.#fatal = onFatal
    this.#count = count
    for (let i = 0; i < count; i++) this.#slots.push(this.#spawn())
    if (config) this.configure(config)
  }

  /** Sends the copy settings to every worker; jobs may be run from then on, and `onReady` says when all have built their copier. */
  configure(config: CopyConfig, onReady?: () => void): void {
    this.#onReady = onReady
    this.#config = { ...config, connections: Math.max(TRANSFER_DEFAULTS.embedded.minWorkerConnections, Math.ceil(config.connections / this.#count)) }
    for (const slot of this.#slots) post(slot.worker, { type: 'config', config: this.#config })
  }

  #spawn(): Slot {
    const entry = siblingModule(import.meta.url, 'copy-worker').href
    // A small young generation: V8 sizes it for throughput (tens of MB per thread), the copy path's garbage dies young.
    const resourceLimits = { maxYoungGenerationSizeMb: TRANSFER_DEFAULTS.embedded.workerYoungGenerationMb }
    const worker = new Worker(WORKER_BOOTSTRAP, { eval: true, resourceLimits, workerData: { entry, compileCacheDir: module.getCompileCacheDir?.() } })
    // A replacement for a dead worker gets the settings the others have.
    if (this.#config) post(worker, { type: 'config', config: this.#config })
    const slot: Slot = { worker, load: 0, batch: [], jobs: new Map(), ready: false }
    worker.on('message', (msg: CopyWorkerReply) => {
      if (msg.type === 'fatal') { this.#fatal?.(new Error(msg.message)); return }
      if (msg.type === 'ready') {
        slot.ready = true
        if (this.#slots.every((s) => s.ready)) { const f = this.#onReady; this.#onReady = undefined; f?.() }
        return
      }
      for (const [id, outcome] of msg.results) {
        if (!slot.jobs.delete(id)) continue
        slot.load--
        this.#onResult(id, outcome)
      }
    })
    worker.on('error', (err) => this.#fatal?.(err))
    worker.on('exit', () => {
      if (this.#closing) return
      const lost = [...slot.jobs.values(), ...slot.batch]
      slot.jobs.clear()
      slot.batch = []
      const i = this.#slots.indexOf(slot)
      if (i >= 0) this.#slots[i] = this.#spawn()
      for (const job of lost) {
        this.#onResult(job.id, { ok: false, key: job.ref.key, code: TRANSFER_CODES.INTERNAL, message: 'copy worker exited; retrying', retryable: true })
      }
    })
    return slot
  }

  run(job: CopyJob): void {
    if (!this.#config) throw new Error('WorkerExecutor.run before configure')
    let best = this.#slots[0]
    for (const w of this.#slots) if (best && w.load + w.batch.length < best.load + best.batch.length) best = w
    if (!best) throw new Error('no copy workers')
    best.batch.push(job)
    if (!this.#flushScheduled) {
      this.#flushScheduled = true
      setImmediate(() => this.#flush())
    }
  }

  #flush(): void {
    this.#flushScheduled = false
    for (const w of this.#slots) {
      if (w.batch.length === 0) continue
      w.load += w.batch.length
      for (const job of w.batch) w.jobs.set(job.id, job)
      post(w.worker, { type: 'jobs', jobs: w.batch })
      w.batch = []
    }
  }

  async close(): Promise<void> {
    this.#fatal = undefined
    this.#closing = true
    await Promise.all(this.#slots.map(async ({ worker }) => {
      if (worker.threadId < 0) return
      const exited = new Promise<void>((r) => worker.once('exit', () => r()))
      post(worker, { type: 'close' })
      const t = setTimeout(() => void worker.terminate(), TRANSFER_DEFAULTS.embedded.workerExitMs)
      await exited
      clearTimeout(t)
    }))
  }
}

