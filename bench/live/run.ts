// colony live vs nginx+nchan, in ONE run on this machine: start both servers, drive the same load against each
// (same connections, topics, publish rate, generator), print each result, the colony/nchan ratios and the
// issue's targets. Quick run: node bench/live/run.ts --quick. Full run: node bench/live/run.ts (100k viewers).
// `load` runs the generator once against one server (load.ts); --smoke runs the generator's self-check.
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { bool, formatHelp, list, num, parseCommand, str, type CommandSpec } from '../../src/shared/cli-options.ts'
import { UsageError } from '../../src/shared/errors.ts'
import { parseDuration } from '../../src/shared/units.ts'
import { formatComparison, formatResult } from './generator/report.ts'
import { runLiveBenchmark, type LiveBenchOptions, type LiveBenchResult } from './generator/run-bench.ts'
import { colonyServeArgs, startColonyServer, startNchanServer, stopServersOnSignal, type StartedServer } from './generator/servers.ts'
import { runLoad } from './load.ts'
import { formatMarkdown } from './markdown.ts'
import { busyMicros, topFrames, type CpuProfile } from './profile.ts'

const SPEC: CommandSpec = {
  name: 'node bench/live/run.ts',
  usage: '[--quick] [--scenarios fanout,likes] [--connections N] [--duration 20s] | --smoke | load [load options]',
  summary: 'Benchmarks `colony live serve` against nginx + nchan with the same load in the same run. '
    + '`load` runs the load generator once against one server, running (--url) or started for it (--spawn): see `load --help`.',
  options: {
    smoke: { type: 'boolean', description: 'run the generator\'s self-check instead (frame scanner, small loads on both servers; ~20 s)' },
    quick: { type: 'boolean', description: 'small run: 2,000 viewers, 10 s per scenario' },
    scenarios: { type: 'list', description: 'fanout (comments, no coalescing; also measures holding), likes (coalesced likes + comment probes)', default: ['fanout', 'likes'] },
    connections: { type: 'number', description: 'fanout: viewers', default: 100_000 },
    topics: { type: 'number', description: 'fanout: topics', default: 100 },
    rate: { type: 'number', description: 'fanout: comments per second (all topics)', default: 50 },
    'sweep-rates': { type: 'list', description: 'fanout: further publish rates on the same connections, to find saturation (quick: 200,400)', default: ['100', '200'], placeholder: 'rate' },
    // 1,000 likes/s to 1,000 viewers per topic = 1M like-deliveries/s in 5,000 viewers × 10 frames/s (100 ms
    // window) = 50k frames/s. 10k viewers would need 100k frames/s written by the server AND read by the
    // generator on the same 2 cores (~15 µs of CPU each side per frame): more than the machine has.
    'likes-connections': { type: 'number', description: 'likes: viewers (quick: 2,000)', default: 5_000 },
    'likes-topics': { type: 'number', description: 'likes: topics (quick: 2)', default: 5 },
    'like-rate': { type: 'number', description: 'likes: likes per second, all topics (quick: 1,000)', default: 1000 },
    'probe-rate': { type: 'number', description: 'likes: comment probes per second for latency', default: 10 },
    'coalesce-window': { type: 'string', description: 'likes: colony aggregation window for likes', default: '100ms', placeholder: 'duration' },
    duration: { type: 'string', description: 'measured publishing time per scenario and server', default: '20s', placeholder: 'duration' },
    workers: { type: 'number', description: 'worker processes for both servers (default: max(cores, ceil(viewers / 18,000)))' },
    'connect-rate': { type: 'number', description: 'new connections per second', default: 5000 },
    servers: { type: 'list', description: 'which servers to run', default: ['colony', 'nchan'] },
    'cpu-prof': { type: 'boolean', description: 'profile the colony workers (node --cpu-prof) and print their top frames' },
    out: { type: 'string', description: 'also write all results as JSON here', placeholder: 'file' },
    markdown: { type: 'string', description: 'also write the results as Markdown tables here', placeholder: 'file' },
  },
}

type ScenarioResult = { scenario: string; colony?: LiveBenchResult; nchan?: LiveBenchResult; colonyProfile?: string }

const log = (line: string): void => { process.stderr.write(`bench/live: ${line}\n`) }

function machineNote(): string {
  const [l1, l5] = os.loadavg()
  return `${os.availableParallelism()} cores, load average ${(l1 ?? 0).toFixed(2)} / ${(l5 ?? 0).toFixed(2)} (1 / 5 min)`
}

async function runOne(kind: 'colony' | 'nchan', bench: Omit<LiveBenchOptions, 'target' | 'serverPids'>, workers: number, colonyArgs: string[], profDir: string | undefined): Promise<LiveBenchResult> {
  const token = `bench-${Math.random().toString(36).slice(2)}`
  let server: StartedServer
  if (kind === 'colony') {
    server = await startColonyServer({ workers, token, args: colonyArgs, nodeArgs: profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [] })
  } else {
    server = await startNchanServer({ workers })
  }
  log(`${kind}: ${server.url}, ${workers} workers; ${machineNote()}`)
  try {
    return await runLiveBenchmark({ ...bench, target: { kind, url: server.url, token }, serverPids: [server.pid], log: (l) => log(`${kind}: ${l}`) })
  } finally {
    await server.stop()
  }
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2)
  if (argv[0] === 'load') return runLoad(argv.slice(1))
  const p = parseCommand(SPEC, argv)
  if (p.help) { process.stdout.write(formatHelp(SPEC)); return 0 }
  // node:test runs the self-check's tests once this module has settled, and sets the exit code on a failure.
  if (bool(p, 'smoke')) { await import('./self-check.ts'); return 0 }
  const quick = bool(p, 'quick')
  const pick = (name: string, quickValue: number): number => (quick && !process.argv.includes(`--${name}`) ? quickValue : num(p, name) ?? quickValue)
  const durationMs = parseDuration(quick && !process.argv.includes('--duration') ? '10s' : str(p, 'duration') ?? '20s')
  const servers = list(p, 'servers').filter((s): s is 'colony' | 'nchan' => s === 'colony' || s === 'nchan')
  stopServersOnSignal()
  const results: ScenarioResult[] = []
  const started = new Date().toISOString()
  log(`start ${started}; ${machineNote()}`)

  for (const scenario of list(p, 'scenarios')) {
    const isLikes = scenario === 'likes'
    if (scenario !== 'fanout' && !isLikes) { log(`unknown scenario ${scenario}, skipped`); continue }
    const connections = isLikes ? pick('likes-connections', 2000) : pick('connections', 2000)
    const topics = isLikes ? pick('likes-topics', 2) : pick('topics', 10)
    const rate = isLikes ? pick('like-rate', 1000) : pick('rate', 100)
    const workers = num(p, 'workers') ?? Math.max(os.availableParallelism(), Math.ceil(connections / 18_000))
    const bench: Omit<LiveBenchOptions, 'target' | 'serverPids'> = {
      connections, topics, rate, type: isLikes ? 'like' : 'comment', probeRate: isLikes ? num(p, 'probe-rate') ?? 10 : 0,
      durationMs, connectRate: num(p, 'connect-rate') ?? 5000,
      moreRates: isLikes ? [] : (quick && !process.argv.includes('--sweep-rates') ? ['200', '400'] : list(p, 'sweep-rates')).map(Number).filter((x) => x > 0),
    }
    // fanout measures plain fan-out: coalescing off. likes: likes aggregated per window (nchan cannot).
    const colonyArgs = [...colonyServeArgs(isLikes, connections), ...(isLikes ? ['--coalesce', `like=${str(p, 'coalesce-window') ?? '100ms'}`] : [])]
    const entry: ScenarioResult = { scenario }
    for (const kind of servers) {
      const profDir = kind === 'colony' && bool(p, 'cpu-prof') ? path.resolve(`bench/.work/live-profiles/${scenario}-${Date.now()}`) : undefined
      if (profDir) await mkdir(profDir, { recursive: true })
      log(`${scenario}: ${kind}: ${connections} viewers, ${topics} topics, ${rate} ${bench.type}/s for ${durationMs / 1000} s`)
      try {
        const r = await runOne(kind, bench, workers, colonyArgs, profDir)
        entry[kind] = r
        process.stdout.write(`\n${formatResult(r, `${scenario} / ${kind}`)}\n`)
      } catch (err) {
        process.stdout.write(`\n[${scenario} / ${kind}] FAILED: ${(err as Error).message}\n`)
      }
      if (profDir) {
        const files = (await readdir(profDir)).filter((f) => f.endsWith('.cpuprofile'))
        const profiles = await Promise.all(files.map(async (f) => ({ f, p: JSON.parse(await readFile(path.join(profDir, f), 'utf8')) as CpuProfile })))
        // The busiest process (a worker, or the primary when relaying dominates): where the server's time goes.
        const busiest = profiles.map((x) => ({ ...x, busy: busyMicros(x.p) })).sort((a, b) => b.busy - a.busy)[0]
        if (busiest) {
          entry.colonyProfile = topFrames(busiest.p, 25)
          process.stdout.write(`\ncolony: busiest process profile (${path.join(profDir, busiest.f)}; ${profiles.length} processes profiled), top self-time frames:\n${entry.colonyProfile}\n`)
        }
      }
    }
    if (entry.colony && entry.nchan) process.stdout.write(`\n${formatComparison(entry.colony, entry.nchan, scenario)}\n`)
    results.push(entry)
  }

  process.stdout.write(`\n${formatTargets(results, parseDuration(str(p, 'coalesce-window') ?? '100ms'))}\n`)
  const out = str(p, 'out')
  const md = str(p, 'markdown')
  if (md) await writeFile(md, `Run ${started}, ${machineNote()} at the start.\n\n${results.map((r) => formatMarkdown(r.scenario, r.colony, r.nchan)).join('\n\n')}\n\n\`\`\`\n${formatTargets(results, parseDuration(str(p, 'coalesce-window') ?? '100ms'))}\n\`\`\`\n`)
  if (out) await writeFile(out, JSON.stringify({ started, finished: new Date().toISOString(), machine: machineNote(), argv: process.argv.slice(2), results }, null, 2))
  return 0
}

/** The issue's targets, checked against this run's numbers (colony), with nchan's figures beside them. */
function formatTargets(results: ScenarioResult[], windowMs: number): string {
  const lines = ['== targets (this run)']
  const mark = (ok: boolean): string => (ok ? 'MET ' : 'MISS')
  const fanout = results.find((r) => r.scenario === 'fanout')
  const likes = results.find((r) => r.scenario === 'likes')
  if (fanout?.colony) {
    const c = fanout.colony
    const kb = c.server.rssPerConnectionBytes / 1000
    lines.push(`  ${mark(c.connections.held >= 100_000)} 100k connections held by one colony live serve: ${c.connections.held.toLocaleString('en-US')} held`)
    lines.push(`  ${mark(kb <= 20)} ≤ 20 KB RSS per connection: ${kb.toFixed(1)} KB (total RSS of ${c.server.processes} processes / connections)`)
    lines.push(`  ${mark(c.latency.p99Ms < 100)} p99 < 100 ms below saturation: p99 ${c.latency.p99Ms} ms at ${Math.round(c.deliveries.perSecond).toLocaleString('en-US')} deliveries/s (server CPU ${(c.server.cpuShare * 100).toFixed(0)}% of the machine)`)
    if (fanout.nchan) {
      const ratio = c.deliveries.perServerCpuSecond / fanout.nchan.deliveries.perServerCpuSecond
      lines.push(`  ${mark(ratio >= 1.2)} deliveries per CPU-second ≥ 1.2× nchan without coalescing: ${ratio.toFixed(2)}×`)
    }
  }
  if (likes?.colony) {
    const c = likes.colony
    const bound = c.latency.p99Ms + windowMs
    lines.push(`  ${mark(c.deliveries.perSecond >= 1e6 && bound < 250)} with like-coalescing ≥ 1M deliveries/s at p99 < 250 ms: ${Math.round(c.deliveries.perSecond).toLocaleString('en-US')} deliveries/s, each like in a coalesced frame counted as one delivery (${Math.round(c.deliveries.framesPerSecond).toLocaleString('en-US')} frames/s on the sockets); probe p99 ${c.latency.p99Ms} ms + ${windowMs} ms window = like p99 ≤ ${bound.toFixed(0)} ms`)
  }
  for (const r of results) {
    for (const kind of ['colony', 'nchan'] as const) {
      const g = r[kind]?.generator
      if (g && g.maxEventLoopUtilization > 0.9) lines.push(`  note: ${r.scenario}/${kind}: a generator event loop was ${(g.maxEventLoopUtilization * 100).toFixed(0)}% busy: its figures may be generator-bound`)
    }
  }
  return lines.join('\n')
}

try {
  process.exitCode = await main()
} catch (err) {
  if (!(err instanceof UsageError)) throw err
  process.stderr.write(`bench/live: ${err.message}\n`)
  process.exitCode = 2
}
