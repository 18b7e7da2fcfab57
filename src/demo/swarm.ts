// The swarm part of `colony demo`: a sample origin, two trackers, one in-memory index and several agents.
import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { describeError } from '../shared/errors.ts'
import { formatBytes, formatDuration } from '../shared/units.ts'
import {
  createMemoryIndex, getDownload, requestDownload, startAgent, startTracker, SwarmError, type Agent, type DownloadInfo, type Tracker,
} from '../swarm/index.ts'
import { startDemoOrigin, type DemoOrigin } from './swarm-origin.ts'

export type SwarmDemoOptions = {
  /** Where progress lines go. @defaultValue a line on stdout */
  log?: (line: string) => void
  /** Agents (one process, one in-memory index: the single-host setup). @defaultValue 4 */
  agents?: number
  /** Object size in bytes. @defaultValue 16 MiB */
  size?: number
  /** Stop one of the two trackers once the downloads are under way, to show the agents do not need it. @defaultValue true */
  stopOneTracker?: boolean
  /** Give up after this long. @defaultValue 120_000 */
  timeoutMs?: number
  /** Scratch directory (removed afterwards). @defaultValue a new directory under os.tmpdir() */
  dir?: string
}

export type SwarmDemoResult = { ok: boolean; originEgressRatio: number }

/**
 * Polls an agent's API until the download is complete. The demo's agents share this process's event loop,
 * so a poll can meet a keep-alive socket the server is closing at that instant: a failed poll is retried.
 */
async function waitComplete(agent: string, id: string, timeoutMs: number): Promise<DownloadInfo> {
  const deadline = Date.now() + timeoutMs
  let failures = 0
  for (;;) {
    try {
      const d = await getDownload(id, { agent })
      failures = 0
      if (d.state === 'seeding' || d.state === 'done') return d
      if (d.state === 'failed' || d.state === 'cancelled') throw new Error(`download ${d.state}: ${d.error ? `${d.error.code}: ${d.error.message}` : 'no reason given'}`)
    } catch (err) {
      if (!(err instanceof SwarmError && err.code === 'SWARM_AGENT_UNREACHABLE') || ++failures > 5) throw err
    }
    if (Date.now() > deadline) throw new Error(`download ${id} on ${agent} not complete after ${formatDuration(timeoutMs)}`)
    await new Promise((r) => setTimeout(r, 200))
  }
}

/**
 * A local origin, two trackers, one in-memory index and several agents; every agent asks for the same
 * object through its REST API at once. Exactly one of them should fetch it from the origin — the ratio
 * printed at the end (origin bytes / object size) shows it — and every copy must match the origin.
 */
export async function runSwarmDemo(options: SwarmDemoOptions = {}): Promise<SwarmDemoResult> {
  const log = options.log ?? ((line: string) => { process.stdout.write(`${line}\n`) })
  const count = Math.max(2, options.agents ?? 4)
  const size = options.size ?? 16 * 1024 * 1024
  const timeoutMs = options.timeoutMs ?? 120_000
  const dir = options.dir ?? await mkdtemp(path.join(os.tmpdir(), 'colony-swarm-demo-'))
  const trackers: Tracker[] = []
  const agents: Agent[] = []
  const index = createMemoryIndex()
  let origin: DemoOrigin | undefined
  try {
    origin = await startDemoOrigin({ size })
    log(`swarm: origin ${origin.url} serves ${formatBytes(size)} (sha256 ${origin.sha256.slice(0, 16)}…)`)
    for (let i = 0; i < 2; i++) trackers.push(await startTracker({ intervalMs: 5_000 }))
    const announce = trackers.map((t) => t.httpAnnounceUrl)
    log(`swarm: trackers ${announce.join(' ')}`)
    for (let i = 0; i < count; i++) {
      agents.push(await startAgent({
        dataDir: path.join(dir, `agent-${i}`), index, trackers: announce, allowHosts: [origin.hostPort],
        agentId: `demo-agent-${i}`, seedTimeMs: timeoutMs, resume: false,
      }))
    }
    log(`swarm: ${count} agents, APIs ${agents.map((a) => a.url).join(' ')}`)

    const started = Date.now()
    const objectUrl = origin.url
    const sha256 = origin.sha256
    const ids = await Promise.all(agents.map(async (a) => (await requestDownload(objectUrl, { agent: a.url, sha256 })).id))
    if (options.stopOneTracker ?? true) {
      await trackers[0]?.close()
      log(`swarm: stopped tracker ${announce[0]} — the agents carry on with the other one`)
    }
    const settled = await Promise.allSettled(agents.map((a, i) => waitComplete(a.url, ids[i] ?? '', timeoutMs)))
    const elapsed = Date.now() - started

    // Byte counters may lag (the aria2 engine reports them from status polls every 1–2 s once everything seeds): read
    // again until every byte a peer received from peers shows up as uploaded by some agent, or 4 s have passed.
    const finals: (DownloadInfo | undefined)[] = settled.map((r) => (r.status === 'fulfilled' ? r.value : undefined))
    for (const until = Date.now() + 4000; ;) {
      for (const [i, r] of settled.entries()) {
        // Re-read at the end: an early finisher (the leader) went on uploading after it completed.
        if (r.status === 'fulfilled') finals[i] = await getDownload(ids[i] ?? '', { agent: agents[i]?.url as string }).catch(() => finals[i])
      }
      const got = finals.reduce((a, d) => a + (d?.bytes.fromPeers ?? 0), 0)
      const sent = finals.reduce((a, d) => a + (d?.bytes.uploaded ?? 0), 0)
      if (sent >= got || Date.now() > until) break
      await new Promise((r) => setTimeout(r, 300))
    }
    let verified = 0
    for (const [i, r] of settled.entries()) {
      if (r.status === 'rejected') { log(`swarm: agent ${i} FAILED: ${describeError(r.reason)}`); continue }
      const d = finals[i] as DownloadInfo
      const ok = d.sha256 === sha256
      if (ok) verified++
      log(`swarm: agent ${i} ${d.role ?? '?'}: ${formatBytes(d.bytes.fromOrigin)} from origin, ${formatBytes(d.bytes.fromPeers)} from peers, `
        + `${formatBytes(d.bytes.uploaded)} uploaded — ${ok ? 'sha256 matches' : `sha256 MISMATCH (${d.sha256 ?? 'none'})`}`)
    }
    const egress = origin.stats().egressBytes
    const originEgressRatio = egress / size
    const ok = verified === count && originEgressRatio <= 1.05
    log(`swarm: ${verified}/${count} agents verified in ${formatDuration(elapsed)}; origin sent ${formatBytes(egress)} for a ${formatBytes(size)} object`)
    log(`swarm: origin egress ratio ${originEgressRatio.toFixed(3)} (plain HTTP would be ${count.toFixed(3)}) — ${ok ? 'OK' : 'FAILED'}`)
    return { ok, originEgressRatio }
  } finally {
    await Promise.allSettled(agents.map((a) => a.close()))
    await Promise.allSettled(trackers.map((t) => t.close()))
    await index.close()
    await origin?.close()
    if (!options.dir) await rm(dir, { recursive: true, force: true })
  }
}
