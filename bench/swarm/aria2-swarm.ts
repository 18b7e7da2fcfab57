// A swarm of stock aria2c clients: one seeder with the file, N leechers, peers found only through the tracker.
import { rm, stat } from 'node:fs/promises'
import path from 'node:path'
import { startAria2Peer, writeCompletionHook, type Aria2Peer } from '../../support/aria2-peer.ts'
import { waitFor } from '../../support/services.ts'
import { track } from './children.ts'
import { CpuMeter } from './proc-stats.ts'

export { createTorrentFile } from '../../support/aria2-peer.ts'

export type Aria2SwarmOptions = {
  torrentPath: string
  /** Directory that already holds the complete file under the torrent's name. */
  seedDir: string
  fileName: string
  n: number
  workDir: string
  /** Trackers every peer uses (overriding the torrent's). */
  trackers: string[]
  /** Resolves once the seeder is known to the tracker. */
  seederAnnounced: () => boolean | Promise<boolean>
  timeoutMs: number
  log: (line: string) => void
  /** Every peer's upload cap in bytes/s, 0 = none. @defaultValue 0 */
  uploadLimit?: number
}

export type SwarmRunResult = {
  /** ms from the start until each leecher completed. */
  completionMs: number[]
  /** ms until the last one completed. */
  wallMs: number
  /** CPU seconds of every swarm process (seeder included) during the run. */
  cpuSeconds: number
  /** Of cpuSeconds, what the kernel spent for them (loopback TCP, file writes). */
  kernelCpuSeconds: number
  /** Read and write syscalls of the same processes over the same window. */
  ioCalls: { reads: number; writes: number }
  /** Files the leechers ended up with, for verification. */
  files: string[]
}

export async function runAria2Swarm(options: Aria2SwarmOptions): Promise<SwarmRunResult> {
  const hook = await writeCompletionHook(options.workDir)
  const peers: Aria2Peer[] = []
  const meter = new CpuMeter()
  try {
    const seeder = await startAria2Peer({ torrentPath: options.torrentPath, dir: options.seedDir, seed: true, trackers: options.trackers, onCompleteScript: hook, uploadLimit: options.uploadLimit ?? 0, onSpawn: track })
    peers.push(seeder)
    await waitFor(options.seederAnnounced, { timeoutMs: 15_000, message: `aria2 seeder announced (${seeder.output()})` })
    meter.mark([seeder.pid])
    const t0 = performance.now()
    const startWall = Date.now()
    const leechers: Aria2Peer[] = []
    for (let i = 0; i < options.n; i++) {
      const dir = path.join(options.workDir, `leech-${i}`)
      // An earlier run's file without its control file makes aria2c refuse to start (errorCode 13).
      await rm(dir, { recursive: true, force: true })
      leechers.push(await startAria2Peer({ torrentPath: options.torrentPath, dir, seed: false, trackers: options.trackers, onCompleteScript: hook, uploadLimit: options.uploadLimit ?? 0, onSpawn: track }))
    }
    peers.push(...leechers)
    const done = new Map<number, number>()
    let exited: Error | undefined
    await waitFor(async () => {
      meter.sample(peers.map((p) => p.pid))
      for (const [i, l] of leechers.entries()) {
        if (done.has(i)) continue
        // A leecher that exited will not complete: the run fails now rather than at the timeout.
        if (l.proc.exitCode !== null) { exited = new Error(`aria2c leecher ${i} exited with ${l.proc.exitCode}: ${l.output()}`); return true }
        try {
          const st = await stat(path.join(l.dir, `${options.fileName}.done`))
          done.set(i, st.mtimeMs - startWall)
        } catch { /* not yet */ }
      }
      return done.size === leechers.length
    }, { timeoutMs: options.timeoutMs, intervalMs: 100, message: `all ${options.n} aria2c leechers complete` })
    if (exited) throw exited
    meter.sample(peers.map((p) => p.pid))
    const wallMs = performance.now() - t0
    const completionMs = leechers.map((_, i) => done.get(i) ?? Number.NaN)
    options.log(`aria2c swarm: ${options.n} leechers complete in ${(wallMs / 1000).toFixed(2)} s`)
    return { completionMs, wallMs: Math.max(...completionMs, 0) || wallMs, cpuSeconds: meter.total(), kernelCpuSeconds: meter.split().system, ioCalls: meter.ioCalls(), files: leechers.map((l) => path.join(l.dir, options.fileName)) }
  } finally {
    await Promise.all(peers.map((p) => p.stop()))
  }
}
