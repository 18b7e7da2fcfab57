// colony's side of the bench: real `colony swarm agent` processes sharing an etcd index.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync } from 'node:fs'
import { mkdir } from 'node:fs/promises'
import path from 'node:path'
import { getDownload, requestDownload, type DownloadInfo } from '../../src/swarm/index.ts'
import { stopProcess, waitFor } from '../../support/services.ts'
import { track } from './children.ts'
import { CpuMeter, readCpuSeconds, readMachineCpu, untilQuiet, withDescendants } from './proc-stats.ts'

const BIN = new URL('../../bin/colony.js', import.meta.url).pathname

export type AgentProcessOptions = {
  dataDir: string
  etcd: string
  trackers: string[]
  allowHost: string
  /** bytes/s, 0 = none. */
  uploadLimit: number
  agentId: string
  /** BitTorrent engine passed to the agent (--engine). @defaultValue the agent's default */
  engine?: string
  /** Segment size passed to the agent (--segment-size). @defaultValue the agent's default */
  segmentSize?: string
}

export type AgentProcess = { url: string; pid: number; proc: ChildProcess; dataDir: string; output: () => string; stop: () => Promise<void> }

export async function startAgentProcess(options: AgentProcessOptions): Promise<AgentProcess> {
  await mkdir(options.dataDir, { recursive: true })
  const args = [
    BIN, 'swarm', 'agent', '--api', '127.0.0.1:0', '--listen', '0', '--data', options.dataDir,
    '--etcd', options.etcd, '--etcd-prefix', `bench/${process.pid}/`, '--allow-host', options.allowHost,
    '--upload-limit', String(options.uploadLimit), '--seed-time', '1h', '--agent-id', options.agentId,
    // One address per agent, as on a fleet of hosts: the trackers (on loopback) see every agent at 127.0.0.1, and
    // the index must name the same address. The default, the host's first non-loopback IPv4, would make each agent
    // reachable at two addresses (twice the connections, and the second address is not exempt from the per-IP cap:
    // 16 agents behind it hit the cap a fleet of separate hosts never meets).
    '--advertise-host', '127.0.0.1',
    ...options.trackers.flatMap((t) => ['--tracker', t]),
    ...(options.engine ? ['--engine', options.engine] : []),
    ...(options.segmentSize ? ['--segment-size', options.segmentSize] : []),
  ]
  // COLONY_BENCH_CPU_PROF=DIR: the first COLONY_BENCH_CPU_PROF_AGENTS (3) agents write a --cpu-prof there on exit.
  const profDir = process.env.COLONY_BENCH_CPU_PROF
  const profiled = profDir && Number(/(\d+)$/.exec(options.agentId)?.[1] ?? 99) < Number(process.env.COLONY_BENCH_CPU_PROF_AGENTS ?? 3)
  // COLONY_BENCH_NODE_ARGS: extra Node flags for every agent (V8 tuning experiments), space-separated.
  const extra = (process.env.COLONY_BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean)
  const nodeArgs = [...extra, ...(profiled ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`, `--cpu-prof-name=${options.agentId}.cpuprofile`] : [])]
  if (profiled) process.stderr.write(`[bench] ${options.agentId} spawned at ${Date.now()}\n`)
  const proc = track(spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, COLONY_LOG_LEVEL: process.env.COLONY_LOG_LEVEL ?? 'warn' } }))
  let out = ''
  let stdout = ''
  let url = ''
  // COLONY_BENCH_AGENT_LOGS=DIR: each agent's output (set COLONY_LOG_LEVEL=info or debug) also to DIR/<agent-id>.log.
  const logDir = process.env.COLONY_BENCH_AGENT_LOGS
  const keep = logDir ? (b: Buffer): void => appendFileSync(path.join(logDir, `${options.agentId}.log`), b) : undefined
  proc.stdout.on('data', (b: Buffer) => { if (!url) stdout += b.toString(); keep?.(b) })
  proc.stderr.on('data', (b: Buffer) => { out = (out + b.toString()).slice(-4000); keep?.(b) })
  try {
    // Generous: on a shared 2-core machine a Node process can take many seconds to load colony.
    url = await waitFor(() => {
      if (proc.exitCode !== null) throw new Error(`agent ${options.agentId} exited ${proc.exitCode}: ${out}`)
      return /^(http:\/\/\S+)\n/m.exec(stdout)?.[1]
    }, { timeoutMs: 120_000, message: `agent ${options.agentId} printed its API URL` })
  } catch (err) {
    await stopProcess(proc)
    throw err
  }
  if (proc.pid === undefined) throw new Error('agent did not start')
  return { url, pid: proc.pid, proc, dataDir: options.dataDir, output: () => out, stop: () => stopProcess(proc) }
}

export type AgentFleet = { agents: AgentProcess[]; stop: () => Promise<void> }

export async function startAgentFleet(count: number, options: Omit<AgentProcessOptions, 'dataDir' | 'agentId'> & { workDir: string; firstId?: number }): Promise<AgentFleet> {
  const agents: AgentProcess[] = []
  const stop = async (): Promise<void> => { await Promise.all(agents.map((a) => a.stop())) }
  try {
    // Started a few at a time: 16 Node processes compiling at once on 2 cores would each take many seconds.
    for (let i = 0; i < count; i += 4) {
      const batch = Array.from({ length: Math.min(4, count - i) }, (_, k) => {
        const id = (options.firstId ?? 0) + i + k
        return startAgentProcess({ ...options, dataDir: path.join(options.workDir, `agent-${id}`), agentId: `bench-agent-${id}` })
      })
      const started = await Promise.allSettled(batch)
      for (const r of started) if (r.status === 'fulfilled') agents.push(r.value)
      const failed = started.find((r) => r.status === 'rejected')
      if (failed) throw failed.reason
    }
  } catch (err) {
    await stop()
    throw err
  }
  return { agents, stop }
}

/** The fleet is settled below this CPU use (CPU-seconds per second, all agents together): their idle ticks. */
const SETTLED_CPU_PER_SECOND = 0.1
/** Longest wait for a settled fleet; the downloads start then anyway. */
const SETTLE_MAX_MS = 60_000

export type ColonyRunResult = {
  completionMs: number[]
  wallMs: number
  cpuSeconds: number
  /** Of cpuSeconds, what the kernel spent for them (loopback TCP, file writes). */
  kernelCpuSeconds: number
  /** Read and write syscalls of the same processes over the same window. */
  ioCalls: { reads: number; writes: number }
  /** Of cpuSeconds, what the agents' Node processes used (the rest is their engine children). */
  agentCpuSeconds: number
  /** The whole machine's CPU seconds during the run, by kind: a run with much steal or kernel time was slowed by the VM. */
  machine: { user: number; system: number; steal: number }
  infos: DownloadInfo[]
}

/**
 * Every agent asks for the object at once; resolves when all are complete (seeding). Completion times
 * come from each agent's own `completedAt`, so the polling interval does not blur them. `meterPids` are
 * the processes whose CPU counts (the asking agents plus, in mode 2, the seeder).
 */
export async function runColonyDownloads(agents: AgentProcess[], options: { url: string; sha256?: string; timeoutMs: number; meterPids: number[]; settle?: boolean }): Promise<ColonyRunResult> {
  const meter = new CpuMeter()
  // The agents and their children (the aria2c engine), found once: they start with the agent.
  const meterPids = withDescendants(options.meterPids)
  // `settle`: the window starts once the agents' start-up work is done (see untilQuiet), as on hosts whose agents
  // run all day; an installed package runs compiled JavaScript and has no such work at all.
  if (options.settle) {
    const waited = await untilQuiet(meterPids, { cpuPerSecond: SETTLED_CPU_PER_SECOND, maxMs: SETTLE_MAX_MS })
    process.stdout.write(`colony: agents settled after ${(waited / 1000).toFixed(1)} s (under ${SETTLED_CPU_PER_SECOND} CPU-s/s together)\n`)
  }
  meter.mark(meterPids)
  // The agents alone (Node), to tell the agent's own cost from its engine's.
  const nodeMeter = new CpuMeter()
  nodeMeter.mark(options.meterPids)
  const t0 = performance.now()
  const startWall = Date.now()
  const machine0 = readMachineCpu()
  if (process.env.COLONY_BENCH_CPU_PROF) process.stderr.write(`[bench] requests at ${startWall}\n`)
  const ids = await Promise.all(agents.map(async (a) => (await requestDownload(options.url, { agent: a.url, ...(options.sha256 ? { sha256: options.sha256 } : {}) })).id))
  const infos = new Map<number, DownloadInfo>()
  const latest = new Map<number, DownloadInfo>()
  const failures = new Map<number, number>()
  const progress = (): string => agents.map((_, i) => {
    const d = latest.get(i)
    return d ? `${d.state}:${Math.round((100 * d.bytes.done) / Math.max(1, d.length ?? 1))}%` : '?'
  }).join(' ')
  // COLONY_BENCH_CPU_TIMELINE=FILE: each agent's (Node) and its children's CPU seconds, once a second, as JSON lines.
  const timeline = process.env.COLONY_BENCH_CPU_TIMELINE
  const kids = timeline ? options.meterPids.map((p) => withDescendants([p]).slice(1)) : []
  const tick = (): void => {
    if (!timeline) return
    const row = { t: +((performance.now() - t0) / 1000).toFixed(2), node: options.meterPids.map((p) => readCpuSeconds(p) ?? null), engine: kids.map((k) => k.reduce((a, c) => a + (readCpuSeconds(c) ?? 0), 0)) }
    appendFileSync(timeline, JSON.stringify(row) + '\n')
  }
  const ticker = timeline ? setInterval(tick, 250) : undefined
  tick()
  // COLONY_BENCH_PROGRESS_TIMELINE=FILE: every agent's bytes (done, from peers, uploaded) and peer count at each
  // poll, completed agents included, to see where upload capacity goes unused.
  const progressFile = process.env.COLONY_BENCH_PROGRESS_TIMELINE
  let fatal: Error | undefined
  await waitFor(async () => {
    meter.sample(meterPids)
    nodeMeter.sample(options.meterPids)
    await Promise.all(agents.map(async (a, i) => {
      if (infos.has(i) && !progressFile) return
      let d: DownloadInfo
      try {
        d = await getDownload(ids[i] ?? '', { agent: a.url, signal: AbortSignal.timeout(10_000) })
        failures.set(i, 0)
      } catch (err) {
        // A busy agent can miss a poll; five in a row is a dead one.
        const n = (failures.get(i) ?? 0) + 1
        failures.set(i, n)
        if (n >= 5 || a.proc.exitCode !== null) fatal ??= new Error(`agent ${i} unreachable: ${(err as Error).message} ${a.output()}`)
        return
      }
      latest.set(i, d)
      if (d.state === 'failed' || d.state === 'cancelled') fatal ??= new Error(`agent ${i} download ${d.state}: ${d.error?.code ?? ''} ${d.error?.message ?? ''}`)
      if ((d.state === 'seeding' || d.state === 'done') && !infos.has(i)) infos.set(i, d)
    }))
    if (progressFile) {
      const at = +((performance.now() - t0) / 1000).toFixed(2)
      const row = agents.map((_, i) => { const d = latest.get(i); return d ? [d.bytes.done, d.bytes.fromPeers, d.bytes.uploaded, d.peers] : null })
      appendFileSync(progressFile, JSON.stringify({ t: at, agents: row }) + '\n')
    }
    return fatal !== undefined || infos.size === agents.length
  }, { timeoutMs: options.timeoutMs, intervalMs: 1000, message: `all ${agents.length} colony agents complete` }).then(() => {
    // waitFor retries a check that throws: a failed agent ends the wait here instead of at the timeout.
    if (fatal) throw fatal
  }).catch((err: unknown) => {
    throw new Error(`${(err as Error).message}; ${infos.size}/${agents.length} complete after ${((performance.now() - t0) / 1000).toFixed(0)} s; agents: ${progress()}`)
  })
  meter.sample(meterPids)
  nodeMeter.sample(options.meterPids)
  tick()
  clearInterval(ticker)
  const wallMs = performance.now() - t0
  // Re-read every agent at the end: an early finisher (the leader) kept uploading after it completed.
  const list = await Promise.all(agents.map(async (a, i) => {
    try { return await getDownload(ids[i] ?? '', { agent: a.url, signal: AbortSignal.timeout(10_000) }) } catch { return infos.get(i) as DownloadInfo }
  }))
  const completionMs = list.map((d) => (d.completedAt ? Date.parse(d.completedAt) - startWall : wallMs))
  const m = readMachineCpu()
  const machine = { user: m.user - machine0.user, system: m.system - machine0.system, steal: m.steal - machine0.steal }
  return { completionMs, wallMs: Math.min(wallMs, Math.max(...completionMs)), cpuSeconds: meter.total(), kernelCpuSeconds: meter.split().system, ioCalls: meter.ioCalls(), agentCpuSeconds: nodeMeter.total(), machine, infos: list }
}
