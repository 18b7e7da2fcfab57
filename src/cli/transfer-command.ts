// `colony transfer <source…> --to <dest>`: the embedded engine in one process, with a progress bar, a
// terminal summary, --json NDJSON progress and a --report file. Distributed runs live in
// transfer-distributed-command.ts (routed here by subcommand or --redis).
import { EventEmitter } from 'node:events'
import module from 'node:module'
import { bool, formatHelp, list, num, parseCommand, str, type CommandSpec } from '../shared/cli-options.ts'
import { UsageError, describeError } from '../shared/errors.ts'
import { parseDuration, parseSize } from '../shared/units.ts'
import { compileGlob, type ClassFilterSpec } from '../transfer/core/class-filter.ts'
import { defaultCopyWorkers, TRANSFER_DEFAULTS } from '../transfer/defaults.ts'
import { TransferError, TRANSFER_CODES } from '../transfer/errors.ts'
import { limitRates, type LimitSpec } from '../transfer/core/limits/source-limits.ts'
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE } from './exit-codes.ts'
import { parseRewriteRules, type RewriteRule } from '../transfer/core/rewrite-uri.ts'
import type { TransferEvents } from '../transfer/core/events.ts'
import type { TransferOptions } from '../transfer/embedded/engine.ts'

// bin/colony.js enables Node's compile cache before anything is imported; enabling it here again is a no-op
// there and keeps programmatic callers of this module (tests, the demo) on the cache too. Copy workers get it too.
module.enableCompileCache?.()

/** A byte count as a --help default that parseSize reads back: 16777216 → "16MiB". */
export function sizeText(bytes: number): string {
  for (const [unit, n] of [['GiB', 1024 ** 3], ['MiB', 1024 ** 2], ['KiB', 1024]] as const) if (bytes >= n && bytes % n === 0) return `${bytes / n}${unit}`
  return String(bytes)
}

/** Milliseconds as a --help default that parseDuration reads back: 5000 → "5s". */
export function durationText(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`
}

const E = TRANSFER_DEFAULTS.embedded
const CRAWL = TRANSFER_DEFAULTS.crawl

/** Ctrl-C: the journal keeps what is done; the same command continues. */
export const EXIT_INTERRUPTED = 130

/** --include-class / --exclude-class, shared with the distributed submit. */
export const CLASS_FILTER_OPTIONS: CommandSpec['options'] = {
  'include-class': { type: 'list', description: 'take only classes whose id matches this glob (repeatable; * stays within a /-segment, ** crosses /)', placeholder: 'glob' },
  'exclude-class': { type: 'list', description: 'leave out classes whose id matches this glob (repeatable; beats --include-class)', placeholder: 'glob' },
}

/** --bwlimit and --max-rps, shared with the distributed submit command. */
export const LIMIT_OPTIONS: CommandSpec['options'] = {
  bwlimit: { type: 'string', description: 'bytes/s read from the sources, all copies and crawling together: 5M, 512K (K/M/G = 1000s, KiB/MiB = 1024s), off; or a timetable in local time "08:00,20M 19:00,off" / "Mon-08:00,5M Sat-00:00,off"', placeholder: 'rate|timetable' },
  'max-rps': { type: 'number', description: 'requests/s to the sources (every GET and HEAD, crawling included), all copies together', placeholder: 'n' },
}

/** --bwlimit / --max-rps as engine options; a malformed value is a UsageError (exit 2) before anything runs. */
export function parseLimitArgs(p: ReturnType<typeof parseCommand>): LimitSpec {
  const spec: LimitSpec = { ...(str(p, 'bwlimit') !== undefined ? { bwlimit: str(p, 'bwlimit') as string } : {}), ...(num(p, 'max-rps') !== undefined ? { maxRps: num(p, 'max-rps') as number } : {}) }
  try { limitRates(spec) } catch (err) { throw new UsageError((err as Error).message) }
  return spec
}

export const TRANSFER_SPEC: CommandSpec = {
  name: 'colony transfer',
  usage: '<source…> --to <dest> [options]',
  summary: [
    'Copies whole HLS classes (master + variants + segments, keys, maps, parts…) from HTTP(S), S3 or a directory to a',
    'directory or S3, journals progress so a rerun continues, verifies every file at the destination and reports per',
    'class. Sources: playlist URLs, catalogs (.json/.ndjson or --catalog), s3://bucket/prefix, directories.',
  ].join('\n'),
  options: {
    to: { type: 'string', short: 't', description: 'destination: a directory or s3://bucket/prefix (required)', placeholder: 'dest' },
    catalog: { type: 'list', short: 'c', description: 'catalog file or URL: JSON array or NDJSON of {id, master, status} (repeatable)', placeholder: 'file|url' },
    'allow-host': { type: 'list', description: 'extra host playlists, redirects and remote catalogs may reference: host, host:port or *.domain (repeatable)', placeholder: 'host' },
    'strip-prefix': { type: 'string', description: 'leading path part dropped from every destination key', placeholder: 'path' },
    retries: { type: 'number', description: 'retries per file after the first attempt (to the front of the queue, with backoff)', default: E.retries },
    concurrency: { type: 'string', description: "copies in flight: 'auto' follows the goodput the copies achieve (429/503 lower it), a number pins it", default: String(E.concurrency), placeholder: 'auto|N' },
    'concurrency-min': { type: 'number', description: 'fewest copies in flight with --concurrency auto', default: TRANSFER_DEFAULTS.adaptive.min },
    'concurrency-max': { type: 'number', description: 'most copies in flight with --concurrency auto', default: TRANSFER_DEFAULTS.adaptive.max },
    pipelining: { type: 'number', description: 'GETs in flight on one connection to an HTTP origin (HTTP/1.1 pipelining; 1 = off): saves CPU per file on an origin of small files that handles it', default: TRANSFER_DEFAULTS.http.pipelining },
    workers: { type: 'string', description: `copy worker threads: 'auto' copies on the main thread and moves the copies to ${defaultCopyWorkers()} threads (one per core but one, two on 2 cores, none on 1) once it is busy; a number starts that many (0 = the main thread copies)`, default: 'auto', placeholder: 'auto|N' },
    state: { type: 'string', description: 'directory for journals', default: E.stateDir, placeholder: 'dir' },
    run: { type: 'string', description: 'journal name (default: derived from sources + destination); the same name resumes', placeholder: 'name' },
    report: { type: 'string', description: 'write the JSON report to this file', placeholder: 'file' },
    json: { type: 'boolean', description: 'NDJSON progress events on stdout (last line: {"type":"done","report":…})' },
    'dry-run': { type: 'boolean', short: 'n', description: 'crawl and list what would be copied; copy nothing' },
    checksum: { type: 'boolean', description: 'MD5 every body (on by default for S3 destinations; directories re-hash at verification)' },
    's3-endpoint': { type: 'string', description: 'S3-compatible endpoint (MinIO, R2, s3rver…); AWS_ENDPOINT_URL also works', placeholder: 'url' },
    's3-region': { type: 'string', description: `S3 region (default: AWS_REGION or ${TRANSFER_DEFAULTS.s3.region})`, placeholder: 'region' },
    'multipart-threshold': { type: 'string', description: 'S3 uploads at least this big go multipart', default: sizeText(TRANSFER_DEFAULTS.s3.multipartThreshold), placeholder: 'size' },
    'max-playlist-size': { type: 'string', description: 'bigger playlists are refused', default: sizeText(CRAWL.maxPlaylistBytes), placeholder: 'size' },
    'max-files-per-class': { type: 'number', description: 'a class referencing more files is cut off and reported', default: CRAWL.maxFilesPerClass },
    'max-depth': { type: 'number', description: 'playlist nesting limit (master → media = 1)', default: CRAWL.maxDepth },
    'allow-incomplete': { type: 'boolean', description: 'copy classes without EXT-X-ENDLIST instead of skipping them as recording' },
    progress: { type: 'boolean', description: 'progress bar (default: on when stderr is a TTY and --json is off)' },
    ...CLASS_FILTER_OPTIONS,
    watch: { type: 'string', description: `continuous sync: after each pass wait this long, re-read sources and copy new classes, new segments of recording playlists and changed playlists; runs until Ctrl-C (bare --watch = ${durationText(E.watchIntervalMs)})`, placeholder: 'interval' },
    ...LIMIT_OPTIONS,
    'rewrite-uri': { type: 'list', description: 'in copied playlists, absolute URIs starting with FROM start with TO instead; segments stay byte-identical (repeatable; longest FROM wins)', placeholder: 'FROM=TO' },
  },
  epilog: [
    'Distributed mode: `colony transfer … --redis <url>` and `colony transfer worker|status|dashboard|lambda` (see their --help).',
    '',
    'Examples:',
    '  colony transfer https://cdn.example.com/v/123/master.m3u8 --to ./copy',
    '  colony transfer --catalog classes.ndjson --to s3://new-bucket/hls --strip-prefix vod',
    '  colony transfer s3://old-bucket/hls --to s3://new-bucket/hls --s3-endpoint http://127.0.0.1:9000',
    "  colony transfer --catalog classes.ndjson --to ./copy --include-class '2024/**' --exclude-class '*/test-*'",
    '  colony transfer --catalog classes.ndjson --to ./copy --watch 30s',
    '  colony transfer --catalog classes.ndjson --to ./copy --bwlimit "08:00,5M 19:00,off" --max-rps 50',
    '  colony transfer --catalog classes.ndjson --to ./copy --rewrite-uri https://old-cdn.example.com/=https://new-cdn.example.com/',
    '  colony transfer check --catalog classes.ndjson --to ./copy   (compare without copying; see colony transfer check --help)',
    '',
    'Class filters are part of the derived journal name: each wave resumes its own journal.',
    '',
    'Exit codes: 0 every referenced file verified at the destination; 1 something missing, failed or unverified',
    '(see the report); 2 usage error; 130 interrupted (run the same command again to continue). A --watch stopped',
    'between two cycles exits with the last cycle\'s 0 or 1.',
  ].join('\n'),
}

const DISTRIBUTED_SUBCOMMANDS = new Set(['worker', 'status', 'dashboard', 'lambda'])

function wantsDistributed(argv: string[]): boolean {
  if (argv[0] && DISTRIBUTED_SUBCOMMANDS.has(argv[0])) return true
  return argv.some((a) => a === '--redis' || a.startsWith('--redis=')) || Boolean(process.env.COLONY_REDIS)
}

/** --rewrite-uri values as rules; a malformed one is a usage error (exit 2) before anything runs. */
export function rewriteRulesOption(specs: string[]): RewriteRule[] | undefined {
  if (specs.length === 0) return undefined
  try { return parseRewriteRules(specs) } catch (err) { throw new UsageError((err as Error).message) }
}

export function sizeOption(value: string | undefined, flag: string): number | undefined {
  if (value === undefined) return undefined
  try { return parseSize(value) } catch { throw new UsageError(`--${flag}: not a size: "${value}"`) }
}

export function positiveInt(value: number | undefined, flag: string, min: number): number | undefined {
  if (value === undefined) return undefined
  if (!Number.isInteger(value) || value < min) throw new UsageError(`--${flag} wants an integer ≥ ${min}, got ${value}`)
  return value
}

/** --include-class / --exclude-class, each glob checked so a typo is a usage error before anything runs. */
export function classFilterOption(include: string[], exclude: string[]): ClassFilterSpec | undefined {
  if (include.length === 0 && exclude.length === 0) return undefined
  for (const [flag, globs] of [['include-class', include], ['exclude-class', exclude]] as const) {
    for (const g of globs) { try { compileGlob(g) } catch (err) { throw new UsageError(`--${flag}: ${(err as Error).message}`) } }
  }
  return { include, exclude }
}

/** A bare --watch (no value, or a flag or source after it) gets the default interval. */
function fillBareWatch(argv: string[]): string[] {
  return argv.flatMap((a, i) => a === '--watch' && !/^\d/.test(argv[i + 1] ?? '') ? [a, durationText(E.watchIntervalMs)] : [a])
}

/** --workers: 'auto' (the default) or an integer ≥ 0. */
function workersOption(value: string | undefined): number | 'auto' {
  if (value === undefined || value === 'auto') return 'auto'
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0) throw new UsageError(`--workers wants 'auto' or an integer ≥ 0, got ${value}`)
  return n
}

/** --concurrency: 'auto' (the default) or an integer ≥ 1. */
function concurrencyOption(value: string | undefined): number | 'auto' {
  if (value === undefined || value === 'auto') return 'auto'
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`--concurrency wants 'auto' or an integer ≥ 1, got ${value}`)
  return n
}

/**
 * The options `colony transfer` and `colony transfer check` share: what to read, where to, and the crawl's limits
 * (UsageError → exit 2). `command` names the --help to point at.
 */
export function parseSourceArgs(p: ReturnType<typeof parseCommand>, command: string): Pick<TransferOptions,
  'sources' | 'catalogs' | 'to' | 'allowHosts' | 'stripPrefix' | 's3' | 'maxPlaylistBytes' | 'maxFilesPerClass' | 'maxDepth' | 'allowIncomplete' | 'rewriteUri'> {
  const to = str(p, 'to')
  const catalogs = list(p, 'catalog')
  if (!to) throw new UsageError(`missing --to <dest> (a directory or s3://bucket/prefix; see ${command} --help)`)
  if (p.positionals.length === 0 && catalogs.length === 0) throw new UsageError(`name at least one source (playlist URL, s3://bucket/prefix, directory) or --catalog (see ${command} --help)`)
  const endpoint = str(p, 's3-endpoint')
  const region = str(p, 's3-region')
  const maxPlaylistBytes = sizeOption(str(p, 'max-playlist-size'), 'max-playlist-size')
  const rewriteUri = rewriteRulesOption(list(p, 'rewrite-uri'))
  return {
    sources: p.positionals, catalogs, to, allowHosts: list(p, 'allow-host'),
    ...(str(p, 'strip-prefix') ? { stripPrefix: str(p, 'strip-prefix') as string } : {}),
    s3: { ...(endpoint ? { endpoint } : {}), ...(region ? { region } : {}) },
    ...(maxPlaylistBytes !== undefined ? { maxPlaylistBytes } : {}),
    maxFilesPerClass: positiveInt(num(p, 'max-files-per-class'), 'max-files-per-class', 1) ?? CRAWL.maxFilesPerClass,
    maxDepth: positiveInt(num(p, 'max-depth'), 'max-depth', 0) ?? CRAWL.maxDepth,
    allowIncomplete: bool(p, 'allow-incomplete'),
    ...(rewriteUri ? { rewriteUri } : {}),
  }
}

/** Parses argv into runTransfer options (UsageError → exit 2). Exported for tests and the demo. */
export function parseTransferArgs(argv: string[], env: NodeJS.ProcessEnv = process.env): { options: TransferOptions; json: boolean; report?: string; progress?: boolean; help: boolean; watchMs?: number } {
  const p = parseCommand(TRANSFER_SPEC, fillBareWatch(argv), env)
  if (p.help) return { options: { sources: [], to: '' }, json: false, help: true }
  const checksum = p.values.checksum
  const multipartThreshold = sizeOption(str(p, 'multipart-threshold'), 'multipart-threshold')
  const classFilter = classFilterOption(list(p, 'include-class'), list(p, 'exclude-class'))
  const options: TransferOptions = {
    ...parseSourceArgs(p, 'colony transfer'),
    retries: positiveInt(num(p, 'retries'), 'retries', 0) ?? E.retries,
    concurrency: concurrencyOption(str(p, 'concurrency')),
    concurrencyMin: positiveInt(num(p, 'concurrency-min'), 'concurrency-min', 1) ?? TRANSFER_DEFAULTS.adaptive.min,
    concurrencyMax: positiveInt(num(p, 'concurrency-max'), 'concurrency-max', 1) ?? TRANSFER_DEFAULTS.adaptive.max,
    pipelining: positiveInt(num(p, 'pipelining'), 'pipelining', 1) ?? TRANSFER_DEFAULTS.http.pipelining,
    workers: workersOption(str(p, 'workers')),
    stateDir: str(p, 'state') ?? E.stateDir,
    ...(str(p, 'run') ? { run: str(p, 'run') as string } : {}),
    dryRun: bool(p, 'dry-run'),
    ...(typeof checksum === 'boolean' ? { checksum } : {}),
    ...(multipartThreshold !== undefined ? { multipartThreshold } : {}),
    ...(classFilter ? { classFilter } : {}),
    ...parseLimitArgs(p),
  }
  const watch = str(p, 'watch')
  const watchMs = watch === undefined ? undefined : parseDuration(watch)
  if (watchMs !== undefined && watchMs <= 0) throw new UsageError(`--watch wants an interval above 0, got "${watch}"`)
  if (watchMs !== undefined && options.dryRun) throw new UsageError('--watch and --dry-run do not go together')
  if (options.run !== undefined && !/^[\w.-]+$/.test(options.run)) throw new UsageError(`--run "${options.run}" may only hold letters, digits, '.', '_' and '-'`)
  const report = str(p, 'report')
  const progress = p.values.progress
  return { options, json: bool(p, 'json'), ...(report ? { report } : {}), ...(typeof progress === 'boolean' ? { progress } : {}), help: false, ...(watchMs !== undefined ? { watchMs } : {}) }
}

export async function run(argv: string[]): Promise<number> {
  // libuv's io_uring path runs open/rename/close inline on the calling thread; with thousands of small files that
  // costs more CPU than the thread pool (about 30% more CPU time per run). libuv reads this once, at the
  // first asynchronous fs call, which has not happened yet when a command starts. The user's setting wins.
  process.env.UV_USE_IO_URING ??= '0'
  if (argv[0] === 'check') return (await import('./transfer-check-command.ts') as { run: (argv: string[]) => Promise<number> }).run(argv.slice(1))
  if (wantsDistributed(argv)) {
    const mod = await import('./transfer-distributed-command.ts') as { runDistributed: (argv: string[]) => Promise<number> }
    return mod.runDistributed(argv)
  }
  const parsed = parseTransferArgs(argv)
  if (parsed.help) { process.stdout.write(formatHelp(TRANSFER_SPEC)); return EXIT_OK }
  const [{ runTransfer }, { formatSummary }, { attachJsonLines }, { formatCycle, watchTransfer }, { capYoungGeneration }, { limitHeapGrowth }] = await Promise.all([
    import('../transfer/embedded/engine.ts'), import('../transfer/core/report.ts'), import('../transfer/embedded/progress.ts'), import('../transfer/embedded/watch.ts'),
    import('../transfer/embedded/young-generation.ts'), import('../transfer/embedded/heap-growth.ts'),
  ])
  // The process is this run's: its memory stays flat however long the run and whatever the size of the library
  // (see young-generation.ts and heap-growth.ts).
  capYoungGeneration(E.mainYoungGenerationMb)
  limitHeapGrowth(E.heapGrowingPercent)
  const { options, json } = parsed
  const events = new EventEmitter<TransferEvents>()
  const controller = new AbortController()
  let interrupts = 0
  const onSignal = (): void => {
    interrupts++
    if (interrupts > 1) process.exit(EXIT_INTERRUPTED)
    process.stderr.write('\ncolony transfer: stopping (journal kept; run the same command to continue; Ctrl-C again to quit now)\n')
    controller.abort(new TransferError(TRANSFER_CODES.ABORTED, 'interrupted'))
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)
  if (json) attachJsonLines(events)
  const showBar = parsed.progress ?? (!json && process.stderr.isTTY === true)
  const bar = showBar ? await (await import('../transfer/embedded/progress-bar.ts')).attachProgressBar(events) : undefined
  if (options.dryRun && !json) {
    events.on('planned', (e) => process.stdout.write(`${e.key}\t${e.source}\n`))
  }
  // --watch repeats each skip every cycle: it is said once.
  const said = new Set<string>()
  if (!json) {
    events.on('class-skipped', (e) => { if (!bar && !said.has(`${e.classId}\0${e.reason}`)) { said.add(`${e.classId}\0${e.reason}`); process.stderr.write(`skipped ${e.classId} (${e.reason}): ${e.message}\n`) } })
  }
  if (parsed.watchMs !== undefined) {
    if (!json) events.on('cycle', (e) => process.stdout.write(formatCycle(e)))
  }
  try {
    // The engine writes --report itself (after every cycle with --watch), streaming every missing file from its journal.
    const run = { ...options, events, signal: controller.signal, ...(parsed.report ? { reportFile: parsed.report } : {}) }
    const report = parsed.watchMs === undefined ? await runTransfer(run) : await watchTransfer({ ...run, intervalMs: parsed.watchMs })
    if (!report) throw new TransferError(TRANSFER_CODES.ABORTED, 'interrupted')
    bar?.stop()
    if (!json) process.stdout.write(formatSummary(report))
    return report.ok ? EXIT_OK : EXIT_FAILURE
  } catch (err) {
    bar?.stop()
    if (controller.signal.aborted) {
      process.stderr.write(`colony transfer: interrupted; run the same command again to continue\n`)
      return EXIT_INTERRUPTED
    }
    if (err instanceof TransferError && (err.code === TRANSFER_CODES.BAD_CATALOG || err.code === TRANSFER_CODES.BAD_LOCATOR)) {
      process.stderr.write(`colony transfer: ${describeError(err)}\n`)
      return EXIT_USAGE
    }
    throw err
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
