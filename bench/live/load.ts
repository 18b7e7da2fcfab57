// `npm run bench:live -- load`: one load-generator run against one server. It targets a running server (found
// through the port it listens on, or --server-pid) or, with --spawn, starts one itself and stops it afterwards.
import os from 'node:os'
import { bool, formatHelp, list, num, parseCommand, str, type CommandSpec } from '../../src/shared/cli-options.ts'
import { UsageError } from '../../src/shared/errors.ts'
import { parseDuration } from '../../src/shared/units.ts'
import { BenchError } from './generator/bench-error.ts'
import { findListeningPids } from './generator/proc-stats.ts'
import { formatResult } from './generator/report.ts'
import { runLiveBenchmark, type LiveBenchOptions } from './generator/run-bench.ts'
import { colonyServeArgs, startColonyServer, startNchanServer, stopServersOnSignal, type StartedServer } from './generator/servers.ts'
import { assertLoopback, type TargetKind } from './generator/target.ts'

const LOAD: CommandSpec = {
  name: 'npm run bench:live -- load',
  usage: '[--url URL…] [--connections N] [--topics T] [--rate R] [--duration 30s] [--spawn]',
  summary: 'Opens N Server-Sent Events connections from several processes and source addresses, publishes at a fixed rate with the send time embedded, and reports connections held, server RSS per connection, deliveries/s, server CPU per delivery, generator CPU and publish-to-receive p50/p90/p99. Loopback targets only; stops by itself.',
  options: {
    url: { type: 'list', description: 'server base URL (repeat for several nodes of one service; publishes go to the first)', placeholder: 'url' },
    kind: { type: 'string', description: 'API of the target: colony (/v1/topics/…) or nchan (/pub/…, /sub/…)', default: 'colony', placeholder: 'colony|nchan' },
    token: { type: 'string', description: 'publish bearer token (colony)', placeholder: 'secret' },
    connections: { type: 'number', short: 'c', description: 'SSE connections to open and hold', default: 1000 },
    topics: { type: 'number', short: 't', description: 'topics; connection i watches topic i mod T', default: 10 },
    rate: { type: 'number', short: 'r', description: 'events published per second over all topics (0 = only hold)', default: 100 },
    type: { type: 'string', description: 'published event type: comment (never coalesced) or like (coalescible)', default: 'comment', placeholder: 'comment|like' },
    'probe-rate': { type: 'number', description: 'extra comments/s carrying a timestamp, to measure latency when likes arrive coalesced (default: 20 with --type like, else 0)' },
    duration: { type: 'string', short: 'd', description: 'measured publishing time', default: '10s', placeholder: 'duration' },
    sweep: { type: 'list', description: 'after --rate, measure again at each of these rates on the same connections (saturation sweep)', placeholder: 'rate' },
    warmup: { type: 'string', description: 'publishing before the measurement starts (default: min(2s, duration/4))', placeholder: 'duration' },
    processes: { type: 'number', description: 'generator processes (default: max(2, one per 15,000 connections); one holds at most 19,000 sockets)' },
    source: { type: 'list', description: 'local addresses to bind (127.x.y.z), spread over the processes (default: fresh 127.<r>.<p>.<k>, ≤20k connections each)', placeholder: 'addr' },
    'connect-rate': { type: 'number', description: 'new connections per second during the ramp', default: 5000 },
    'max-pending': { type: 'number', description: 'unanswered connects at most (keep it under the server\'s accept backlog, or SYNs are dropped)', default: 200 },
    'server-pid': { type: 'list', description: 'PID(s) of the server to measure, workers included (default: whoever listens on the URL port)', placeholder: 'pid' },
    batch: { type: 'boolean', description: 'colony: publish each tick\'s events of a topic in one batch POST (--no-batch: one POST per event)', default: true },
    padding: { type: 'number', description: 'extra bytes in every event\'s data', default: 0 },
    spawn: { type: 'boolean', description: 'start the server (colony live serve, or nginx+nchan with --kind nchan) on a free port and stop it afterwards' },
    workers: { type: 'number', description: 'with --spawn: server worker processes (default: max(cores, ceil(connections / 18,000)): a process holds < 20,000 files)' },
    coalesce: { type: 'boolean', description: 'with --spawn (colony): like-coalescing on; --no-coalesce turns it off', default: true },
    json: { type: 'boolean', description: 'print the result as JSON on stdout' },
  },
  epilog: [
    'Examples:',
    '  npm run bench:live -- load --spawn --connections 2000 --duration 10s',
    '  npm run bench:live -- load --url http://127.0.0.1:8080 --token s3cret --connections 20000 --topics 100 --rate 200',
    '  npm run bench:live -- load --spawn --kind nchan --connections 2000',
    'Exit codes: 0 every connection held, 1 some failed or the run broke, 2 usage error.',
  ].join('\n'),
}

function targetKind(v: string | undefined): TargetKind {
  if (v === 'colony' || v === 'nchan') return v
  throw new UsageError(`--kind must be colony or nchan, got "${v}"`)
}

function positiveInt(name: string, v: number | undefined, min = 1): number {
  if (v === undefined || !Number.isInteger(v) || v < min) throw new UsageError(`--${name} must be an integer ≥ ${min}`)
  return v
}

/** Runs the generator once as `argv` asks; resolves the exit code (0 every connection held, 1 not, usage errors throw). */
export async function runLoad(argv: string[]): Promise<number> {
  const p = parseCommand(LOAD, argv)
  if (p.help) { process.stdout.write(formatHelp(LOAD)); return 0 }
  if (p.positionals.length > 0) throw new UsageError(`unexpected argument "${p.positionals[0]}" (see npm run bench:live -- load --help)`)
  const kind = targetKind(str(p, 'kind'))
  const type = str(p, 'type') ?? 'comment'
  const connections = positiveInt('connections', num(p, 'connections'))
  const topics = positiveInt('topics', num(p, 'topics'))
  const rate = num(p, 'rate') ?? 0
  if (rate < 0) throw new UsageError('--rate must be ≥ 0')
  const durationMs = parseDuration(str(p, 'duration') ?? '10s')
  const warmup = str(p, 'warmup')
  const processes = num(p, 'processes')
  const spawn = bool(p, 'spawn')
  let urls = list(p, 'url')
  if (spawn && urls.length > 0) throw new UsageError('--spawn starts its own server: drop --url')
  if (!spawn && urls.length === 0) throw new UsageError('give --url of a running server, or --spawn')
  for (const u of urls) {
    try { assertLoopback(u) } catch (err) { throw new UsageError((err as Error).message) }
  }
  for (const a of list(p, 'source')) if (!/^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a)) throw new UsageError(`--source must be a 127.x.y.z address, got "${a}"`)
  const token = str(p, 'token') ?? (spawn ? `bench-${Math.random().toString(36).slice(2)}` : undefined)
  if (kind === 'colony' && rate > 0 && !token) throw new UsageError('publishing to colony needs --token')

  let server: StartedServer | undefined
  const log = (line: string): void => { process.stderr.write(`bench/live load: ${line}\n`) }
  try {
    const workers = num(p, 'workers') ?? Math.max(os.availableParallelism(), Math.ceil(connections / 18_000))
    if (spawn) {
      stopServersOnSignal()
      server = kind === 'nchan'
        ? await startNchanServer({ workers })
        : await startColonyServer({ workers, token: token ?? '', args: colonyServeArgs(bool(p, 'coalesce'), connections) })
      urls = [server.url]
      log(`started ${kind} on ${server.url} (pid ${server.pid}, ${workers} workers)`)
    }
    const pidFlags = list(p, 'server-pid').map(Number)
    const serverPids = server ? [server.pid] : pidFlags.length > 0 ? pidFlags : urls.flatMap((u) => findListeningPids(Number(new URL(u).port || 80)))
    if (serverPids.length === 0) throw new BenchError('LIVE_BENCH_TARGET', 'cannot find the server processes behind --url (another user\'s? give --server-pid)')
    const options: LiveBenchOptions = {
      target: { kind, url: urls[0] ?? '', ...(token ? { token } : {}) }, extraUrls: urls.slice(1), serverPids,
      connections, topics, rate, moreRates: list(p, 'sweep').map(Number).filter((x) => x > 0), type, probeRate: num(p, 'probe-rate') ?? (type === 'like' ? 20 : 0),
      durationMs, ...(warmup ? { warmupMs: parseDuration(warmup) } : {}), ...(processes ? { processes: positiveInt('processes', processes) } : {}),
      sourceAddresses: list(p, 'source'), connectRate: positiveInt('connect-rate', num(p, 'connect-rate')), maxPending: positiveInt('max-pending', num(p, 'max-pending')),
      batch: bool(p, 'batch'), padding: num(p, 'padding') ?? 0, log,
    }
    const result = await runLiveBenchmark(options)
    process.stdout.write(bool(p, 'json') ? `${JSON.stringify(result, null, 2)}\n` : `${formatResult(result)}\n`)
    return result.connections.held === connections ? 0 : 1
  } finally {
    await server?.stop()
  }
}

