// `colony transfer … --redis` and its subcommands: submit+follow, worker, status, dashboard, lambda package.
// transfer-command.ts routes here for argv[0] ∈ worker|status|dashboard|lambda, or when --redis is given.
import { writeFile } from 'node:fs/promises'
import { bool, formatHelp, list, num, parseCommand, str, type CommandSpec, type OptionSpec } from '../shared/cli-options.ts'
import { UsageError } from '../shared/errors.ts'
import { createLogger } from '../shared/logger.ts'
import { parseHostPort } from '../shared/http-ops.ts'
import { formatBytes, parseDuration } from '../shared/units.ts'
import { formatSummary } from '../transfer/core/report.ts'
import { createTransferCore, type TransferCoreOptions } from '../transfer/distributed/core-adapter.ts'
import type { DistributedCore } from '../transfer/distributed/core-port.ts'
import { startDashboard } from '../transfer/distributed/dashboard/server.ts'
import { followRun } from '../transfer/distributed/follow.ts'
import { createKeys } from '../transfer/distributed/redis/keys.ts'
import { buildLambdaPackage } from '../transfer/distributed/lambda/package.ts'
import { startLocalLambda } from '../transfer/distributed/lambda/local-server.ts'
import { closeRedis, createRedis } from '../transfer/distributed/redis/client.ts'
import { listRuns, listWorkers, readRunStatus } from '../transfer/distributed/status.ts'
import { inlineLocalFiles, storeInline, submitRun } from '../transfer/distributed/submit.ts'
import { startWorker, WORKER_ROLES, type Worker, type WorkerRole } from '../transfer/distributed/worker.ts'
import type { CoreRunOptions, RunConfig } from '../transfer/wire-format.ts'
import { TRANSFER_DEFAULTS } from '../transfer/defaults.ts'
import { EXIT_FAILURE, EXIT_OK } from './exit-codes.ts'
import { CLASS_FILTER_OPTIONS, classFilterOption, durationText, LIMIT_OPTIONS, parseLimitArgs, positiveInt, rewriteRulesOption } from './transfer-command.ts'

const D = TRANSFER_DEFAULTS.distributed
const DASH = TRANSFER_DEFAULTS.dashboard
const BARE_DASHBOARD = `${DASH.host}:${DASH.port}`

const COMMON: Record<string, OptionSpec> = {
  redis: { type: 'string', description: 'Redis URL shared by the submitter and every worker', default: D.redisUrl, placeholder: 'url' },
  prefix: { type: 'string', description: 'key prefix in Redis (separate colonies on one Redis)', default: D.prefix },
}

const SUBMIT: CommandSpec = {
  name: 'colony transfer', usage: '<source…> --to <dest> --redis <url> [options]',
  summary: 'Submits a distributed run to Redis and follows it until every file is verified. Submitting the same run again resumes following it. Workers (`colony transfer worker`) do the work, on any machines.',
  options: {
    ...COMMON,
    to: { type: 'string', description: 'destination: directory or s3://bucket/prefix', placeholder: 'dest' },
    catalog: { type: 'list', description: 'catalog file or URL (JSON array or NDJSON of {id, master, status})', placeholder: 'file|url' },
    run: { type: 'string', description: 'run name (default: derived from sources + destination)' },
    retries: { type: 'number', description: 'attempts after the first before a file is reported failed', default: D.retries },
    'batch-size': { type: 'number', description: `files per copy job (1–${D.batchSize})`, default: D.batchSize },
    watch: { type: 'string', description: `continuous sync: re-scan sources every interval (bare --watch = ${durationText(D.watchIntervalMs)})`, placeholder: 'interval' },
    dashboard: { type: 'string', description: `serve the live dashboard while following (bare --dashboard = ${BARE_DASHBOARD})`, placeholder: 'host:port' },
    executor: { type: 'string', description: 'where copy batches run: local or lambda', default: 'local' },
    function: { type: 'string', description: 'AWS Lambda function name/ARN for --executor lambda', placeholder: 'name' },
    'allow-host': { type: 'list', description: 'extra hosts playlists, redirects and remote catalogs may reference', placeholder: 'host' },
    'strip-prefix': { type: 'string', description: 'leading key part to drop at the destination' },
    's3-endpoint': { type: 'string', description: 'S3-compatible endpoint for s3:// sources/destinations', env: 'AWS_ENDPOINT_URL', placeholder: 'url' },
    's3-region': { type: 'string', description: 'S3 region', env: 'AWS_REGION' },
    'path-style': { type: 'boolean', description: 'path-style S3 addressing (MinIO, s3rver)' },
    checksum: { type: 'boolean', description: 'MD5 every body and compare with the destination (default: on for S3 destinations)' },
    'rewrite-uri': { type: 'list', description: 'in copied playlists, absolute URIs starting with FROM start with TO instead (repeatable; fixed at submit)', placeholder: 'FROM=TO' },
    report: { type: 'string', description: 'write the JSON report here when the run finishes', placeholder: 'file' },
    json: { type: 'boolean', description: 'NDJSON progress on stdout and the report as JSON' },
    detach: { type: 'boolean', description: 'submit and exit without following' },
    'local-worker': { type: 'boolean', description: 'also run an all-roles worker in this process' },
    concurrency: { type: 'number', description: 'copies at once of the --local-worker', default: D.concurrency },
    pipelining: { type: 'number', description: "GETs in flight on one connection to an HTTP origin, on every worker (HTTP/1.1 pipelining; 1 = off; see colony transfer's --pipelining)", default: TRANSFER_DEFAULTS.http.pipelining },
    ...CLASS_FILTER_OPTIONS,
    ...LIMIT_OPTIONS,
  },
  epilog: 'Limits hold for the whole cluster (token buckets in Redis); a --bwlimit timetable is read in the time zone of the submitting machine.\nExample: colony transfer --catalog c.ndjson --to s3://new/hls --redis redis://q:6379 --bwlimit "08:00,50M 20:00,off" --max-rps 200\nExit codes: 0 every file verified, 1 something missing or failed (see the report), 2 usage error.\nSee docs/transfer-distributed.md.',
}

const WORKER: CommandSpec = {
  name: 'colony transfer worker', usage: '--redis <url> [--role …] [--concurrency N]',
  summary: 'Runs worker roles for every active run in this Redis. Start any number, anywhere, any time; stop them any time (a killed worker\'s jobs are taken over by others after --claim-idle).',
  options: {
    ...COMMON,
    role: { type: 'list', description: 'scanner, crawler, copier, aggregator or all (repeatable / comma list)', default: ['all'] },
    concurrency: { type: 'number', description: 'files copied at once (local) / Lambda invocations in flight', default: D.concurrency },
    batches: { type: 'number', description: `copy batches held at once (default: concurrency/${D.filesPerCopySlot} + 1, at least ${D.minCopySlots})` },
    metrics: { type: 'string', description: '/metrics and /healthz listen address (off to disable)', default: D.metricsAddress, placeholder: 'host:port' },
    'claim-idle': { type: 'string', description: 'idle time after which a job of a dead worker is taken over', default: durationText(D.claimIdleMs), placeholder: 'duration' },
    'max-queued': { type: 'number', description: 'copy batches queued above which crawlers pause', default: D.maxQueuedBatches },
    'lambda-endpoint': { type: 'string', description: 'Lambda Invoke API endpoint (local testing)', env: 'AWS_ENDPOINT_URL_LAMBDA', placeholder: 'url' },
    's3-endpoint': { type: 'string', description: 'S3-compatible endpoint (overrides the run\'s)', env: 'AWS_ENDPOINT_URL', placeholder: 'url' },
  },
}

const STATUS: CommandSpec = {
  name: 'colony transfer status', usage: '--redis <url> [--run NAME] [--json]',
  summary: 'Lists runs, or shows one run: per-class progress, queues, workers, and the report once finished.',
  options: { ...COMMON, run: { type: 'string', description: 'run name (default: list runs, or the only one)' }, json: { type: 'boolean', description: 'machine-readable JSON' } },
}

const DASHBOARD: CommandSpec = {
  name: 'colony transfer dashboard', usage: '--redis <url> [--port N]',
  summary: 'Serves the live dashboard: overall rate, ETA, failures, and per class its files as ◯/◉ (SSE, only changes sent).',
  options: {
    ...COMMON,
    run: { type: 'string', description: 'run to show (default: the most recent active run)' },
    port: { type: 'number', description: 'port', default: DASH.port },
    host: { type: 'string', description: 'bind address', default: DASH.host },
  },
}

const LAMBDA: CommandSpec = {
  name: 'colony transfer lambda', usage: 'package [--out file.zip] | serve [--port N]',
  summary: 'package: builds the deployable zip of colony\'s copier handler (runtime nodejs22.x ≥ 22.19 or nodejs24.x, handler index.handler). serve: runs Lambda\'s Invoke API around the same handler on loopback, for trying --executor lambda without AWS.',
  options: {
    out: { type: 'string', description: 'zip file to write', default: 'colony-transfer-lambda.zip', placeholder: 'file' },
    port: { type: 'number', description: 'serve: port', default: TRANSFER_DEFAULTS.lambda.localPort },
  },
}

/** How a process builds the core of each run it serves (`extra.limits`: the run's cluster-wide pacers). */
type CoreFactory = (config: RunConfig, extra?: TransferCoreOptions) => DistributedCore

export type DistributedCommandOptions = {
  /** Wraps the standard core factory (benchmark workers add their synthetic runs). @defaultValue the standard factory */
  wrapCore?: (standard: CoreFactory) => CoreFactory
}

function coreFactory(options: DistributedCommandOptions, s3Endpoint?: string): CoreFactory {
  const standard: CoreFactory = (config, extra) => createTransferCore(s3Endpoint
    ? { ...config, core: { ...config.core, s3: { ...config.core.s3, endpoint: s3Endpoint } } }
    : config, extra)
  return options.wrapCore?.(standard) ?? standard
}

function help(spec: CommandSpec): number {
  process.stdout.write(formatHelp(spec))
  return EXIT_OK
}

/** `--watch` and `--dashboard` take an optional value: a bare flag gets its default. */
function fillOptionalValues(argv: string[]): string[] {
  const out: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] as string
    out.push(a)
    const next = argv[i + 1]
    if (a === '--watch' && (next === undefined || next.startsWith('-') || !/^\d/.test(next))) out.push(durationText(D.watchIntervalMs))
    if (a === '--dashboard' && (next === undefined || next.startsWith('-') || !/^[\d[:.a-z]/i.test(next) || /^[a-z]+:\/\//i.test(next))) out.push(BARE_DASHBOARD)
  }
  return out
}

function parseRoles(values: string[]): WorkerRole[] {
  const roles = new Set<WorkerRole>()
  for (const v of values.flatMap((x) => x.split(',')).map((x) => x.trim()).filter(Boolean)) {
    if (v === 'all') WORKER_ROLES.forEach((r) => roles.add(r))
    else if ((WORKER_ROLES as readonly string[]).includes(v)) roles.add(v as WorkerRole)
    else throw new UsageError(`--role: unknown role "${v}" (scanner, crawler, copier, aggregator, all)`)
  }
  return [...roles]
}

function onSignals(stop: () => void): () => void {
  const handler = (): void => stop()
  process.once('SIGINT', handler)
  process.once('SIGTERM', handler)
  return () => { process.off('SIGINT', handler); process.off('SIGTERM', handler) }
}

async function runWorkerCommand(argv: string[], options: DistributedCommandOptions): Promise<number> {
  const p = parseCommand(WORKER, argv)
  if (p.help) return help(WORKER)
  const roles = parseRoles(list(p, 'role'))
  const metrics = str(p, 'metrics')
  const log = createLogger({ name: 'transfer-worker' })
  const build = coreFactory(options, str(p, 's3-endpoint'))
  const worker = await startWorker({
    redisUrl: str(p, 'redis') as string, prefix: str(p, 'prefix') as string, roles, log,
    concurrency: num(p, 'concurrency') ?? D.concurrency,
    ...(num(p, 'batches') ? { copyBatches: num(p, 'batches') as number } : {}),
    claimIdleMs: str(p, 'claim-idle') ? parseDuration(str(p, 'claim-idle') as string) : D.claimIdleMs,
    maxQueuedBatches: num(p, 'max-queued') ?? D.maxQueuedBatches,
    ...(metrics && metrics !== 'off' ? { metrics: parseHostPort(metrics) } : {}),
    ...(str(p, 'lambda-endpoint') ? { lambda: { endpoint: str(p, 'lambda-endpoint') as string } } : {}),
    createCore: (config, extra) => Promise.resolve(build(config, extra)),
  })
  if (worker.metricsUrl) process.stderr.write(`worker ${worker.id}: roles ${roles.join(',')} · metrics ${worker.metricsUrl}/metrics\n`)
  const off = onSignals(() => { void worker.stop() })
  await worker.done
  await worker.stop()
  off()
  return EXIT_OK
}

async function runStatusCommand(argv: string[]): Promise<number> {
  const p = parseCommand(STATUS, argv)
  if (p.help) return help(STATUS)
  const redis = createRedis(str(p, 'redis') as string)
  const keys = createKeys(str(p, 'prefix') as string)
  try {
    let run = str(p, 'run')
    if (!run) {
      const runs = await listRuns(redis, keys)
      if (runs.length !== 1) {
        const rows = await Promise.all(runs.map(async (r) => ({ run: r, state: (await redis.hget(keys.meta(r), 'state')) ?? 'running' })))
        const workers = await listWorkers(redis, keys)
        if (bool(p, 'json')) process.stdout.write(`${JSON.stringify({ runs: rows, workers }, null, 2)}\n`)
        else process.stdout.write(`${rows.map((r) => `${r.state.padEnd(9)} ${r.run}`).join('\n') || 'no runs'}\n${workers.length} worker(s) alive\n`)
        return EXIT_OK
      }
      run = runs[0] as string
    }
    const s = await readRunStatus(redis, keys, run)
    if (bool(p, 'json')) {
      process.stdout.write(`${JSON.stringify({ ...s, classes: s.classes.map((c) => ({ id: c.record.id, state: c.record.state, live: c.record.live ?? false, files: c.files, verified: c.verified, failed: c.failed, bytes: c.bytes, retries: c.retries })) }, null, 2)}\n`)
    } else {
      const lines = [`run ${s.run} (${s.state}) → ${s.config.to}`,
        `  classes ${s.totals.finishedClasses}/${s.totals.classes} finished · files ${s.totals.verified}/${s.totals.files} verified · ${s.totals.failed} failed · ${formatBytes(s.totals.bytes)} · ${s.totals.retries} retries`,
        `  queues: ${Object.entries(s.queues).map(([q, v]) => `${q} ${v.length} (${v.pending} in flight)`).join(' · ')} · ${s.workers.length} worker(s)`]
      for (const c of s.classes) lines.push(`  ${c.record.state.padEnd(10)} ${c.record.id}  ${c.verified}/${c.files}${c.failed ? ` · ${c.failed} failed` : ''}${c.record.live ? ' · recording' : ''}${c.record.skipReason ? ` · ${c.record.skipReason}` : ''}`)
      if (s.report) lines.push('', formatSummary(s.report))
      process.stdout.write(`${lines.join('\n')}\n`)
    }
    return s.report && !s.report.ok ? EXIT_FAILURE : EXIT_OK
  } finally {
    await closeRedis(redis)
  }
}

async function runDashboardCommand(argv: string[]): Promise<number> {
  const p = parseCommand(DASHBOARD, argv)
  if (p.help) return help(DASHBOARD)
  const dash = await startDashboard({ redisUrl: str(p, 'redis') as string, prefix: str(p, 'prefix') as string, host: str(p, 'host') as string, port: num(p, 'port') ?? DASH.port, ...(str(p, 'run') ? { run: str(p, 'run') as string } : {}) })
  process.stderr.write(`dashboard: ${dash.url}/\n`)
  await new Promise<void>((resolve) => onSignals(resolve))
  await dash.close()
  return EXIT_OK
}

async function runLambdaCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv
  const p = parseCommand(LAMBDA, rest)
  if (p.help || !sub || sub === '--help' || sub === '-h') return help(LAMBDA)
  if (sub === 'package') {
    const res = await buildLambdaPackage({ out: str(p, 'out') as string })
    process.stdout.write(`${res.out}: ${res.files} files, ${formatBytes(res.bytes)} (runtime nodejs24.x or nodejs22.x ≥ 22.19, handler index.handler)\n`)
    return EXIT_OK
  }
  if (sub === 'serve') {
    const srv = await startLocalLambda({ port: num(p, 'port') ?? TRANSFER_DEFAULTS.lambda.localPort })
    process.stderr.write(`local Lambda Invoke API at ${srv.url} (workers: --lambda-endpoint ${srv.url})\n`)
    await new Promise<void>((resolve) => onSignals(resolve))
    await srv.close()
    return EXIT_OK
  }
  throw new UsageError(`colony transfer lambda: unknown subcommand "${sub}" (package, serve)`)
}

async function runSubmitCommand(argv: string[], options: DistributedCommandOptions): Promise<number> {
  const p = parseCommand(SUBMIT, fillOptionalValues(argv))
  if (p.help) return help(SUBMIT)
  const to = str(p, 'to')
  const sources = [...p.positionals, ...list(p, 'catalog')]
  if (!to) throw new UsageError('missing --to <dest> (see colony transfer --help)')
  if (sources.length === 0) throw new UsageError('name at least one source or --catalog (see colony transfer --help)')
  const executor = str(p, 'executor')
  if (executor !== 'local' && executor !== 'lambda') throw new UsageError(`--executor is local or lambda, not "${executor}"`)
  if (executor === 'lambda' && !str(p, 'function')) throw new UsageError('--executor lambda needs --function NAME')
  const pipelining = positiveInt(num(p, 'pipelining'), 'pipelining', 1) ?? TRANSFER_DEFAULTS.http.pipelining
  const core: CoreRunOptions = {
    ...(list(p, 'allow-host').length ? { allowHosts: list(p, 'allow-host') } : {}),
    ...(str(p, 'strip-prefix') ? { stripPrefix: str(p, 'strip-prefix') as string } : {}),
    ...(str(p, 's3-endpoint') || str(p, 's3-region') || bool(p, 'path-style') ? { s3: {
      ...(str(p, 's3-endpoint') ? { endpoint: str(p, 's3-endpoint') as string } : {}),
      ...(str(p, 's3-region') ? { region: str(p, 's3-region') as string } : {}),
      ...(bool(p, 'path-style') ? { forcePathStyle: true } : {}),
    } } : {}),
    ...(p.values.checksum !== undefined ? { checksum: bool(p, 'checksum') } : {}),
    ...(pipelining > 1 ? { pipelining } : {}),
    ...parseLimitArgs(p),
    ...(list(p, 'rewrite-uri').length ? { rewriteUri: rewriteRulesOption(list(p, 'rewrite-uri')) } : {}),
  }
  if (core.bwlimit !== undefined || core.maxRps !== undefined) {
    if (executor === 'lambda') throw new UsageError('--bwlimit and --max-rps need --executor local (Lambda invocations do not share the Redis token buckets)')
    core.timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone
  }
  const classFilter = classFilterOption(list(p, 'include-class'), list(p, 'exclude-class'))
  const redisUrl = str(p, 'redis') as string
  const prefix = str(p, 'prefix') as string
  const redis = createRedis(redisUrl)
  const keys = createKeys(prefix)
  const watch = str(p, 'watch')
  let worker: Worker | undefined
  let dash: { url: string; close: () => Promise<void> } | undefined
  const abort = new AbortController()
  const off = onSignals(() => abort.abort())
  try {
    const { run, created } = await submitRun(redis, keys, {
      sources, to, core, retries: num(p, 'retries') ?? D.retries, batchSize: num(p, 'batch-size') ?? D.batchSize,
      executor, ...(str(p, 'run') ? { run: str(p, 'run') as string } : {}), ...(classFilter ? { classFilter } : {}),
      ...(watch ? { watchMs: parseDuration(watch) } : {}),
      ...(str(p, 'function') ? { lambdaFunction: str(p, 'function') as string } : {}),
    })
    process.stderr.write(`${created ? 'submitted' : 'resuming'} run ${run}\n`)
    if (watch) {
      // Local catalog files live on this machine: re-inline them each cycle so scanners see edits.
      const refresh = setInterval(() => { void inlineLocalFiles(sources).then((inline) => storeInline(redis, keys, run, inline)).catch(() => undefined) }, Math.max(1000, parseDuration(watch) / 2))
      abort.signal.addEventListener('abort', () => clearInterval(refresh))
    }
    if (bool(p, 'detach')) { process.stdout.write(`${run}\n`); return EXIT_OK }
    if (bool(p, 'local-worker')) {
      const build = coreFactory(options)
      worker = await startWorker({ redisUrl, prefix, roles: [...WORKER_ROLES], concurrency: num(p, 'concurrency') ?? D.concurrency, log: createLogger({ name: 'transfer-worker', level: 'warn' }), createCore: (config, extra) => Promise.resolve(build(config, extra)) })
    }
    const dashboard = str(p, 'dashboard')
    if (dashboard) {
      const hp = parseHostPort(dashboard)
      dash = await startDashboard({ redisUrl, prefix, run, ...hp })
      process.stderr.write(`dashboard: ${dash.url}/\n`)
    }
    const report = await followRun(redis, keys, run, { json: bool(p, 'json'), forever: Boolean(watch), signal: abort.signal, out: bool(p, 'json') ? process.stdout : process.stderr })
    if (!report) return EXIT_FAILURE
    const reportFile = str(p, 'report')
    if (reportFile) await writeFile(reportFile, `${JSON.stringify(report, null, 2)}\n`)
    if (bool(p, 'json')) process.stdout.write(`${JSON.stringify({ type: 'report', report })}\n`)
    else process.stdout.write(`${formatSummary(report)}\n`)
    return report.ok ? EXIT_OK : EXIT_FAILURE
  } finally {
    off()
    await worker?.stop()
    await dash?.close()
    await closeRedis(redis)
  }
}

/** Entry from transfer-command.ts. */
export async function runDistributed(argv: string[], options: DistributedCommandOptions = {}): Promise<number> {
  const [first, ...rest] = argv
  if (first === 'worker') return runWorkerCommand(rest, options)
  if (first === 'status') return runStatusCommand(rest)
  if (first === 'dashboard') return runDashboardCommand(rest)
  if (first === 'lambda') return runLambdaCommand(rest)
  return runSubmitCommand(argv, options)
}
