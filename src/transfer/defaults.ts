// Every default of the transfer subsystem, in one typed object: what the CLI's --help prints and what the code
// falls back to when an option is not given. Sizes are in bytes, durations in milliseconds. The number of copy
// worker threads is not here: it depends on the machine the run is on (defaultCopyWorkers()).
import os from 'node:os'

/**
 * Copy worker threads a run may use: one per core but one from 3 cores on, two on 2 cores, none on 1 core, where
 * the main thread copies. The main thread crawls, journals and hands out files. With `--workers auto` (the default)
 * the threads start, and take the copies, only once the main thread is busy, a core is idle and enough is left to
 * copy (growing-executor.ts, `embedded.grow`). A worker costs a fixed 0.1–0.2 CPU-s to start (its own Node and module
 * graph) and a message per batch of outcomes; two workers copy on both cores: ~1.9 GB of 50–200 KB files in 2.67 s
 * against 3.67 s with the main thread copying, 2 MB segments in 1.26 s against 1.75 s, 500k tiny files in 50 s
 * against 3 min 24 s; one worker is slower than two (docs/benchmarks/transfer.md).
 */
export function defaultCopyWorkers(): number {
  const cores = os.availableParallelism()
  return cores <= 1 ? 0 : Math.max(2, cores - 1)
}

const MiB = 1024 * 1024

type Value = number | string
type Section = Readonly<Record<string, Value | Readonly<Record<string, Value>>>>

export const TRANSFER_DEFAULTS = {
  /** Reading playlists and catalogs (both engines). */
  crawl: {
    /** Bigger playlists are refused (TRANSFER_PLAYLIST_TOO_LARGE); --max-playlist-size. */
    maxPlaylistBytes: 16 * MiB,
    /** A class referencing more files is cut off (TRANSFER_TOO_MANY_FILES); --max-files-per-class. */
    maxFilesPerClass: 1_000_000,
    /** Playlist nesting limit, master → media = 1; --max-depth. */
    maxDepth: 4,
    /** Playlists of one class fetched at once. */
    concurrency: 8,
    /** Attempts after the first for a playlist fetch that failed in a retryable way. */
    retries: 3,
    /** Backoff base between those attempts. */
    retryBaseMs: 200,
    /** A catalog read from a URL or S3 is refused past this size. */
    maxCatalogBytes: 256 * MiB,
    /** Files HEAD-checked at once when a --watch cycle re-crawls an HTTP class. */
    headConcurrency: 16,
  },
  /** Copying one file (both engines). */
  copy: {
    /** Bodies up to this size are read whole and written in one call; bigger ones stream. */
    bufferLimit: 4 * MiB,
  },
  /** HTTP(S) origins. */
  http: {
    /** Connections per origin (a run splits --concurrency across its copy workers). */
    connections: 64,
    /**
     * GETs sent on one connection before their answers (HTTP/1.1 pipelining); 1 sends one at a time. Off by default,
     * as in aria2 and browsers: some proxies and origins mishandle it, and a large file holds up the ones behind it.
     * On a trusted origin of small files it saves a write and a wake-up of the origin per file; --pipelining.
     */
    pipelining: 1,
    /**
     * With pipelining, an origin none of whose last 16 answers began within this many ms of its request being next in
     * line gets no pipelined requests until one does: it spends that time on each request in turn (think time, a
     * cache miss), and requests queued on one connection would wait for one another.
     */
    pipeliningMaxWaitMs: 20,
    /** Time to connect. */
    connectTimeoutMs: 10_000,
    /** Time to response headers. */
    headersTimeoutMs: 30_000,
    /** Longest idle time between two chunks of a body. */
    bodyTimeoutMs: 30_000,
    /** How long an idle keep-alive connection is kept. */
    keepAliveMs: 30_000,
    /** Redirect hops followed. */
    maxRedirects: 5,
    /** Bytes of one response head (status line and header fields), and header fields in it. */
    maxHeadBytes: 64 * 1024,
    maxHeaders: 200,
    /** Bytes of a non-2xx answer's body read (and dropped) to keep its connection; a longer one closes it. */
    maxDiscardBytes: 64 * 1024,
    /** Sent as User-Agent. */
    userAgent: 'colony-transfer',
  },
  /** S3 and S3-compatible stores (sources and destinations). */
  s3: {
    /** Region when neither the option nor AWS_REGION / AWS_DEFAULT_REGION gives one. */
    region: 'us-east-1',
    /** Sockets per client. */
    maxSockets: 64,
    /** Time to connect. */
    connectTimeoutMs: 10_000,
    /** Time for one request (headers of a GET, a whole PUT). */
    requestTimeoutMs: 120_000,
    /** How long an idle keep-alive connection of the lean PUT path is kept. */
    keepAliveMs: 30_000,
    /** Bodies at least this big (or of unknown size) are uploaded multipart; --multipart-threshold. */
    multipartThreshold: 16 * MiB,
    /** Part size of multipart uploads. */
    partSize: 8 * MiB,
    /** Parts uploaded at once per object. */
    partConcurrency: 4,
  },
  /** --bwlimit and --max-rps (both engines): token buckets shared by every copy thread, and by every worker through Redis. */
  limits: {
    /** Bytes a byte limit lets through above its rate: this many ms of the rate… */
    byteBurstMs: 100,
    /** …and at least this much (one read of a body). */
    minByteBurst: 64 * 1024,
    /** Requests a request limit lets through above its rate. */
    requestBurst: 1,
    /** A --bwlimit timetable is re-read this often, so a change of slot takes effect within this time. */
    scheduleCheckMs: 1000,
    /** Distributed workers take tokens from Redis in chunks of this many ms of the rate (fewer round trips). */
    leaseMs: 50,
  },
  /** Run reports. */
  report: {
    /** Missing files a terminal summary names (the JSON report names them all). */
    maxMissingShown: 20,
    /** Missing files a class of the embedded engine's report keeps in memory (the --report file names them all). */
    maxMissingPerClass: 1000,
  },
  /** `colony transfer check`: source and destination compared without copying. */
  check: {
    /** Files compared at once (each may HEAD or read the source, stat or re-hash the destination); --concurrency. */
    concurrency: 32,
    /** Findings a class keeps in the report (counts stay exact; --json streams every one). */
    maxItemsPerClass: 1000,
  },
  /** `--concurrency auto` (core/limits/adaptive-limit.ts): copies in flight follow the goodput they achieve. */
  adaptive: {
    /** Fewest copies in flight; --concurrency-min. */
    min: 8,
    /** Most copies in flight (also the connections the copy workers allow per origin); --concurrency-max. */
    max: 1024,
    /** Where the limit starts. */
    initial: 64,
    /** Shortest measurement window. */
    windowMs: 200,
    /** A window lasts at least this many mean copy latencies… */
    windowLatencies: 2,
    /** …and holds at least this many finished copies. */
    windowSamples: 20,
    /** A window whose mean copies in flight stay below this share of the limit did not test the limit. */
    fillFraction: 0.75,
    /**
     * Start (slow start): the limit grows by one per finished copy, at most doubling per round; a round lasts at least
     * this long, one mean copy latency and `windowSamples` copies.
     */
    roundMs: 50,
    /** Start: growth pauses while the last `windowSamples` copies took this many times the lowest such mean latency. */
    roundLatencyRise: 1.5,
    /**
     * Start: growth also pauses while the thread that runs the copies (the main thread with `--workers 0`) was busy
     * more than this share of the last `busyWindowMs`: copies it has no time for only wait longer and cost CPU.
     */
    busyMax: 0.9,
    /** How often that share is read (performance.eventLoopUtilization over the last window). */
    busyWindowMs: 100,
    /** Start: the limit keeps growing while a round's goodput beats the last round that gained by this share. */
    growGain: 0.1,
    /** Steady: a probe multiplies the limit by this… */
    probeUp: 1.25,
    /** …and is kept when goodput grows by this share. */
    probeGain: 0.05,
    /** A probe downwards multiplies the limit by this… */
    probeDown: 0.8,
    /** …and is kept when goodput stays at this share or more. */
    keepFraction: 0.95,
    /** An overload answer (429, 503, SlowDown) multiplies the limit by this, once per window. */
    backoff: 0.7,
    /** …and holds it at least this long (longer when Retry-After says so) before probing upwards. */
    holdMs: 1000,
    /** Probes upwards stop at this share of the limit that met the last overload… */
    nearCeiling: 0.9,
    /** …and go on from there in steps of this factor. */
    creep: 1.05,
  },
  /** The embedded engine: one process, a sqlite journal (`colony transfer <source…> --to <dest>`). */
  embedded: {
    /** Attempts after the first for a file that failed in a retryable way; --retries. */
    retries: 3,
    /** Copies in flight across all copy workers: 'auto' (TRANSFER_DEFAULTS.adaptive sets it) or a number; --concurrency. */
    concurrency: 'auto',
    /** Where journals live; --state. */
    stateDir: '.colony',
    /** Backoff base between a file's attempts. */
    retryBaseMs: 250,
    /** Backoff ceiling. */
    retryMaxMs: 30_000,
    /** Files queued (in the journal) and not yet taken above which crawling pauses. */
    maxQueued: 50_000,
    /** Queued files read from the journal at a time: what the copy queue holds in memory besides retries. */
    queuePage: 512,
    /** Copied files checked per page at verification (one listing merge or batched stat each). */
    verifyPage: 2000,
    /** Classes crawled at once. */
    crawlers: 4,
    /** HTTP connections per origin of the planning and crawling thread (copy workers have their own). */
    crawlConnections: 16,
    /** Files verified at once when each needs its own stat or re-hash. */
    verifyConcurrency: 32,
    /** Each copy worker keeps at least this many connections per origin. */
    minWorkerConnections: 4,
    /** Young generation of the CLI's main thread (MB, both semi-spaces) beyond which it stops growing. */
    mainYoungGenerationMb: 16,
    /** Young-generation size of each copy worker thread (MB): what bounds a worker's heap between collections. */
    workerYoungGenerationMb: 12,
    /**
     * Old-generation growing factor of the CLI's process, every thread (V8's --heap-growing-percent): a full
     * collection runs once an old generation has grown this share past what survived the last one.
     */
    heapGrowingPercent: 20,
    /**
     * `--workers auto` (growing-executor.ts): the copies move to worker threads once the main thread was busy at least
     * `busyShare` of `busyWindows` windows of `windowMs` in a row with at least `idleCores` of the machine's cores idle,
     * while the files queued would take at least `minLeftMs` at that window's rate (or the copies have run that long
     * and the crawl still goes on). Two workers take 0.3–0.6 s to start on 2 cores, and the copies slow while they do.
     */
    grow: { busyShare: 0.9, idleCores: 0.4, windowMs: 100, busyWindows: 2, minLeftMs: 1500 },
    /** A copy worker that does not exit this long after it is asked to is terminated. */
    workerExitMs: 5000,
    /** The journal writes its buffered changes after this many… */
    journalFlushRows: 2000,
    /** …or this long after the first one, whichever comes first. */
    journalFlushMs: 250,
    /** Pause between two cycles of a bare --watch. */
    watchIntervalMs: 60_000,
  },
  /** The distributed engine: Redis-coordinated workers (`colony transfer … --redis`, `colony transfer worker`). */
  distributed: {
    /** Redis shared by the submitter and every worker; --redis. */
    redisUrl: 'redis://127.0.0.1:6379',
    /** Key prefix, separating colonies on one Redis; --prefix. */
    prefix: 'colony:transfer',
    /** Attempts after the first before a file is reported failed; --retries. */
    retries: 3,
    /** Files per copy job, and the most a job may hold; --batch-size. */
    batchSize: 100,
    /** Files a worker copies at once (local executor) or Lambda invocations in flight; --concurrency. */
    concurrency: 64,
    /** HTTP connections per origin per worker. */
    connections: 64,
    /** A job held this long without a heartbeat belongs to a dead worker and is taken over; --claim-idle. */
    claimIdleMs: 5000,
    /** Copy batches queued above which crawlers pause; --max-queued. */
    maxQueuedBatches: 2000,
    /** Classes a crawler crawls at once. */
    crawlerSlots: 4,
    /** Files per copy batch a copier settles in the time it takes one batch: copy batches held = concurrency / this + 1. */
    filesPerCopySlot: 50,
    /** Copy batches a copier holds at least. */
    minCopySlots: 2,
    /** Pause between two aggregation passes. */
    aggregateIntervalMs: 500,
    /** A consumer idle this long with nothing pending, or a worker silent this long, is removed. */
    housekeepingIdleMs: 3_600_000,
    /** How often one aggregator does that clean-up. */
    housekeepingEveryMs: 60_000,
    /** The run list a worker serves is re-read at most this often. */
    activeRunsTtlMs: 1000,
    /** Decoded class file lists a copier keeps in memory. */
    fileListCacheSize: 64,
    /** How long one blocking queue read waits. */
    queueBlockMs: 500,
    /** Worker heartbeat period. */
    heartbeatMs: 5000,
    /** A worker whose last heartbeat is older is not listed as alive. */
    workerAliveMs: 30_000,
    /** Time a stopping worker gives in-flight work before abandoning it to a reclaim. */
    stopGraceMs: 10_000,
    /** Re-scan interval of a bare --watch. */
    watchIntervalMs: 60_000,
    /** Local catalog files up to this size are inlined in the run at submit. */
    maxInlineCatalogBytes: 64 * MiB,
    /** /metrics and /healthz listen address of a worker; --metrics. */
    metricsAddress: '127.0.0.1:0',
    /** Progress refresh of the submit command's follow loop on a terminal. */
    followTtyMs: 500,
    /** The same when its output is not a terminal (one line each time). */
    followLogMs: 2000,
  },
  /** The live dashboard (`colony transfer dashboard`, submit --dashboard). */
  dashboard: {
    /** Bind address; --host. */
    host: '127.0.0.1',
    /** Port (0 = any free port); --port. */
    port: 7070,
    /** Redis poll period. */
    intervalMs: 500,
    /** Event streams one client address may hold open (more get 429). */
    maxStreamsPerIp: 8,
    /** Event streams open at once, all clients. */
    maxStreams: 256,
    /** Bytes a stream may leave unread before it is closed (a reader that stopped reading). */
    maxUnsentBytes: 4 * 1024 * 1024,
    /** Time to receive a request's head (headersTimeout) and whole request (requestTimeout). */
    requestTimeoutMs: 10_000,
  },
  /** Copier batches in AWS Lambda (--executor lambda). */
  lambda: {
    /** Region when neither the option nor AWS_REGION gives one. */
    region: 'us-east-1',
    /** Invocations in flight per worker. */
    concurrency: 16,
    /** Files copied at once inside one invocation. */
    filesPerInvocation: 16,
    /** The most files the handler copies at once, whatever the event asks. */
    maxFilesPerInvocation: 64,
    /** Port of `colony transfer lambda serve`, the local Invoke API. */
    localPort: 9001,
    /** Largest event the local Invoke API accepts (Lambda's own synchronous payload limit). */
    maxEventBytes: 6 * MiB,
  },
} as const satisfies Readonly<Record<string, Section>>

export type TransferDefaults = typeof TRANSFER_DEFAULTS
