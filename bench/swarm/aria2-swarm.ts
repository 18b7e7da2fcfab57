// A swarm of stock aria2c clients: one seeder with the file, N leechers, peers found only through the tracker.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort, stopProcess, waitFor } from '../../support/services.ts'
import { track } from './children.ts'
import { CpuMeter } from './proc-stats.ts'

const exec = promisify(execFile)

/** DHT, LPD and PEX off: the tracker is the only way peers meet, as with colony's agents. */
export const ARIA2_ISOLATION = ['--enable-dht=false', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false']

export type Aria2PeerOptions = {
  torrentPath: string
  /** Download directory (the seeder's holds the complete file). */
  dir: string
  seed: boolean
  /** bytes/s, 0 = none. @defaultValue 0 */
  uploadLimit?: number
  /** Replace the torrent's trackers with these. @defaultValue the torrent's own */
  trackers?: string[]
  /** Script aria2 runs when the BitTorrent download completes (before seeding). */
  onCompleteScript: string
  /**
   * Open aria2's DHT socket: aria2 speaks UDP trackers only through it. With no bootstrap node and
   * loopback only it finds nobody, so the tracker stays the only source of peers. @defaultValue false
   */
  dht?: boolean
}

export type Aria2Peer = { proc: ChildProcess; pid: number; dir: string; output: () => string; stop: () => Promise<void> }

/** Writes the hook aria2 runs on completion: it leaves `<file>.done`, whose mtime is the completion time. */
export async function writeCompletionHook(dir: string): Promise<string> {
  const script = path.join(dir, 'aria2-on-complete.sh')
  await writeFile(script, '#!/bin/sh\n: > "$3.done"\n')
  await chmod(script, 0o755)
  return script
}

export async function startAria2Peer(options: Aria2PeerOptions): Promise<Aria2Peer> {
  await mkdir(options.dir, { recursive: true })
  const port = await freePort()
  const dht = options.dht
    ? ['--enable-dht=true', '--enable-dht6=false', '--bt-enable-lpd=false', '--enable-peer-exchange=false',
      `--dht-listen-port=${await freePort()}`, `--dht-file-path=${path.join(options.dir, '.aria2-dht.dat')}`]
    : ARIA2_ISOLATION
  const args = [
    ...dht, `--dir=${options.dir}`, `--listen-port=${port}`,
    '--file-allocation=none', '--summary-interval=0', '--console-log-level=warn', '--check-integrity=false',
    // Everyone keeps seeding until the bench stops them, as colony's agents do.
    '--seed-ratio=0.0', '--seed-time=120', `--on-bt-download-complete=${options.onCompleteScript}`,
    `--max-overall-upload-limit=${options.uploadLimit ?? 0}`,
    ...(options.seed ? ['--bt-seed-unverified=true'] : []),
    ...(options.trackers ? ['--bt-exclude-tracker=*', `--bt-tracker=${options.trackers.join(',')}`] : []),
    options.torrentPath,
  ]
  const proc = track(spawn('aria2c', args, { stdio: ['ignore', 'pipe', 'pipe'] }))
  let out = ''
  const keep = (b: Buffer): void => { out = (out + b.toString()).slice(-4000) }
  proc.stdout?.on('data', keep)
  proc.stderr?.on('data', keep)
  if (proc.pid === undefined) throw new Error('aria2c did not start')
  return { proc, pid: proc.pid, dir: options.dir, output: () => out, stop: () => stopProcess(proc) }
}

/** Builds a single-file torrent with transmission-create (native hashing, so setup stays quick). */
export async function createTorrentFile(file: string, out: string, trackerUrl: string, pieceLength: number): Promise<string> {
  await exec('transmission-create', ['-o', out, '-t', trackerUrl, '-s', String(pieceLength / 1024), file])
  return out
}

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
  /** Files the leechers ended up with, for verification. */
  files: string[]
}

export async function runAria2Swarm(options: Aria2SwarmOptions): Promise<SwarmRunResult> {
  const hook = await writeCompletionHook(options.workDir)
  const peers: Aria2Peer[] = []
  const meter = new CpuMeter()
  try {
    const seeder = await startAria2Peer({ torrentPath: options.torrentPath, dir: options.seedDir, seed: true, trackers: options.trackers, onCompleteScript: hook, uploadLimit: options.uploadLimit ?? 0 })
    peers.push(seeder)
    await waitFor(options.seederAnnounced, { timeoutMs: 15_000, message: `aria2 seeder announced (${seeder.output()})` })
    meter.mark([seeder.pid])
    const t0 = performance.now()
    const startWall = Date.now()
    const leechers: Aria2Peer[] = []
    for (let i = 0; i < options.n; i++) {
      const dir = path.join(options.workDir, `leech-${i}`)
      leechers.push(await startAria2Peer({ torrentPath: options.torrentPath, dir, seed: false, trackers: options.trackers, onCompleteScript: hook, uploadLimit: options.uploadLimit ?? 0 }))
    }
    peers.push(...leechers)
    const done = new Map<number, number>()
    await waitFor(async () => {
      meter.sample(peers.map((p) => p.pid))
      for (const [i, l] of leechers.entries()) {
        if (done.has(i)) continue
        if (l.proc.exitCode !== null) throw new Error(`aria2c leecher ${i} exited with ${l.proc.exitCode}: ${l.output()}`)
        try {
          const st = await stat(path.join(l.dir, `${options.fileName}.done`))
          done.set(i, st.mtimeMs - startWall)
        } catch { /* not yet */ }
      }
      return done.size === leechers.length
    }, { timeoutMs: options.timeoutMs, intervalMs: 100, message: `all ${options.n} aria2c leechers complete` })
    meter.sample(peers.map((p) => p.pid))
    const wallMs = performance.now() - t0
    const completionMs = leechers.map((_, i) => done.get(i) ?? Number.NaN)
    options.log(`aria2c swarm: ${options.n} leechers complete in ${(wallMs / 1000).toFixed(2)} s`)
    return { completionMs, wallMs: Math.max(...completionMs, 0) || wallMs, cpuSeconds: meter.total(), files: leechers.map((l) => path.join(l.dir, options.fileName)) }
  } finally {
    await Promise.all(peers.map((p) => p.stop()))
  }
}
