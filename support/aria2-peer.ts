// One stock aria2c BitTorrent client as a child process, and the torrent it joins: the swarm tests and bench/swarm use it.
import { spawn, execFile, type ChildProcess } from 'node:child_process'
import { chmod, mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort, stopProcess } from './services.ts'

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
  /** Told of the child as soon as it is spawned (the bench kills what is left on SIGINT). @defaultValue none */
  onSpawn?: (proc: ChildProcess) => void
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
  const proc = spawn('aria2c', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  options.onSpawn?.(proc)
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
