// Every format transfer sends across a process or thread boundary, in one place: what the embedded engine posts to
// its copy worker threads, and what the distributed engine keeps in Redis, sends to AWS Lambda and streams to the
// dashboard page. Keys are named in distributed/redis/keys.ts; this module says what each key holds.
//
// Redis (prefix P, default "colony:transfer"; run R; class C):
//
// | key                      | type       | content                                                                  |
// |--------------------------|------------|--------------------------------------------------------------------------|
// | P:q:scan / crawl / copy / retry | stream | entries with one field `j` = ScanJob / CrawlJob / CopyBatchJob JSON  |
// | P:runs, P:active         | set        | run names: every run submitted / runs workers serve                      |
// | P:workers                | hash       | worker id → WorkerInfo JSON (heartbeat)                                  |
// | P:run:R:meta             | hash       | RunMeta fields (below)                                                   |
// | P:run:R:classes          | hash       | class id → ClassRecord JSON                                              |
// | P:run:R:count / cursor   | hash       | class id → files known / next file index to queue (decimal)              |
// | P:run:R:bytes / retries / skipped / version | hash | class id → bytes copied / retries / files already present / change counter |
// | P:run:R:stats            | hash       | RunStats fields (below), run-wide counters                               |
// | P:run:R:report           | string     | the final RunReport JSON                                                 |
// | P:run:R:lock:<name>      | string     | a holder's token (SET NX PX)                                             |
// | P:run:R:limit:bytes / requests | string | --bwlimit / --max-rps token bucket: µs at which it is full again (GCRA) |
// | P:run:R:c:C:done / fail  | bitmap     | bit i (SETBIT order) = file i verified at the destination / failed for good |
// | P:run:R:c:C:fp           | string     | 4 bytes per file (big-endian): fingerprintOf(etag, size), --watch runs only |
// | P:run:R:c:C:files        | list       | raw-deflated file-list chunks (line format in distributed/redis/file-list.ts) |
// | P:run:R:c:C:problems     | hash       | file index → FileProblem JSON; `crawl:<key or source>` → CrawlProblem JSON |
//
// Queue jobs keep one- and two-letter field names: a run of a million files queues tens of thousands of copy
// batches, and workers of one version must read entries a worker of another version queued. Each field is
// documented on its type; build jobs with the constructors below, which take readable names.
import type { CopyOutcome, FileRef, SkipReason } from './core/types.ts'
import type { CopyConfig, CopyJob } from './embedded/copy-executor.ts'

// ---- embedded engine: coordinator thread ⇄ copy worker threads (postMessage) ---------------------------------------

/** Coordinator → copy worker, in this order: `config` once, then `jobs` batches, then `close`. */
export type CopyWorkerRequest = { type: 'config'; config: CopyConfig } | { type: 'jobs'; jobs: CopyJob[] } | { type: 'close' }

/** Copy worker → coordinator: `ready` once its copier is built, then outcomes batched as [job id, outcome] pairs. */
export type CopyWorkerReply = { type: 'ready' } | { type: 'results'; results: Array<[number, CopyOutcome]> } | { type: 'fatal'; message: string }

// ---- distributed engine: run settings (P:run:R:meta, field `config`) ----------------------------------------------

/** The core options a run carries (plain JSON; no credentials — each worker uses its own AWS chain). */
export type CoreRunOptions = {
  allowHosts?: string[]
  stripPrefix?: string
  /** S3 endpoint/region/path-style for sources and destinations. */
  s3?: { endpoint?: string; region?: string; forcePathStyle?: boolean }
  checksum?: boolean
  multipartThreshold?: number
  maxPlaylistBytes?: number
  maxFilesPerClass?: number
  maxDepth?: number
  /** HTTP connections per origin per worker. @defaultValue TRANSFER_DEFAULTS.distributed.connections */
  connections?: number
  /** GETs in flight on one HTTP connection of the copies (HTTP/1.1 pipelining; 1: off). @defaultValue TRANSFER_DEFAULTS.http.pipelining */
  pipelining?: number
  /** Bytes/s read from the sources by the whole cluster: a rate or a timetable (core/limits/bwlimit-schedule.ts). */
  bwlimit?: string
  /** Requests/s to the sources by the whole cluster. */
  maxRps?: number
  /** IANA zone of the submitting machine: every worker reads the --bwlimit timetable in it. */
  timeZone?: string
  /** --rewrite-uri rules applied to copied playlists. @defaultValue none */
  rewriteUri?: Array<{ from: string; to: string }>
}

/** Run settings every worker must agree on, stored once at submit. Credentials never go in here. */
export type RunConfig = {
  run: string
  /** Sources as the user typed them (local catalog files are also inlined in the run meta as `inline:<index>`). */
  sources: string[]
  /** Destination: a directory or s3://bucket/prefix. */
  to: string
  /** Attempts after the first before a file is reported failed. */
  retries: number
  /** Files per copy job. */
  batchSize: number
  /** Re-scan interval in ms for continuous sync; absent = one-shot run. */
  watchMs?: number
  /** Where copier batches run. */
  executor: 'local' | 'lambda'
  /** Lambda function name or ARN when executor is lambda. */
  lambdaFunction?: string
  /** Options for the core's sources and destinations. */
  core: CoreRunOptions
  /** --include-class / --exclude-class globs (core/class-filter.ts); scanners leave other classes out. @defaultValue every class */
  classFilter?: { include?: string[]; exclude?: string[] }
  createdAt: string
}

/**
 * Fields of P:run:R:meta, all strings: `config` (RunConfig JSON), `createdAt`, `state` ('running' | 'finished'),
 * `gen` (scan generation, 1 at submit, +1 per --watch re-scan), `scanPending` (scan jobs not yet done),
 * `finishedAt`, `ok` ('1' | '0', once finished), `inline:<source index>` (text of a catalog file read at submit),
 * `filtered:<source index>` (classes of that source the class filter left out, at its latest scan).
 */
export type RunMeta = Partial<Record<'config' | 'createdAt' | 'state' | 'gen' | 'scanPending' | 'finishedAt' | 'ok', string>> & Record<`inline:${number}` | `filtered:${number}`, string>

/** Fields of P:run:R:stats (decimal strings): files verified, bytes copied, retries queued, files failed for good. */
export type RunStats = Partial<Record<'files' | 'bytes' | 'retries' | 'failed', string>>

// ---- distributed engine: queue jobs (stream field `j`) ------------------------------------------------------------

/** Scan one source of a run. */
export type ScanJob = {
  /** Run name. */
  r: string
  /** Index of the source in RunConfig.sources. */
  src: number
  /** Scan generation: 1 at submit, +1 per --watch re-scan. */
  g: number
}

/** Crawl one class. */
export type CrawlJob = {
  /** Run name. */
  r: string
  /** Class id. */
  c: string
  /** Scan generation that queued the crawl. */
  g: number
}

/** Copy (and verify) files of one class, named by their index in the class's file list. */
export type CopyBatchJob = {
  /** Run name. */
  r: string
  /** Class id. */
  c: string
  /** First index of a range batch. */
  s?: number
  /** End of a range batch (exclusive). */
  e?: number
  /** The indices of a list batch (retries, files changed at the origin); takes the place of s/e. */
  i?: number[]
  /** Attempt: 0 for the first. */
  a: number
  /** Not before (epoch ms): a retry waits for its backoff or the origin's Retry-After. */
  nb?: number
  /** Files changed at the origin (--watch): their new fingerprints, parallel to `i`; the stored validators are stale. */
  x?: number[]
}

export function scanJob(o: { run: string; source: number; generation: number }): ScanJob {
  return { r: o.run, src: o.source, g: o.generation }
}

export function crawlJob(o: { run: string; classId: string; generation: number }): CrawlJob {
  return { r: o.run, c: o.classId, g: o.generation }
}

/** A first-attempt batch of the files [from, to) of a class. */
export function copyRangeJob(o: { run: string; classId: string; from: number; to: number }): CopyBatchJob {
  return { r: o.run, c: o.classId, s: o.from, e: o.to, a: 0 }
}

/** A batch of listed files: a retry (attempt > 0, with a not-before time) or files changed at the origin. */
export function copyListJob(o: { run: string; classId: string; indices: number[]; attempt: number; notBefore?: number; fingerprints?: number[] }): CopyBatchJob {
  return {
    r: o.run, c: o.classId, i: o.indices, a: o.attempt,
    ...(o.notBefore !== undefined ? { nb: o.notBefore } : {}), ...(o.fingerprints ? { x: o.fingerprints } : {}),
  }
}

/** The file indices a copy batch names. */
export function indicesOf(job: CopyBatchJob): number[] {
  if (job.i) return job.i
  const out: number[] = []
  for (let k = job.s ?? 0; k < (job.e ?? 0); k++) out.push(k)
  return out
}

// ---- distributed engine: classes and problems ---------------------------------------------------------------------

/** Where a class is in a distributed run. */
export type ClassState = 'queued' | 'copying' | 'verified' | 'incomplete' | 'skipped' | 'failed'

export const FINISHED_STATES: ReadonlySet<ClassState> = new Set(['verified', 'incomplete', 'skipped', 'failed'])

/** One class of a run (P:run:R:classes value). */
export type ClassRecord = {
  id: string
  source: string
  /** Catalog status as given (ready, recording…). */
  status?: string
  state: ClassState
  skipReason?: SkipReason
  /** Why the class was skipped or failed, or the last crawl problem. */
  code?: string
  message?: string
  /** Still recording (no EXT-X-ENDLIST): re-crawled every --watch cycle, never finished. */
  live?: boolean
  /** Problems the crawl reported (referenced files that could not be fetched or listed). */
  problems?: number
  /** The scan vouched for this class's host (see ScanItem.trusted). */
  trusted?: boolean
  /** Scan generation that last queued a crawl of this class. */
  g?: number
}

/** A file that failed for good (problems hash, field = its index). */
export type FileProblem = { code: string; message: string; attempts: number }

/** A problem the crawl of a class reported (problems hash, field `crawl:<key or source>`). */
export type CrawlProblem = { source: string; key?: string; code: string; message: string }

/** A worker's heartbeat (P:workers value), refreshed every few seconds. */
export type WorkerInfo = { id: string; roles: string[]; host: string; pid: number; metrics?: string; seen: number }

// ---- distributed engine: AWS Lambda Invoke (copier → function → copier) -------------------------------------------

/** What a copier sends to the Lambda function for one batch (no credentials: Lambda uses its role). */
export type LambdaBatchEvent = {
  kind: 'colony-transfer-batch'
  config: Pick<RunConfig, 'run' | 'sources' | 'to' | 'retries' | 'core' | 'createdAt'> & { batchSize: number; executor: 'local' }
  classId: string
  attempt: number
  files: Array<{ i: number; ref: FileRef }>
  /** Files copied at once inside the function. */
  concurrency: number
}

/** The function's answer: one outcome per file (`i` = its index), in any order. */
export type LambdaBatchResult = { results: Array<{ i: number; outcome: CopyOutcome }> }

// ---- distributed engine: dashboard server → page (SSE events) -----------------------------------------------------

/**
 * One class on the dashboard (SSE event `classes`, an array of these). Short names, as the page reads them:
 * `n` files in the class; `o`/`h` the changed span of its done bitmap (byte offset, hex bytes); `fo`/`fh` the same
 * for its failed bitmap; `full` the spans are whole bitmaps (reset the class first). A finished class is sent
 * without bitmaps.
 */
export type DashboardClass = { id: string; n: number; state: string; live: boolean; o?: number; h?: string; fo?: number; fh?: string; full?: boolean }

/** SSE event `summary`: run-wide figures; `{ run: null }` when there is no run to show. */
export type DashboardSummary = {
  run: string | null; state?: string; classes?: number; finishedClasses?: number; files?: number; verified?: number; failed?: number
  bytes?: number; retries?: number; rate?: number; etaMs?: number | null; queues?: unknown; workers?: number; at?: number
}

/** SSE event `reset`: the page drops what it shows (another run, or a reconnect). */
export type DashboardReset = { run: string | null }
