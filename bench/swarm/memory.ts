// bench/swarm/memory.ts: how much memory an agent holds while it downloads and seeds a large object.
// nginx serves a sparse file of --size (default 2 GiB); one leader agent and one follower ask for it at once; the
// RSS and VmHWM (peak RSS) of both agent processes are sampled from /proc every 200 ms until both complete.
// Everything it starts is stopped and its files (several GB on disk) are deleted at the end, even on failure.
import { rmSync } from 'node:fs'
import { mkdir, mkdtemp, readFile, rm, statfs, truncate, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { formatHelp, parseCommand, str, type CommandSpec } from '../../src/shared/cli-options.ts'
import { parseDuration, parseSize } from '../../src/shared/units.ts'
import { startTracker } from '../../src/swarm/index.ts'
import { startEtcd, startNginx } from '../../support/services.ts'
import { killAll, track } from './children.ts'
import { runColonyDownloads, startAgentFleet, type AgentFleet } from './colony-swarm.ts'

const SPEC: CommandSpec = {
  name: 'node bench/swarm/memory.ts',
  usage: '[--size S] [--work-dir DIR] [--timeout D]',
  summary: 'Peak memory of a leader agent and a follower downloading and seeding one large object (a sparse file served by nginx); '
    + 'prints the peak RSS (VmHWM) of each agent process. Needs 2 × S free in --work-dir (a disk, not tmpfs: tmpfs is RAM).',
  options: {
    size: { type: 'string', description: 'object size', default: '2GiB', placeholder: 'size' },
    'work-dir': { type: 'string', description: 'scratch directory on a disk', default: os.tmpdir(), placeholder: 'dir' },
    timeout: { type: 'string', description: 'limit for the downloads', default: '15m', placeholder: 'duration' },
    'segment-size': { type: 'string', description: "agents' --segment-size (default: the agent's)", placeholder: 'size' },
  },
}

const log = (line: string): void => { process.stdout.write(`${line}\n`) }
/** The scratch directory, removed on every exit (the agents' copies are GBs on disk). */
let workDir: string | undefined
const MiB = 1024 * 1024

/** VmRSS and VmHWM of a live process in bytes (/proc/<pid>/status); undefined once it has exited. */
async function readMemory(pid: number): Promise<{ rss: number; hwm: number } | undefined> {
  let text: string
  try { text = await readFile(`/proc/${pid}/status`, 'utf8') } catch { return undefined }
  const kb = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text)?.[1] ?? Number.NaN) * 1024
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') }
}

/** What the agent's own /metrics says its memory is: V8 heap in use, and memory outside it (Buffers: piece data). */
type Breakdown = { heapUsed: number; external: number }

async function readBreakdown(api: string): Promise<Breakdown | undefined> {
  try {
    const text = await (await fetch(`${api}/metrics`, { signal: AbortSignal.timeout(5000) })).text()
    const v = (name: string): number => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(text)?.[1] ?? Number.NaN)
    return { heapUsed: v('colony_nodejs_heap_size_used_bytes'), external: v('colony_nodejs_external_memory_bytes') }
  } catch { return undefined }
}

async function main(argv: string[]): Promise<number> {
  const p = parseCommand(SPEC, argv)
  if (p.help) { process.stdout.write(formatHelp(SPEC)); return 0 }
  const size = parseSize(str(p, 'size') ?? '2GiB')
  const timeoutMs = parseDuration(str(p, 'timeout') ?? '15m')
  const base = str(p, 'work-dir') ?? os.tmpdir()
  const fs = await statfs(base)
  const free = fs.bavail * fs.bsize
  if (free < 2.5 * size) throw new Error(`${base} has ${(free / 1e9).toFixed(1)} GB free; the bench needs about ${(2.5 * size / 1e9).toFixed(1)} GB`)
  const work = await mkdtemp(path.join(base, 'colony-bench-memory-'))
  workDir = work
  log(`bench/swarm/memory: ${(size / MiB).toFixed(0)} MiB object, leader + follower; ${os.cpus().length} cores, load average ${(os.loadavg()[0] ?? 0).toFixed(2)}; data in ${work}`)
  const root = path.join(work, 'www')
  await mkdir(root, { recursive: true })
  const objectFile = path.join(root, 'object.bin')
  // Sparse: nginx reads zeros from the holes, nothing is written to disk for the origin's copy.
  await writeFile(objectFile, '')
  await truncate(objectFile, size)
  const etcd = await startEtcd()
  if (etcd.proc) track(etcd.proc)
  const nginx = await startNginx({ root })
  if (nginx.proc) track(nginx.proc)
  const tracker = await startTracker({ intervalMs: 10_000 })
  let fleet: AgentFleet | undefined
  let failed = false
  try {
    const segmentSize = str(p, 'segment-size')
    fleet = await startAgentFleet(2, {
      workDir: path.join(work, 'agents'), etcd: etcd.url, trackers: [tracker.httpAnnounceUrl], allowHost: `127.0.0.1:${nginx.port}`, uploadLimit: 0,
      ...(segmentSize ? { segmentSize } : {}),
    })
    const pids = fleet.agents.map((a) => a.pid)
    const peak = pids.map(() => ({ rss: 0, hwm: 0, heapUsed: 0, external: 0 }))
    let ticks = 0
    const sampler = setInterval(() => {
      const scrape = ticks++ % 10 === 0
      void Promise.all(pids.map(async (pid, i) => {
        const m = await readMemory(pid)
        const pk = peak[i]
        if (m && pk) { pk.rss = Math.max(pk.rss, m.rss); pk.hwm = Math.max(pk.hwm, m.hwm) }
        // Every 2 s: the agent's heap and Buffer memory, to tell which of them an RSS peak is made of.
        const b = scrape ? await readBreakdown((fleet as AgentFleet).agents[i]?.url ?? '') : undefined
        if (b && pk) { pk.heapUsed = Math.max(pk.heapUsed, b.heapUsed || 0); pk.external = Math.max(pk.external, b.external || 0) }
      }))
    }, 200)
    const before = await Promise.all(pids.map(readMemory))
    const url = `${nginx.url}/object.bin`
    const r = await runColonyDownloads(fleet.agents, { url, timeoutMs, meterPids: pids }).finally(() => clearInterval(sampler))
    // A last reading: VmHWM is the kernel's own peak, so nothing between two samples is missed.
    const after = await Promise.all(pids.map(readMemory))
    for (const [i, d] of r.infos.entries()) {
      const pk = peak[i] as { rss: number; hwm: number; heapUsed: number; external: number }
      const hwm = Math.max(pk.hwm, after[i]?.hwm ?? 0)
      log(`agent ${i} ${d.role ?? '?'}: complete at ${((r.completionMs[i] ?? 0) / 1000).toFixed(1)} s, ${(d.bytes.fromOrigin / MiB).toFixed(0)} MiB from origin, `
        + `${(d.bytes.fromPeers / MiB).toFixed(0)} MiB from peers, ${(d.bytes.uploaded / MiB).toFixed(0)} MiB uploaded; RSS at start ${((before[i]?.rss ?? 0) / MiB).toFixed(0)} MiB, `
        + `peak RSS (VmHWM) ${(hwm / MiB).toFixed(0)} MiB (target ≤ 256), at the end ${((after[i]?.rss ?? 0) / MiB).toFixed(0)} MiB; `
        + `largest V8 heap in use ${(pk.heapUsed / MiB).toFixed(0)} MiB, largest memory outside it (Buffers) ${(pk.external / MiB).toFixed(0)} MiB`)
      if (hwm > 256 * MiB) failed = true
    }
    log(`agents' CPU ${r.cpuSeconds.toFixed(1)} s over ${(r.wallMs / 1000).toFixed(1)} s`)
  } finally {
    await fleet?.stop()
    await tracker.close()
    await nginx.stop()
    await etcd.stop()
    await rm(work, { recursive: true, force: true })
  }
  return failed ? 1 : 0
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll()
    if (workDir) rmSync(workDir, { recursive: true, force: true })
    process.stderr.write(`bench/swarm/memory: ${signal}, stopped every process it started and removed ${workDir ?? 'nothing'}\n`)
    process.exit(130)
  })
}
process.exitCode = await main(process.argv.slice(2))
