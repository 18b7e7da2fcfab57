// The embedded engine: crawl → journal (its todo table is the queue) → copiers (worker threads) → journal → verify →
// report. One process, no services. Memory holds a page of the queue, the files in flight and one line per class.
import { EventEmitter } from 'node:events'
import path from 'node:path'
import { HostAllowList } from '../../shared/allow-host.ts'
import { computeBackoff } from '../../shared/backoff.ts'
import type { Logger } from '../../shared/logger.ts'
import type { ClassEntry, CopyOutcome, CrawlResult, FileRef, RunReport } from '../core/types.ts'
import type { TransferEvents } from '../core/events.ts'
import { TransferError, TRANSFER_CODES } from '../errors.ts'
import { crawlClass } from '../core/crawler.ts'
import { crawlPrefix, keyFunctionFor, namedHosts, planSources } from '../core/plan.ts'
import { isPlaylistLocator, locatorKind } from '../core/locators.ts'
import { Journal, deriveRunName } from './journal.ts'
import { JournalQueue, type QueueItem } from './journal-queue.ts'
import { reportFromJournal, writeJournalReport } from './journal-report.ts'
import { verifyAll } from './verify-run.ts'
import { createDestination, SourceRouter } from '../adapters/create.ts'
import { createSharedLimits, sharedSourceLimits } from '../core/limits/source-limits.ts'
import type { S3Options } from '../adapters/s3-client.ts'
import { InlineExecutor, portableCredentials, WorkerExecutor, type CopyConfig, type CopyExecutor } from './copy-executor.ts'
import { GrowingExecutor } from './growing-executor.ts'
import type { RewriteRule } from '../core/rewrite-uri.ts'
import { defaultCopyWorkers, TRANSFER_DEFAULTS } from '../defaults.ts'
import { ClassFilter, filterPlan, type ClassFilterSpec } from '../core/class-filter.ts'
import type { WatchCycle } from './watch-cycle.ts'
import { AdaptiveLimit } from '../core/limits/adaptive-limit.ts'
import { busyShare } from './busy-share.ts'
import { performance } from 'node:perf_hooks'

/** Answers that mean "fewer copies at once": HTTP 429/503 and S3 SlowDown/503. */
const isOverload = (code: string): boolean => code === TRANSFER_CODES.S3_SLOWDOWN || code === TRANSFER_CODES.HTTP_THROTTLED

export type TransferOptions = {
  /** Playlist URLs, s3:// prefixes, directories, or catalog files/URLs (.json/.jsonl/.ndjson). */
  sources: string[]
  /** Catalogs (JSON array or NDJSON of {id, master, status}), file or URL. @defaultValue [] */
  catalogs?: string[]
  /** Destination: a directory or s3://bucket/prefix. */
  to: string
  /** Extra hosts playlists may reference ("cdn.example.com", "*.example.com"). @defaultValue [] */
  allowHosts?: string[]
  /** Leading key part to drop. @defaultValue '' */
  stripPrefix?: string
  /** Attempts after the first for retryable failures. @defaultValue TRANSFER_DEFAULTS.embedded.retries */
  retries?: number
  /** Copies in flight across all workers: a number pins it, 'auto' adapts it to the goodput (core/limits/adaptive-limit.ts). @defaultValue 'auto' */
  concurrency?: number | 'auto'
  /** Bounds of 'auto'. @defaultValue TRANSFER_DEFAULTS.adaptive.min / max */
  concurrencyMin?: number
  concurrencyMax?: number
  /** GETs in flight on one HTTP connection of the copies (HTTP/1.1 pipelining; 1: off). @defaultValue TRANSFER_DEFAULTS.http.pipelining */
  pipelining?: number
  /**
   * Copy worker threads: a number starts that many at once (0 copies on the main thread); 'auto' copies on the main
   * thread and moves the copies to defaultCopyWorkers() threads once it is busy (growing-executor.ts).
   * @defaultValue 'auto' on several cores, 0 on one
   */
  workers?: number | 'auto'
  /** Where journals live. @defaultValue TRANSFER_DEFAULTS.embedded.stateDir */
  stateDir?: string
  /** Journal name; the same name resumes. @defaultValue derived from sources + destination */
  run?: string
  /** Crawl and list only; copy nothing and touch no journal. @defaultValue false */
  dryRun?: boolean
  /** MD5 every body; S3 destinations compare it with the ETag, directories re-hash at verification. @defaultValue true for S3 destinations */
  checksum?: boolean
  /** S3 client settings for sources and destinations (endpoint, region, credentials). @defaultValue AWS defaults */
  s3?: S3Options
  /** Multipart threshold for S3 destinations. @defaultValue TRANSFER_DEFAULTS.s3.multipartThreshold */
  multipartThreshold?: number
  /** Playlist size limit. @defaultValue TRANSFER_DEFAULTS.crawl.maxPlaylistBytes */
  maxPlaylistBytes?: number
  /** File limit per class. @defaultValue TRANSFER_DEFAULTS.crawl.maxFilesPerClass */
  maxFilesPerClass?: number
  /** Playlist nesting limit. @defaultValue TRANSFER_DEFAULTS.crawl.maxDepth */
  maxDepth?: number
  /** Copy classes without EXT-X-ENDLIST instead of skipping them as recording. @defaultValue false */
  allowIncomplete?: boolean
  /** Backoff base for retries. @defaultValue TRANSFER_DEFAULTS.embedded.retryBaseMs */
  retryBaseMs?: number
  /** Backoff ceiling. @defaultValue TRANSFER_DEFAULTS.embedded.retryMaxMs */
  retryMaxMs?: number
  /** Queue high-water mark: crawling pauses above it. @defaultValue TRANSFER_DEFAULTS.embedded.maxQueued */
  maxQueued?: number
  /** Bytes/s read from the sources, all copy threads and crawling together: "5M", or a timetable "08:00,20M 19:00,off" (local time). @defaultValue no limit */
  bwlimit?: string
  /** Requests/s to the sources (every GET and HEAD, crawling included), all threads together. @defaultValue no limit */
  maxRps?: number
  /** --rewrite-uri rules applied to copied playlists (parse with parseRewriteRules). @defaultValue none */
  rewriteUri?: RewriteRule[]
  /** Writes the JSON report to this file, every missing file named (read from the journal as it is written). @defaultValue none */
  reportFile?: string
  /** Progress events. @defaultValue none */
  events?: EventEmitter<TransferEvents>
  logger?: Logger
  /** Stops the run (Ctrl-C); the journal keeps what is done and the next run continues. */
  signal?: AbortSignal
  /** Class id globs (class-filter.ts); non-empty filters are part of the derived run name. @defaultValue every class */
  classFilter?: ClassFilterSpec
  /** Set by the --watch loop (watch.ts) for each cycle. @defaultValue none: a one-shot run */
  watch?: WatchCycle
}

type Item = QueueItem

/** The journal path a run uses. */
export function journalPath(options: Pick<TransferOptions, 'sources' | 'catalogs' | 'to' | 'stateDir' | 'run' | 'stripPrefix' | 'classFilter' | 'rewriteUri'>): { run: string; file: string } {
  const filter = new ClassFilter(options.classFilter).identity()
  const rules = options.rewriteUri?.length ? [JSON.stringify(options.rewriteUri)] : []
  const run = options.run ?? deriveRunName([...options.sources, ...(options.catalogs ?? [])], options.to, [options.stripPrefix ?? '', ...(filter ? [filter] : []), ...rules])
  if (!/^[\w.-]+$/.test(run)) throw new TransferError(TRANSFER_CODES.BAD_LOCATOR, `run name "${run}" may only hold letters, digits, '.', '_' and '-'`, { status: 400 })
  return { run, file: path.resolve(options.stateDir ?? TRANSFER_DEFAULTS.embedded.stateDir, `transfer-${run}.db`) }
}

/** Copies everything the sources reference to the destination, verifies it, and reports per class. */
export async function runTransfer(options: TransferOptions): Promise<RunReport> {
  const events = options.events ?? new EventEmitter<TransferEvents>()
  // Checked before anything runs (TRANSFER_BAD_LIMIT); one bucket per limit, shared by this thread and every copy thread.
  const limits = createSharedLimits({ ...(options.bwlimit !== undefined ? { bwlimit: options.bwlimit } : {}), ...(options.maxRps !== undefined ? { maxRps: options.maxRps } : {}) })
  const startedAt = new Date().toISOString()
  const { run, file } = journalPath(options)
  const dryRun = options.dryRun ?? false
  const journal = new Journal(dryRun ? ':memory:' : file)
  const retries = options.retries ?? TRANSFER_DEFAULTS.embedded.retries
  const pinned = typeof options.concurrency === 'number' ? Math.max(1, options.concurrency) : undefined
  const growTo = defaultCopyWorkers()
  const auto = !dryRun && (options.workers ?? 'auto') === 'auto' && growTo > 0
  const workers = dryRun || options.workers === 'auto' ? 0 : options.workers ?? 0
  let growing: GrowingExecutor | undefined
  // While this thread runs the copies, the adaptive limit stops growing while it has no time to spare.
  const busy = pinned === undefined && workers === 0 ? busyShare(TRANSFER_DEFAULTS.adaptive.busyWindowMs) : undefined
  const adaptive = pinned === undefined ? new AdaptiveLimit({
    ...(options.concurrencyMin ? { min: options.concurrencyMin } : {}), ...(options.concurrencyMax ? { max: options.concurrencyMax } : {}),
    ...(busy ? { busy: () => growing?.inline === false ? 0 : busy.share() } : {}),
  }) : undefined
  const destination = createDestination(options.to, { s3: { ...options.s3 } })
  const checksum = options.checksum ?? locatorKind(options.to) === 's3'
  // Every redirect obeys the allow-list: while catalogs are read, the hosts named on the command line; once sources
  // are planned, those plus the hosts of the classes a local catalog names.
  let allow = namedHosts(options.sources, options.catalogs ?? [], options.allowHosts)
  const router = new SourceRouter({
    ...(options.s3 ? { s3: options.s3 } : {}), ...(options.stripPrefix ? { stripPrefix: options.stripPrefix } : {}),
    http: { connections: TRANSFER_DEFAULTS.embedded.crawlConnections, allowRedirect: (u) => allow.allows(u) }, ...(limits ? { limits: sharedSourceLimits(limits) } : {}),
  })
  const signal = options.signal
  let executor: CopyExecutor | undefined
  let journalClosed = false
  // Copy workers start now: their module load overlaps planning and crawling. They get their settings (hosts
  // allowed, whether to look for files already there) once the plan is known.
  let handleResult: (id: number, outcome: CopyOutcome) => void = () => {}
  const startWorkers = (count: number): WorkerExecutor => new WorkerExecutor(undefined, count, (id, o) => handleResult(id, o), (err) => options.logger?.error({ err }, 'copy worker failed'))
  const pool = workers > 0 ? startWorkers(workers) : undefined
  executor = pool
  try {
    // --- plan ------------------------------------------------------------------------------------
    const planned = await planSources(options.sources, options.catalogs ?? [], router, { ...(signal ? { signal } : {}), ...(options.allowHosts ? { allowHosts: options.allowHosts } : {}) })
    const filter = new ClassFilter(options.classFilter)
    const plan = filterPlan(options.watch?.adoptRecording(planned) ?? planned, filter)
    // Every planned http(s) class is on a host named here: typed, a catalog's, --allow-host, or from a local catalog.
    allow = new HostAllowList([...plan.hosts, ...(options.allowHosts ?? [])])
    journal.addClasses(plan.classes)
    for (const s of plan.skipped) {
      journal.addClasses([{ id: s.id, source: s.source }])
      journal.recordCrawl(s.id, [], [], { reason: s.reason, message: s.message })
      events.emit('class-skipped', { classId: s.id, source: s.source, reason: s.reason, message: s.message })
    }
    const first = journal.getMeta('started') === undefined
    if (first) journal.setMeta('started', startedAt)
    const destEmpty = first && (await destination.isEmpty?.().catch(() => false)) === true

    // --- copy machinery ----------------------------------------------------------------------------
    // The queue is the journal's todo table: memory holds a page of it, whatever the size of the library.
    const queue = new JournalQueue(journal)
    // Files journaled by earlier runs: a class queues the ones still to copy once its crawl has settled it.
    const startRowid = journal.maxFileRowid()
    const inFlight = new Map<number, Item>()
    let nextId = 1
    let waitingRetry = 0
    let crawlDone = false
    let finish: () => void = () => {}
    const finished = new Promise<void>((r) => { finish = r })
    let drained: Array<() => void> = []
    const maxQueued = options.maxQueued ?? TRANSFER_DEFAULTS.embedded.maxQueued
    // A pinned --concurrency N: copy workers are handed up to 2N files; each keeps N / workers connections busy and
    // the rest waiting in its pool's queue, so it never idles while a result travels to this thread and the next job
    // back (a few ms, more while this thread is crawling). Adaptive: the pools allow the controller's max and the
    // files in flight are the limit itself, so what the controller measures is what it set.
    const connections = pinned ?? (adaptive as AdaptiveLimit).max
    let maxInFlight = pinned === undefined ? (adaptive as AdaptiveLimit).limit : pool ? pinned * 2 : pinned

    const config: CopyConfig = {
      to: options.to, allowHosts: allow.list(), connections, checksum, checkExisting: !destEmpty, ...(options.pipelining ? { pipelining: options.pipelining } : {}),
      ...(options.s3 ? { s3: options.s3 } : {}), ...(options.stripPrefix ? { stripPrefix: options.stripPrefix } : {}),
      ...(options.multipartThreshold ? { multipartThreshold: options.multipartThreshold } : {}), ...(limits ? { limits } : {}), ...(options.rewriteUri?.length ? { rewriteUri: options.rewriteUri } : {}),
    }
    const checkDone = (): void => {
      if (crawlDone && queue.backlog === 0 && inFlight.size === 0 && waitingRetry === 0) finish()
    }
    const pump = (): void => {
      if (signal?.aborted || !executor) return
      while (inFlight.size < maxInFlight) {
        const item = queue.takeNow()
        if (!item) break
        const id = nextId++
        if (id === 1) events.emit('first-copy', { classId: item.classId, key: item.ref.key })
        inFlight.set(id, item)
        item.attempts++
        item.sentAt = performance.now()
        item.sentWith = inFlight.size
        executor.run({ id, ref: item.ref })
      }
      if (drained.length > 0 && queue.backlog < maxQueued / 2) { const w = drained; drained = []; for (const f of w) f() }
      checkDone()
    }
    const onResult = (id: number, outcome: CopyOutcome): void => {
      const item = inFlight.get(id)
      if (!item || journalClosed) return
      const change = adaptive && (outcome.ok ? adaptive.onComplete(outcome.bytes, performance.now() - item.sentAt, inFlight.size, item.sentWith)
        : isOverload(outcome.code) ? adaptive.onOverload(outcome.retryAfterMs) : undefined)
      // Slow start moves the limit by one copy at a time and announces it once per round.
      if (adaptive) maxInFlight = adaptive.limit
      if (change) events.emit('concurrency', change)
      inFlight.delete(id)
      if (outcome.ok) {
        journal.record({ key: item.ref.key, state: outcome.skipped ? 'skipped-present' : 'copied', size: outcome.bytes, attempts: item.attempts,
          ...(outcome.etag ? { etag: outcome.etag } : {}), ...(outcome.md5 ? { md5: outcome.md5 } : {}), ...(outcome.rewritten ? { rewritten: true } : {}) })
        events.emit('copied', { classId: item.classId, key: item.ref.key, bytes: outcome.bytes, skipped: outcome.skipped, kind: item.ref.kind })
      } else if (outcome.retryable && item.attempts <= retries && !signal?.aborted) {
        const wait = Math.max(outcome.retryAfterMs ?? 0, computeBackoff(item.attempts - 1, { baseMs: options.retryBaseMs ?? TRANSFER_DEFAULTS.embedded.retryBaseMs, maxMs: options.retryMaxMs ?? TRANSFER_DEFAULTS.embedded.retryMaxMs }))
        events.emit('retry', { classId: item.classId, key: item.ref.key, attempt: item.attempts, code: outcome.code, message: outcome.message, delayMs: wait })
        waitingRetry++
        // After the backoff the file goes to the FRONT: its class should not wait behind newer work.
        const t = setTimeout(() => { waitingRetry--; queue.pushFront(item); pump() }, wait)
        signal?.addEventListener('abort', () => { clearTimeout(t); waitingRetry--; checkDone() }, { once: true })
      } else {
        const state = outcome.code === TRANSFER_CODES.NOT_FOUND ? 'missing' : 'failed'
        journal.record({ key: item.ref.key, state, code: outcome.code, message: outcome.message, attempts: item.attempts })
        events.emit('failed', { classId: item.classId, key: item.ref.key, code: outcome.code, message: outcome.message })
      }
      pump()
    }
    handleResult = onResult
    // Copy workers sign their PUTs with the coordinator's credentials when these do not expire, so that they need not
    // load the S3 SDK to resolve their own; a failure here leaves each worker to its own provider chain.
    const portable = (pool || auto) && config.s3?.credentials === undefined ? await portableCredentials(destination) : undefined
    if (portable) config.s3 = { ...config.s3, credentials: portable }
    if (auto) {
      executor = growing = new GrowingExecutor(config, onResult, {
        createPool: () => startWorkers(growTo), queued: () => queue.backlog, crawling: () => !crawlDone,
        // As with workers from the start: a pinned N hands the workers up to 2N files.
        onGrow: () => { if (pinned !== undefined) maxInFlight = pinned * 2; options.logger?.info({ workers: growTo }, 'copies moved to worker threads') },
      })
    } else if (pool) pool.configure(config)
    else if (!dryRun) executor = new InlineExecutor(config, onResult)
    const onAbort = (): void => { const w = drained; drained = []; for (const f of w) f(); finish() }
    signal?.addEventListener('abort', onAbort, { once: true })

    // --- crawl (feeds the queue) -------------------------------------------------------------------
    events.emit('phase', { phase: 'crawl' })
    /** Starts copies of what was just queued; the crawl waits while more than maxQueued files wait to be taken. */
    const queued = async (n: number): Promise<void> => {
      queue.added(n)
      pump()
      if (!dryRun && queue.backlog > maxQueued) await new Promise<void>((r) => { drained.push(r) })
    }
    const crawlOne = async (entry: ClassEntry, known: { crawled: number; skipReason: string | null } | undefined): Promise<void> => {
      if (known?.crawled && !known.skipReason && !options.watch?.recrawl(journal, entry)) {
        await queued(journal.enqueueClass(entry.id, startRowid))
        return
      }
      events.emit('class-start', { classId: entry.id, source: entry.source })
      // A media playlist's files are queued as soon as it is parsed, when it is finished (EXT-X-ENDLIST, or
      // --allow-incomplete): copying starts while the class, and the run, are still being crawled. The master's own
      // files (the playlists, keys) wait for the end of the class, so a class found recording leaves none behind.
      let streamed = 0
      let recording = false
      const onPlaylist = (refs: FileRef[], p: { url: string; media: boolean; endlist: boolean }): boolean => {
        events.emit('playlist-parsed', { classId: entry.id, url: p.url, files: refs.length, media: p.media })
        if (!p.media || recording) return false
        if (!p.endlist && !options.allowIncomplete) { recording = true; return false }
        if (refs.length === 0) return true
        streamed += refs.length
        queue.added(journal.addFiles(entry.id, refs))
        pump()
        return true
      }
      const common = {
        allowHosts: allow, retries, ...(options.stripPrefix ? { stripPrefix: options.stripPrefix } : {}), keyFor: keyFunctionFor(entry, options.stripPrefix),
        ...(options.maxPlaylistBytes ? { maxPlaylistBytes: options.maxPlaylistBytes } : {}), ...(options.maxFilesPerClass ? { maxFiles: options.maxFilesPerClass } : {}),
        ...(options.maxDepth !== undefined ? { maxDepth: options.maxDepth } : {}), ...(options.allowIncomplete ? { allowIncomplete: true } : {}),
        ...(signal ? { signal } : {}),
      }
      let crawl: CrawlResult
      const texts = options.watch?.tap(router) ?? router
      try {
        crawl = isPlaylistLocator(entry.source)
          ? await crawlClass(entry, { ...common, fetchText: (l, o) => texts.getText(l, o), onPlaylist })
          : await crawlPrefix(entry, texts, common)
      } catch (err) {
        if (signal?.aborted) return
        crawl = { classId: entry.id, files: [], problems: [{ source: entry.source, code: (err as { code?: string }).code ?? TRANSFER_CODES.INTERNAL, message: (err as Error).message }], complete: false, skipReason: 'invalid-entry' }
      }
      if (crawl.skipReason) {
        const message = crawl.problems[0]?.message ?? (crawl.skipReason === 'recording' ? `class ${entry.id} has media playlists without EXT-X-ENDLIST (still recording)` : crawl.skipReason)
        journal.recordCrawl(entry.id, [], crawl.problems, { reason: crawl.skipReason, message })
        // Segments of its finished playlists may be copied already; the rest stay uncopied (a file another class also
        // references passes to that class).
        if (streamed > 0) { queue.withdraw(entry.id); queue.added(journal.withdrawClass(entry.id, queue.readSeq)) }
        events.emit('class-skipped', { classId: entry.id, source: entry.source, reason: crawl.skipReason, message })
        return
      }
      let fresh = journal.recordCrawl(entry.id, crawl.files, crawl.problems).length
      options.watch?.settle(journal, entry.id, crawl)
      // Files of this class from an earlier run (or put back by a --watch cycle), still to copy.
      if (startRowid > 0) fresh += journal.enqueueClass(entry.id, startRowid)
      events.emit('discovered', { classId: entry.id, files: crawl.files.length + streamed, bytes: crawl.files.reduce((a, f) => a + (f.size ?? 0), 0), problems: crawl.problems.length })
      await queued(fresh)
    }
    const known = new Map(journal.classes().map((c) => [c.id, c]))
    const skippedIds = new Set(plan.skipped.map((s) => s.id))
    const toCrawl = plan.classes.filter((c) => !skippedIds.has(c.id))
    const crawlers = Math.min(TRANSFER_DEFAULTS.embedded.crawlers, Math.max(1, toCrawl.length))
    let next = 0
    await Promise.all(Array.from({ length: crawlers }, async () => {
      while (next < toCrawl.length && !signal?.aborted) {
        const entry = toCrawl[next++] as ClassEntry
        await crawlOne(entry, known.get(entry.id))
      }
    }))
    crawlDone = true
    events.emit('phase', { phase: 'copy' })
    if (dryRun) {
      for (let item = queue.takeNow(); item; item = queue.takeNow()) {
        events.emit('planned', { classId: item.classId, key: item.ref.key, source: item.ref.source, kind: item.ref.kind, ...(item.ref.size !== undefined ? { size: item.ref.size } : {}) })
      }
    } else {
      pump()
      checkDone()
      await finished
    }
    signal?.removeEventListener('abort', onAbort)
    await executor?.close()
    executor = undefined
    journal.flush()
    if (signal?.aborted) throw new TransferError(TRANSFER_CODES.ABORTED, `run ${run} interrupted; run the same command again to continue`)

    // --- verify ------------------------------------------------------------------------------------
    if (!dryRun) {
      events.emit('phase', { phase: 'verify' })
      await verifyAll(journal, destination, { checksum, ...(signal ? { signal } : {}) }, events)
    }

    // --- report ------------------------------------------------------------------------------------
    events.emit('phase', { phase: 'report' })
    const report = reportFromJournal(journal, {
      dryRun, run, destination: destination.describe(), startedAt,
      ...(filter.empty ? {} : { filtered: filter.summary(plan.filtered) }), ...(options.rewriteUri?.length ? { rewriting: true } : {}),
    })
    const final = { mode: adaptive ? 'auto' as const : 'fixed' as const, limit: adaptive?.limit ?? (pinned as number), ...(adaptive ? adaptive.range : {}) }
    report.concurrency = final
    if (options.reportFile) await writeJournalReport(options.reportFile, report, journal)
    for (const c of report.classes) events.emit('class-done', c)
    events.emit('done', report)
    return report
  } finally {
    busy?.stop()
    await executor?.close().catch(() => undefined)
    journalClosed = true
    journal.close()
    await router.close().catch(() => undefined)
    await destination.close?.().catch(() => undefined)
  }
}
