// bench/swarm: colony's swarm against its bound and its baselines, measured in the same run.
//   mode caps: capped origin + capped agents → time vs the theoretical bound, origin egress, vs plain HTTP.
//   mode cpu:  no caps → MB delivered per CPU-second, colony's agents vs a swarm of stock aria2c clients.
// Loopback only, bounded (--timeout per phase), everything it starts is stopped; data lives on tmpfs.
import { createHash } from 'node:crypto'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { formatHelp, num, parseCommand, str, bool, type CommandSpec } from '../../src/shared/cli-options.ts'
import { parseDuration, parseRate, parseSize } from '../../src/shared/units.ts'
import { startDemoOrigin, type DemoOrigin } from '../../src/demo/swarm-origin.ts'
import { fetchTorrent, startTracker, type Tracker } from '../../src/swarm/index.ts'
import { DATA_LAYOUT } from '../../src/swarm/wire-format.ts'
import { choosePieceLength, parseTorrentFile } from '../../src/swarm/torrent-file.ts'
import { startEtcd, type Service } from '../../support/services.ts'
import { createTorrentFile, runAria2Swarm, type SwarmRunResult } from './aria2-swarm.ts'
import { runColonyDownloads, startAgentFleet, type AgentFleet } from './colony-swarm.ts'
import { killAll, track } from './children.ts'
import { runHttpClients } from './http-clients.ts'
import { readCpuSeconds } from './proc-stats.ts'
import { warmMemory } from '../warm-memory.ts'
import { mb, percentile, secs, swarmBoundSeconds, twoPhaseBoundSeconds } from './stats.ts'

const SPEC: CommandSpec = {
  name: 'node bench/swarm/run.ts',
  usage: '[--mode caps|cpu|both] [--size F] [--agents N] [--origin-rate U] [--agent-upload u] …',
  summary: 'Benchmarks colony swarm on loopback. caps: an origin capped at U serves F bytes to N agent processes each capped at u '
    + 'upload; then N plain HTTP clients fetch from the same capped origin; prints the times, the bound max(F/U, N·F/(U+N·u)) and the ratios. '
    + 'cpu: no caps; one seeder + N leechers, colony agents then stock aria2c, MB delivered per CPU-second (from /proc).',
  options: {
    mode: { type: 'string', description: 'caps, cpu or both', default: 'both' },
    size: { type: 'string', description: 'object size F (caps mode)', default: '128MB', placeholder: 'size' },
    agents: { type: 'number', description: 'agents N (caps mode)', default: 16 },
    'origin-rate': { type: 'string', description: 'origin egress cap U (caps mode)', default: '8MB/s', placeholder: 'rate' },
    'agent-upload': { type: 'string', description: 'per-agent upload cap u (caps mode)', default: '8MB/s', placeholder: 'rate' },
    'http-clients': { type: 'number', description: 'plain HTTP clients in the caps baseline (default: N)' },
    'skip-http': { type: 'boolean', description: 'skip the plain HTTP baseline (it takes N·F/U)' },
    'cpu-size': { type: 'string', description: 'object size in cpu mode (default: --size)', placeholder: 'size' },
    'cpu-agents': { type: 'number', description: 'leechers in cpu mode (default: --agents)' },
    'cpu-warm-size': { type: 'string', description: 'cpu mode: the agents first share another object of this size, outside the measured window, so the measured swarm runs on optimised code as on agents that run all day (default: the cpu object\'s size); 0 = measure freshly started agents', placeholder: 'size' },
    'cpu-upload': { type: 'string', description: 'cpu mode: cap every peer\'s upload (an aria2c-only reference for caps mode: how fast stock aria2c spreads an already-seeded file under the same caps; default none)', placeholder: 'rate' },
    'skip-aria2': { type: 'boolean', description: 'cpu mode: skip the aria2c swarm' },
    'skip-colony': { type: 'boolean', description: 'cpu mode: skip colony (aria2c only; its torrent comes from transmission-create)' },
    engine: { type: 'string', description: "agents' BitTorrent engine, native or aria2 (default: the agent's)" },
    'segment-size': { type: 'string', description: "agents' --segment-size (default: the agent's)", placeholder: 'size' },
    trackers: { type: 'number', description: 'trackers every peer announces to', default: 2 },
    timeout: { type: 'string', description: 'limit per phase', default: '10m', placeholder: 'duration' },
    'work-dir': { type: 'string', description: 'scratch directory (tmpfs keeps the disk out of it)', default: '/dev/shm', placeholder: 'dir' },
    runs: { type: 'number', description: 'runs of each mode; prints the median and the worst (the plain HTTP baseline runs once)', default: 1 },
    scaling: { type: 'boolean', description: 'also run caps mode at each --scaling-agents N with the --scaling-* rates, and print completion vs the bound per N' },
    'scaling-agents': { type: 'string', description: 'agent counts of the scaling step, comma-separated', default: '8,16,32', placeholder: 'n,n,…' },
    'scaling-size': { type: 'string', description: 'object size of the scaling step (default: --size)', placeholder: 'size' },
    'scaling-origin-rate': { type: 'string', description: 'origin cap of the scaling step: lower than caps mode\'s so 32 agents do not make the machine the bound', default: '4MB/s', placeholder: 'rate' },
    'scaling-agent-upload': { type: 'string', description: 'per-agent upload cap of the scaling step', default: '2MB/s', placeholder: 'rate' },
    verbose: { type: 'boolean', description: 'one line per agent (role, timing, bytes)' },
    json: { type: 'string', description: 'also write the results as JSON to this file', placeholder: 'file' },
  },
}

type Log = (line: string) => void
const log: Log = (line) => { process.stdout.write(`${line}\n`) }

/** Writes and deletes 2·(N+1)·F bytes in the work directory right before each swarm (bench/warm-memory.ts). */
async function warmBefore(workDir: string, bytes: number): Promise<void> {
  const s = await warmMemory(path.join(workDir, 'warm-up.bin'), bytes)
  log(`memory warmed: ${mb(bytes)} MB written and deleted in the work directory in ${s.toFixed(1)} s`)
}

async function hashFile(file: string): Promise<string> {
  return createHash('sha256').update(await readFile(file)).digest('hex')
}

function describeTimes(label: string, ms: number[]): string {
  return `${label}: all done ${secs(Math.max(...ms))} s, per-host p50 ${secs(percentile(ms, 50))} s, p95 ${secs(percentile(ms, 95))} s`
}

async function startTrackers(count: number): Promise<Tracker[]> {
  const out: Tracker[] = []
  for (let i = 0; i < count; i++) out.push(await startTracker({ intervalMs: 10_000 }))
  return out
}

function agentFlagsOf(p: ReturnType<typeof parseCommand>): { engine?: string; segmentSize?: string } {
  const e = str(p, 'engine')
  const g = str(p, 'segment-size')
  return { ...(e ? { engine: e } : {}), ...(g ? { segmentSize: g } : {}) }
}

type CapsResult = Record<string, number | string | boolean | object>

/** One caps-mode setting: object size, agents, origin cap, per-agent upload cap, and whether to run the HTTP baseline. */
type CapsSetting = { F: number; N: number; U: number; u: number; http: boolean }

function capsSettingOf(p: ReturnType<typeof parseCommand>): CapsSetting {
  return {
    F: parseSize(str(p, 'size') ?? '128MB'), N: num(p, 'agents') ?? 16,
    U: parseRate(str(p, 'origin-rate') ?? '8MB/s'), u: parseRate(str(p, 'agent-upload') ?? '8MB/s'), http: !bool(p, 'skip-http'),
  }
}

async function runCaps(p: ReturnType<typeof parseCommand>, workDir: string, etcd: Service, timeoutMs: number, setting: CapsSetting): Promise<CapsResult> {
  const { F, N, U, u } = setting
  const bound = swarmBoundSeconds(F, N, U, u)
  const twoPhase = twoPhaseBoundSeconds(F, N, U, u)
  log(`\n== mode caps: F=${mb(F)} MB, N=${N}, U=${mb(U)} MB/s, u=${mb(u)} MB/s; bound T = max(F/U, N·F/(U+N·u)) = ${bound.toFixed(2)} s`)
  log(`   (a torrent published only once the leader has the whole object cannot beat F/U + max(F/u, (N-1)·F/(N·u)) = ${twoPhase.toFixed(2)} s)`)
  const origin = await startDemoOrigin({ size: F, rateBytesPerSec: U })
  const trackers = await startTrackers(num(p, 'trackers') ?? 2)
  let fleet: AgentFleet | undefined
  const result: CapsResult = { F, N, U, u, boundSeconds: bound, twoPhaseBoundSeconds: twoPhase }
  let colonyAll = Number.NaN
  try {
    try {
      fleet = await startAgentFleet(N, { workDir: path.join(workDir, 'caps'), etcd: etcd.url, trackers: trackers.map((t) => t.httpAnnounceUrl), allowHost: origin.hostPort, uploadLimit: u, ...agentFlagsOf(p) })
      log(`colony: ${N} agent processes up; every agent asks at once`)
      const r = await runColonyDownloads(fleet.agents, { url: origin.url, sha256: origin.sha256, timeoutMs, meterPids: fleet.agents.map((a) => a.pid) })
      const egress = origin.stats().egressBytes
      const verified = r.infos.filter((d) => d.sha256 === origin.sha256).length
      const leaders = r.infos.filter((d) => d.role === 'leader').length
      colonyAll = Math.max(...r.completionMs) / 1000
      log(describeTimes('colony', r.completionMs))
      for (const [i, d] of r.infos.entries()) {
        if (d.role === 'leader' || bool(p, 'verbose')) {
          log(`  agent ${i} ${d.role ?? '?'}: done at ${secs(r.completionMs[i] ?? Number.NaN)} s; ${mb(d.bytes.fromOrigin)} MB from origin, ${mb(d.bytes.fromPeers)} MB from peers, ${mb(d.bytes.uploaded)} MB uploaded`)
        }
      }
      log(`colony: ${verified}/${N} sha256 verified, ${leaders} leader(s), origin egress ${mb(egress)} MB = ${(egress / F).toFixed(3)} × F, agents' CPU ${r.cpuSeconds.toFixed(1)} s (Node ${r.agentCpuSeconds.toFixed(1)} s, engine children ${(r.cpuSeconds - r.agentCpuSeconds).toFixed(1)} s)`)
      const mc = r.machine
      log(`machine during the colony run: user ${mc.user.toFixed(1)} s, kernel ${mc.system.toFixed(1)} s, steal ${mc.steal.toFixed(1)} s (CPU the hypervisor kept; with kernel time, high when the VM is slow to hand out memory — see docs/benchmarks/swarm.md)`)
      Object.assign(result, {
        machineCpuSeconds: mc,
        colonyAllSeconds: colonyAll, colonyP50Seconds: percentile(r.completionMs, 50) / 1000, colonyP95Seconds: percentile(r.completionMs, 95) / 1000,
        originEgressBytes: egress, originEgressRatio: egress / F, verified, leaders, colonyCpuSeconds: r.cpuSeconds, colonyAgentNodeCpuSeconds: r.agentCpuSeconds, vsBound: colonyAll / bound,
      })
      log(`colony result: all complete ${colonyAll.toFixed(2)} s = ${(colonyAll / bound).toFixed(2)} × bound (target ≤ 1.3), `
        + `${(colonyAll / twoPhase).toFixed(2)} × the publish-after-hashing bound; origin egress ${(egress / F).toFixed(3)} × F (target ≤ 1.05)`)
    } catch (err) {
      // The baseline is still worth having: record the failure and go on.
      result.colonyError = (err as Error).message
      result.originEgressBytes = origin.stats().egressBytes
      log(`colony FAILED: ${(err as Error).message}; origin egress so far ${mb(origin.stats().egressBytes)} MB`)
    } finally {
      await fleet?.stop()
      fleet = undefined
    }
    if (setting.http) {
      const clients = num(p, 'http-clients') ?? N
      origin.resetStats()
      log(`plain HTTP: ${clients} clients fetch from the same origin capped at ${mb(U)} MB/s (expect ≈ ${(clients * F / U).toFixed(0)} s)`)
      const h = await runHttpClients(origin.url, clients, timeoutMs)
      const httpAll = Math.max(...h.completionMs) / 1000
      log(describeTimes('plain HTTP', h.completionMs))
      log(`plain HTTP: origin egress ${mb(origin.stats().egressBytes)} MB = ${(origin.stats().egressBytes / F).toFixed(2)} × F`)
      Object.assign(result, { httpClients: clients, httpAllSeconds: httpAll, httpP50Seconds: percentile(h.completionMs, 50) / 1000, httpP95Seconds: percentile(h.completionMs, 95) / 1000 })
      if (Number.isFinite(colonyAll)) {
        result.speedupVsHttp = httpAll / colonyAll
        log(`caps result: colony ${result.speedupVsHttp.toFixed(1)}× faster than plain HTTP (target ≥ 8)`)
      }
    }
    if (result.colonyError) throw new Error(`colony phase failed (HTTP baseline ${String(result.httpAllSeconds ?? 'not run')} s): ${String(result.colonyError)}`)
    return result
  } finally {
    await fleet?.stop()
    await Promise.all(trackers.map((t) => t.close()))
    await origin.close()
    // N copies of F live on tmpfs, i.e. in RAM: free them before the next phase.
    await rm(path.join(workDir, 'caps'), { recursive: true, force: true })
  }
}

/** Read and write syscalls per MB delivered: how many wake-ups and copies in and out of the kernel a byte costs. */
function perMB(io: { reads: number; writes: number }, bytes: number): string {
  return `syscalls per MB: ${(io.reads / (bytes / 1e6)).toFixed(1)} reads, ${(io.writes / (bytes / 1e6)).toFixed(1)} writes`
}

function efficiency(bytes: number, cpu: number): number {
  return bytes / 1e6 / Math.max(cpu, 0.01)
}

async function runCpu(p: ReturnType<typeof parseCommand>, workDir: string, etcd: Service, timeoutMs: number): Promise<Record<string, number | string>> {
  const F = parseSize(str(p, 'cpu-size') ?? str(p, 'size') ?? '128MB')
  const N = num(p, 'cpu-agents') ?? num(p, 'agents') ?? 16
  log(`\n== mode cpu: no caps, F=${mb(F)} MB, one seeder + ${N} leechers; MB delivered per CPU-second of all swarm processes`)
  const origin: DemoOrigin = await startDemoOrigin({ size: F })
  const warmSize = parseSize(str(p, 'cpu-warm-size') ?? String(F))
  const warmOrigin = warmSize > 0 ? await startDemoOrigin({ size: warmSize, path: '/warm.bin' }) : undefined
  const result: Record<string, number | string> = { F, N, warmSwarmBytes: warmSize }
  const dir = path.join(workDir, 'cpu')
  const warm = (): Promise<void> => warmBefore(workDir, 2 * (N + 1) * F)
  let torrent: Buffer | undefined
  try {
    if (!bool(p, 'skip-colony')) {
      const trackers = await startTrackers(num(p, 'trackers') ?? 2)
      let fleet: AgentFleet | undefined
      try {
        fleet = await startAgentFleet(N + 1, { workDir: path.join(dir, 'colony'), etcd: etcd.url, trackers: trackers.map((t) => t.httpAnnounceUrl), allowHost: '127.0.0.1', uploadLimit: 0, ...agentFlagsOf(p) })
        const [seeder, ...leechers] = fleet.agents
        if (!seeder) throw new Error('no seeder agent')
        if (warmOrigin) {
          // A freshly started agent's first swarm runs its hot paths in V8's interpreter and baseline tiers while
          // they are compiled (on V8's worker threads, in the measured window); an agent on a host runs for days
          // and has paid that long before. The warm-up swarm is another object, so the measured one still starts
          // from empty peers; `--cpu-warm-size 0` measures freshly started agents.
          const t = performance.now()
          await runColonyDownloads([seeder], { url: warmOrigin.url, timeoutMs, meterPids: [] })
          await runColonyDownloads(leechers, { url: warmOrigin.url, timeoutMs, meterPids: [] })
          log(`colony: warm-up swarm of ${mb(warmSize)} MB in ${((performance.now() - t) / 1000).toFixed(1)} s (outside the measured window)`)
        }
        // The seeder takes the object from the origin first, outside the measured window.
        await runColonyDownloads([seeder], { url: origin.url, timeoutMs, meterPids: [] })
        torrent = await fetchTorrent(origin.url, { agent: seeder.url })
        await warm()
        // No sha256 in the requests: as aria2c's, the agents' pieces are checked against the torrent's SHA-1, and
        // the files are hashed here, after the measured window.
        const r = await runColonyDownloads(leechers, { url: origin.url, timeoutMs, meterPids: fleet.agents.map((a) => a.pid), settle: true })
        let bad = 0
        for (const [i, d] of r.infos.entries()) {
          const file = path.join(leechers[i]?.dataDir ?? '', DATA_LAYOUT.objectsDir, d.key ?? '', d.name ?? '')
          if (await hashFile(file).catch(() => '') !== origin.sha256) bad++
        }
        const eff = efficiency(N * F, r.cpuSeconds)
        log(describeTimes('colony', r.completionMs))
        log(`colony: ${N - bad}/${N} verified; ${mb(N * F)} MB delivered with ${r.cpuSeconds.toFixed(1)} CPU-s (kernel ${r.kernelCpuSeconds.toFixed(1)}) → ${eff.toFixed(1)} MB per CPU-second; aggregate ${(N * F / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s; ${perMB(r.ioCalls, N * F)}`)
        Object.assign(result, { colonyAllSeconds: r.wallMs / 1000, colonyCpuSeconds: r.cpuSeconds, colonyKernelCpuSeconds: r.kernelCpuSeconds, colonyMBPerCpuSecond: eff, colonyVerified: N - bad })
      } finally {
        await fleet?.stop()
        await Promise.all(trackers.map((t) => t.close()))
        await rm(path.join(dir, 'colony'), { recursive: true, force: true })
      }
    }
    if (!bool(p, 'skip-aria2')) {
      const trackers = await startTrackers(num(p, 'trackers') ?? 2)
      try {
        const aria = path.join(dir, 'aria2')
        const seedDir = path.join(aria, 'seed')
        await mkdir(seedDir, { recursive: true })
        let name = 'object.bin'
        const torrentPath = path.join(aria, 'object.torrent')
        if (torrent) {
          // The very torrent colony made: same pieces, same piece length; its own trackers are overridden.
          name = (await parseTorrentFile(torrent)).name
          await writeFile(torrentPath, torrent)
          await writeFile(path.join(seedDir, name), origin.body)
        } else {
          await writeFile(path.join(seedDir, name), origin.body)
          await createTorrentFile(path.join(seedDir, name), torrentPath, trackers[0]?.httpAnnounceUrl ?? '', choosePieceLength(F))
        }
        await warm()
        const r: SwarmRunResult = await runAria2Swarm({
          torrentPath, seedDir, fileName: name, n: N, workDir: aria, trackers: trackers.map((t) => t.httpAnnounceUrl),
          seederAnnounced: () => trackers.some((t) => t.stats().seeders >= 1), timeoutMs, log,
          uploadLimit: parseRate(str(p, 'cpu-upload') ?? '0'),
        })
        let ok = 0
        for (const f of r.files) if (await hashFile(f) === origin.sha256) ok++
        const eff = efficiency(N * F, r.cpuSeconds)
        log(describeTimes('aria2c', r.completionMs))
        log(`aria2c: ${ok}/${N} verified; ${mb(N * F)} MB delivered with ${r.cpuSeconds.toFixed(1)} CPU-s (kernel ${r.kernelCpuSeconds.toFixed(1)}) → ${eff.toFixed(1)} MB per CPU-second; aggregate ${(N * F / 1e6 / (r.wallMs / 1000)).toFixed(1)} MB/s; ${perMB(r.ioCalls, N * F)}`)
        Object.assign(result, { aria2AllSeconds: r.wallMs / 1000, aria2CpuSeconds: r.cpuSeconds, aria2KernelCpuSeconds: r.kernelCpuSeconds, aria2MBPerCpuSecond: eff, aria2Verified: ok })
      } finally {
        await Promise.all(trackers.map((t) => t.close()))
      }
    }
    if (typeof result.colonyMBPerCpuSecond === 'number' && typeof result.aria2MBPerCpuSecond === 'number') {
      result.colonyVsAria2 = result.colonyMBPerCpuSecond / result.aria2MBPerCpuSecond
      log(`cpu result: colony delivers ${result.colonyMBPerCpuSecond.toFixed(1)} MB/CPU-s, aria2c ${result.aria2MBPerCpuSecond.toFixed(1)} MB/CPU-s → colony at ${(result.colonyVsAria2 * 100).toFixed(0)}% of the native client's efficiency`)
    }
    return result
  } finally {
    await origin.close()
    await warmOrigin?.close()
  }
}

/** The runs' values of `key` that are numbers. */
function valuesOf(runs: readonly Record<string, unknown>[], key: string): number[] {
  return runs.map((r) => r[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v))
}

/** Median and worst of `key` over the runs (worst = highest unless `lowerIsWorse`); undefined without values. */
function spread(runs: readonly Record<string, unknown>[], key: string, lowerIsWorse = false): { median: number; worst: number; n: number } | undefined {
  const v = valuesOf(runs, key)
  if (v.length === 0) return undefined
  return { median: percentile(v, 50), worst: lowerIsWorse ? Math.min(...v) : Math.max(...v), n: v.length }
}

function spreadLine(label: string, s: { median: number; worst: number; n: number } | undefined, digits: number, unit = ''): string {
  return s ? `${label}: median ${s.median.toFixed(digits)}${unit}, worst ${s.worst.toFixed(digits)}${unit} (${s.n} runs)` : `${label}: no successful run`
}

/** Runs `once` `runs` times (run i gets its index); a failed run is recorded and the next one goes on. */
async function repeat(runs: number, label: string, once: (i: number) => Promise<Record<string, unknown>>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = []
  for (let i = 0; i < runs; i++) {
    if (runs > 1) log(`\n-- ${label}: run ${i + 1} of ${runs}`)
    try { out.push(await once(i)) } catch (err) {
      out.push({ error: (err as Error).message })
      log(`${label} run ${i + 1} FAILED: ${(err as Error).message}`)
    }
  }
  return out
}

/** caps mode, `runs` times: the HTTP baseline only in the first run (it takes N·F/U and its cap makes it steady). */
async function capsRuns(p: ReturnType<typeof parseCommand>, workDir: string, etcd: Service, timeoutMs: number, setting: CapsSetting, runs: number): Promise<Record<string, unknown>> {
  let httpAll: number | undefined
  const all = await repeat(runs, `caps N=${setting.N}`, async (i) => {
    const r = await runCaps(p, workDir, etcd, timeoutMs, { ...setting, http: setting.http && i === 0 })
    if (typeof r.httpAllSeconds === 'number') httpAll = r.httpAllSeconds
    else if (httpAll !== undefined && typeof r.colonyAllSeconds === 'number') r.speedupVsHttp = httpAll / r.colonyAllSeconds
    return r
  })
  const summary = {
    allSeconds: spread(all, 'colonyAllSeconds'), vsBound: spread(all, 'vsBound'), originEgressRatio: spread(all, 'originEgressRatio'),
    speedupVsHttp: spread(all, 'speedupVsHttp', true), failed: all.filter((r) => r.error !== undefined || r.colonyError !== undefined).length,
  }
  if (runs > 1) {
    log(`\ncaps N=${setting.N} over ${runs} runs:`)
    log(`  ${spreadLine('all complete', summary.allSeconds, 2, ' s')}`)
    log(`  ${spreadLine('× bound', summary.vsBound, 2)}`)
    log(`  ${spreadLine('origin egress × F', summary.originEgressRatio, 3)}`)
    log(`  ${spreadLine('× faster than plain HTTP', summary.speedupVsHttp, 1)}`)
  }
  return { setting, runs: all, summary }
}

/** cpu mode, `runs` times: colony's and aria2c's MB per CPU-second (lower is worse) and colony's share of aria2c's. */
async function cpuRuns(p: ReturnType<typeof parseCommand>, workDir: string, etcd: Service, timeoutMs: number, runs: number): Promise<Record<string, unknown>> {
  const all = await repeat(runs, 'cpu', () => runCpu(p, workDir, etcd, timeoutMs))
  const summary = {
    colonyMBPerCpuSecond: spread(all, 'colonyMBPerCpuSecond', true), aria2MBPerCpuSecond: spread(all, 'aria2MBPerCpuSecond', true),
    colonyVsAria2: spread(all, 'colonyVsAria2', true), colonyAllSeconds: spread(all, 'colonyAllSeconds'), aria2AllSeconds: spread(all, 'aria2AllSeconds'),
  }
  if (runs > 1) {
    log(`\ncpu over ${runs} runs (worst = lowest efficiency, longest time):`)
    log(`  ${spreadLine('colony MB/CPU-s', summary.colonyMBPerCpuSecond, 1)}`)
    log(`  ${spreadLine('aria2c MB/CPU-s', summary.aria2MBPerCpuSecond, 1)}`)
    log(`  ${spreadLine('colony / aria2c', summary.colonyVsAria2, 2)}`)
    log(`  ${spreadLine('colony all complete', summary.colonyAllSeconds, 2, ' s')}`)
    log(`  ${spreadLine('aria2c all complete', summary.aria2AllSeconds, 2, ' s')}`)
  }
  return { runs: all, summary }
}

/** The scaling step: caps mode at each N with the scaling rates (no HTTP baseline); a table of completion vs the bound. */
async function scalingRuns(p: ReturnType<typeof parseCommand>, workDir: string, etcd: Service, timeoutMs: number, runs: number): Promise<Record<string, unknown>> {
  const counts = (str(p, 'scaling-agents') ?? '8,16,32').split(',').map((x) => Number(x.trim()))
  if (counts.some((n) => !(Number.isInteger(n) && n >= 2))) throw new Error('--scaling-agents wants whole numbers ≥ 2, comma-separated')
  const base: CapsSetting = {
    F: parseSize(str(p, 'scaling-size') ?? str(p, 'size') ?? '128MB'), N: 0,
    U: parseRate(str(p, 'scaling-origin-rate') ?? '4MB/s'), u: parseRate(str(p, 'scaling-agent-upload') ?? '2MB/s'), http: false,
  }
  log(`\n== scaling: caps mode at N = ${counts.join(', ')}; F=${mb(base.F)} MB, U=${mb(base.U)} MB/s, u=${mb(base.u)} MB/s, ${runs} run(s) each`)
  const rows: Record<string, unknown>[] = []
  for (const N of counts) rows.push({ N, ...(await capsRuns(p, workDir, etcd, timeoutMs, { ...base, N }, runs)) })
  log('\nscaling: N | bound T (s) | all complete, median (s) | median × T | worst × T | worst origin egress × F')
  for (const r of rows) {
    const s = r.summary as { allSeconds?: { median: number }; vsBound?: { median: number; worst: number }; originEgressRatio?: { worst: number } }
    const T = swarmBoundSeconds(base.F, r.N as number, base.U, base.u)
    const f = (v: number | undefined, d: number): string => (v === undefined ? 'n/a' : v.toFixed(d))
    log(`scaling: ${String(r.N).padStart(2)} | ${T.toFixed(2)} | ${f(s.allSeconds?.median, 2)} | ${f(s.vsBound?.median, 2)} | ${f(s.vsBound?.worst, 2)} | ${f(s.originEgressRatio?.worst, 3)}`)
  }
  return { setting: base, rows }
}

async function main(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv)
  if (p.help) { process.stdout.write(formatHelp(SPEC)); return 0 }
  const mode = str(p, 'mode') ?? 'both'
  if (!['caps', 'cpu', 'both'].includes(mode)) throw new Error(`--mode is caps, cpu or both, not ${mode}`)
  const timeoutMs = parseDuration(str(p, 'timeout') ?? '10m')
  const workDir = await mkdtemp(path.join(str(p, 'work-dir') ?? '/dev/shm', 'colony-bench-swarm-'))
  const load = os.loadavg()[0] ?? 0
  log(`bench/swarm on ${os.cpus().length} cores, load average ${load.toFixed(2)} at start (${load > 1 ? 'the machine is busy: others share it' : 'quiet'}); data in ${workDir}`)
  const selfCpu0 = readCpuSeconds(process.pid) ?? 0
  const etcd = await startEtcd()
  if (etcd.proc) track(etcd.proc)
  const results: Record<string, unknown> = { startedAt: new Date().toISOString(), loadAverageAtStart: load, cores: os.cpus().length }
  let failed = false
  const runs = num(p, 'runs') ?? 1
  if (!(Number.isInteger(runs) && runs >= 1)) throw new Error(`--runs wants a whole number ≥ 1, not ${runs}`)
  const phase = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
    try {
      results[name] = await fn()
    } catch (err) {
      failed = true
      results[name] = { error: (err as Error).message }
      log(`${name} mode FAILED: ${(err as Error).message}`)
    }
  }
  try {
    const failedRuns = (r: unknown): boolean => ((r as { runs?: Record<string, unknown>[] }).runs ?? []).every((x) => x.error !== undefined)
    const phaseOfRuns = async (name: string, fn: () => Promise<unknown>): Promise<void> => {
      await phase(name, async () => {
        const r = await fn()
        if (failedRuns(r)) throw new Error(`every ${name} run failed`)
        return r
      })
    }
    if (mode === 'caps' || mode === 'both') await phaseOfRuns('caps', () => capsRuns(p, workDir, etcd, timeoutMs, capsSettingOf(p), runs))
    if (mode === 'cpu' || mode === 'both') await phaseOfRuns('cpu', () => cpuRuns(p, workDir, etcd, timeoutMs, runs))
    if (bool(p, 'scaling')) await phase('scaling', () => scalingRuns(p, workDir, etcd, timeoutMs, runs))
  } finally {
    await etcd.stop()
    await rm(workDir, { recursive: true, force: true })
  }
  results.loadAverageAtEnd = os.loadavg()[0]
  results.benchProcessCpuSeconds = (readCpuSeconds(process.pid) ?? 0) - selfCpu0
  log(`\nload average at end ${(os.loadavg()[0] ?? 0).toFixed(2)}; the bench process itself (origin, trackers, HTTP clients) used ${(results.benchProcessCpuSeconds as number).toFixed(1)} CPU-s`)
  const jsonPath = str(p, 'json')
  if (jsonPath) await writeFile(jsonPath, `${JSON.stringify(results, null, 2)}\n`)
  return failed ? 1 : 0
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { killAll(); process.stderr.write(`bench/swarm: ${signal}, stopped every process it started\n`); process.exit(130) })
}
process.exitCode = await main(process.argv.slice(2))
