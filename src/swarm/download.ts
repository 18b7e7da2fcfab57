// One object on one agent: probe → index claim → (origin fetch as leader | swarm as peer) → verify → seed.
import { createHash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { createReadStream } from 'node:fs'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { HostAllowList } from '../shared/allow-host.ts'
import { ColonyError } from '../shared/errors.ts'
import type { Logger } from '../shared/logger.ts'
import type { EngineTorrent, SwarmEngine } from './engine.ts'
import { SwarmError } from './errors.ts'
import { downloadFromOrigin, probeOrigin, type OriginProbe } from './origin.ts'
import type { LeaderClaim, SwarmIndex } from './swarm-index.ts'
import { buildTorrentFile, choosePieceLength, nameFromUrl, parseTorrentFile, PieceHasher } from './torrent-file.ts'

export type DownloadState = 'probing' | 'waiting' | 'origin' | 'swarm' | 'seeding' | 'done' | 'failed' | 'cancelled'

/** What GET /v1/downloads/:id answers. */
export type DownloadInfo = {
  id: string
  url: string
  state: DownloadState
  /** "leader" fetched it from the origin; "peer" got it from the swarm. */
  role?: 'leader' | 'peer'
  sha256?: string
  key?: string
  infoHash?: string
  name?: string
  length?: number
  bytes: {
    /** Verified bytes on disk. */
    done: number
    /** Bytes this agent fetched from the origin in this run. */
    fromOrigin: number
    /** Bytes received from peers in this run (including any that failed verification). */
    fromPeers: number
    /** Bytes found valid on disk at start (resumed). */
    resumed: number
    uploaded: number
  }
  /** Bytes per second. */
  rate: { down: number; up: number }
  peers: number
  bannedPeers: number
  seeding: boolean
  createdAt: string
  completedAt?: string
  error?: { code: string; message: string }
}

/** Everything a download needs from its agent. */
export type DownloadContext = {
  engine: SwarmEngine
  index: SwarmIndex
  allow: HostAllowList
  dataDir: string
  trackers: string[]
  agentId: string
  /** Origin fetch cap in bytes/s (the agent's download limit); 0 = none. */
  downloadLimit: number
  seedTimeMs: number
  seedRatio: number
  originRetries: number
  backoffBaseMs: number
  log: Logger
  onBan: (info: { address: string; peerId: string }) => void
}

type DownloadEvents = { progress: []; state: [DownloadState] }

const TERMINAL: ReadonlySet<DownloadState> = new Set(['done', 'failed', 'cancelled'])

export class Download extends EventEmitter<DownloadEvents> {
  readonly id: string
  readonly url: string
  readonly expectedSha256: string | undefined
  readonly createdAt = new Date()
  state: DownloadState = 'probing'
  role: 'leader' | 'peer' | undefined
  probe: OriginProbe | undefined
  error: ColonyError | undefined
  completedAt: Date | undefined
  /** The final settled promise of run(); never rejects. */
  finished: Promise<void> = Promise.resolve()
  readonly #ctx: DownloadContext
  readonly #abort = new AbortController()
  #torrent: EngineTorrent | undefined
  #name: string
  #infoHash: string | undefined
  #originHave = 0
  #fromOrigin = 0
  #resumed = 0
  #actualSha256: string | undefined
  #seedTimer: NodeJS.Timeout | undefined
  #rate = { at: Date.now(), bytes: 0, value: 0 }

  constructor(ctx: DownloadContext, id: string, url: string, sha256?: string) {
    super()
    this.setMaxListeners(0)
    this.#ctx = ctx
    this.id = id
    this.url = url
    this.expectedSha256 = sha256?.toLowerCase()
    this.#name = nameFromUrl(new URL(url))
  }

  get dir(): string | undefined { return this.probe ? path.join(this.#ctx.dataDir, 'objects', this.probe.key) : undefined }
  get file(): string | undefined { const d = this.dir; return d ? path.join(d, this.#name) : undefined }
  get length(): number | undefined { return this.probe?.length }
  get terminal(): boolean { return TERMINAL.has(this.state) }
  get signal(): AbortSignal { return this.#abort.signal }

  start(): void {
    this.finished = this.#run().catch((err: unknown) => this.#fail(err))
  }

  /** Stops everything; `removeData` also deletes the files (DELETE /v1/downloads/:id). */
  async cancel(removeData: boolean): Promise<void> {
    if (!this.terminal) {
      this.#abort.abort(new SwarmError('SWARM_CANCELLED', `download of ${this.url} was cancelled`))
      this.#setState('cancelled')
    }
    await this.finished
    await this.#stopTorrent()
    if (removeData && this.dir) await rm(this.dir, { recursive: true, force: true })
  }

  info(): DownloadInfo {
    const t = this.#torrent?.status()
    const done = this.#doneBytes()
    let down = 0
    if (this.state === 'origin') {
      const now = Date.now()
      if (now - this.#rate.at >= 1000) {
        this.#rate.value = ((this.#fromOrigin - this.#rate.bytes) * 1000) / (now - this.#rate.at)
        this.#rate = { at: now, bytes: this.#fromOrigin, value: this.#rate.value }
      }
      down = this.#rate.value
    } else if (t) down = t.downRate
    const out: DownloadInfo = {
      id: this.id, url: this.url, state: this.state,
      bytes: { done, fromOrigin: this.#fromOrigin, fromPeers: t?.received ?? 0, resumed: this.#resumed, uploaded: t?.uploaded ?? 0 },
      rate: { down: Math.round(down), up: Math.round(t?.upRate ?? 0) },
      peers: t?.peers ?? 0,
      bannedPeers: this.#torrent?.bannedCount ?? 0,
      seeding: this.state === 'seeding',
      createdAt: this.createdAt.toISOString(),
      name: this.#name,
    }
    if (this.role) out.role = this.role
    if (this.expectedSha256 ?? this.#actualSha256) out.sha256 = this.#actualSha256 ?? this.expectedSha256
    if (this.probe) { out.key = this.probe.key; out.length = this.probe.length }
    if (this.#infoHash) out.infoHash = this.#infoHash
    if (this.completedAt) out.completedAt = this.completedAt.toISOString()
    if (this.error) out.error = { code: this.error.code, message: this.error.message }
    return out
  }

  #doneBytes(): number {
    if (!this.probe) return 0
    if (this.completedAt) return this.probe.length
    const t = this.#torrent
    if (t && this.state !== 'origin') return t.status().done
    return this.#originHave
  }

  /** True when bytes [start, end] are on disk and verified. */
  hasRange(start: number, end: number): boolean {
    if (this.completedAt) return true
    if (this.state === 'origin') return this.#originHave > end
    const t = this.#torrent
    if (!t) return false
    for (let p = Math.floor(start / t.pieceLength); p <= Math.floor(end / t.pieceLength); p++) if (!t.hasPiece(p)) return false
    return true
  }

  /** Waits until bytes [start, end] are available, nudging the engine to fetch those pieces first. */
  async waitForRange(start: number, end: number, signal?: AbortSignal): Promise<void> {
    let nudged = false
    while (!this.hasRange(start, end)) {
      if (this.state === 'failed' || this.state === 'cancelled') throw this.error ?? new SwarmError('SWARM_CANCELLED', 'download stopped')
      const t = this.#torrent
      if (!nudged && t) {
        nudged = true
        t.prioritize(Math.floor(start / t.pieceLength), Math.floor(end / t.pieceLength))
      }
      signal?.throwIfAborted()
      await new Promise<void>((resolve) => {
        const done = (): void => { clearTimeout(timer); this.off('progress', done); this.off('state', done); signal?.removeEventListener('abort', done); resolve() }
        const timer = setTimeout(done, 1000)
        this.once('progress', done)
        this.once('state', done)
        signal?.addEventListener('abort', done, { once: true })
      })
    }
  }

  #setState(state: DownloadState): void {
    if (this.state === state) return
    if (this.terminal && state !== 'done') return
    this.state = state
    this.#ctx.log.info({ id: this.id, url: this.url, state, role: this.role }, 'download state')
    this.emit('state', state)
  }

  #fail(err: unknown): void {
    if (this.state === 'cancelled') return
    // Keep the code of any colony error (SWARM_*, COLONY_FORBIDDEN_TARGET on a redirect); wrap the rest.
    this.error = err instanceof ColonyError ? err
      : new SwarmError('SWARM_ENGINE_FAILED', (err as Error).message ?? String(err), { cause: err })
    this.#ctx.log.warn({ id: this.id, url: this.url, err: this.error.toJSON() }, 'download failed')
    this.state = 'failed'
    this.emit('state', 'failed')
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal
    this.probe = await probeOrigin(this.url, this.#ctx.allow, signal)
    const dir = this.dir as string
    await mkdir(dir, { recursive: true })
    const torrentPath = path.join(dir, 'object.torrent')
    const local = await readIfExists(torrentPath)
    const complete = await readIfExists(path.join(dir, 'complete.json'))
    signal.throwIfAborted()
    if (local) {
      // Restart: the torrent is known locally, the engine re-verifies whatever pieces are on disk.
      const mark = complete ? JSON.parse(complete.toString()) as { sha256?: string; role?: 'leader' | 'peer' } : undefined
      this.role = mark?.role ?? 'peer'
      this.#actualSha256 = mark?.sha256
      await this.#joinSwarm(local, !!mark)
    } else {
      this.#setState('waiting')
      const claim = await this.#ctx.index.claim(this.probe.key, { candidate: this.#ctx.agentId, signal })
      if (claim.kind === 'torrent') {
        this.role = 'peer'
        await writeFile(torrentPath, claim.torrent)
        await this.#joinSwarm(claim.torrent, false)
      } else {
        this.role = 'leader'
        try { await this.#fetchAsLeader(claim, torrentPath) } finally { await claim.release() }
      }
    }
    await this.#complete()
  }

  async #fetchAsLeader(claim: LeaderClaim, torrentPath: string): Promise<void> {
    const probe = this.probe as OriginProbe
    this.#setState('origin')
    const pieceLength = choosePieceLength(probe.length)
    const hasher = new PieceHasher(pieceLength)
    const got = await downloadFromOrigin({
      probe, allow: this.#ctx.allow, file: this.file as string, hasher, signal: this.#abort.signal,
      retries: this.#ctx.originRetries, rateLimit: this.#ctx.downloadLimit, backoffBaseMs: this.#ctx.backoffBaseMs,
      onProgress: (have, fromOrigin) => { this.#originHave = have; this.#fromOrigin = fromOrigin; this.emit('progress') },
    })
    this.#resumed = got.resumedBytes
    const { pieces, sha256 } = hasher.finish()
    this.#actualSha256 = sha256
    const { torrent } = await buildTorrentFile({
      name: this.#name, length: probe.length, pieceLength, pieces, announce: this.#ctx.trackers,
      comment: probe.url, source: `colony:${probe.key.slice(0, 16)}`,
    })
    await writeFile(torrentPath, torrent)
    // Seed first, publish second: whoever receives the torrent finds this agent already announcing.
    await this.#joinSwarm(torrent, true)
    await claim.publish(torrent)
    this.#ctx.log.info({ id: this.id, key: probe.key, infoHash: this.#infoHash }, 'published torrent')
  }

  async #joinSwarm(torrentBuf: Buffer, complete: boolean): Promise<void> {
    const probe = this.probe as OriginProbe
    const parsed = await parseTorrentFile(torrentBuf)
    if (parsed.length !== probe.length || parsed.files.length !== 1) {
      if (!complete) await this.#ctx.index.remove(probe.key).catch(() => undefined)
      throw new SwarmError('SWARM_TORRENT_INVALID', `torrent for ${this.url} describes ${parsed.length} bytes, origin has ${probe.length}`)
    }
    // The name becomes a file under the object's directory: refuse anything that could leave it.
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,199}$/.test(parsed.name) || parsed.files[0]?.path !== parsed.name) {
      if (!complete) await this.#ctx.index.remove(probe.key).catch(() => undefined)
      throw new SwarmError('SWARM_TORRENT_INVALID', `torrent for ${this.url} names an unsafe file ${JSON.stringify(parsed.name)}`)
    }
    this.#name = parsed.name
    this.#infoHash = parsed.infoHash
    if (!complete) this.#setState('swarm')
    const torrent = await this.#ctx.engine.add(torrentBuf, parsed.infoHash, { dir: this.dir as string, complete, trackers: this.#ctx.trackers })
    this.#torrent = torrent
    torrent.on('ban', (p) => { this.#ctx.log.warn({ id: this.id, peer: p }, 'banned peer for bad data'); this.#ctx.onBan(p) })
    torrent.on('progress', () => this.emit('progress'))
    this.#resumed = Math.max(this.#resumed, complete ? 0 : torrent.resumed)
    this.emit('progress')
    const signal = this.#abort.signal
    await new Promise<void>((resolve, reject) => {
      const cleanup = (): void => { torrent.off('done', onDone); torrent.off('error', onError); signal.removeEventListener('abort', onAbort) }
      const onDone = (): void => { cleanup(); resolve() }
      const onError = (err: Error): void => { cleanup(); reject(err) }
      const onAbort = (): void => { cleanup(); reject(signal.reason as Error) }
      torrent.on('done', onDone)
      torrent.on('error', onError)
      signal.addEventListener('abort', onAbort, { once: true })
      if (complete || torrent.status().complete) onDone()
    })
  }

  async #complete(): Promise<void> {
    const file = this.file as string
    this.#actualSha256 ??= await sha256File(file)
    this.completedAt = new Date()
    await writeFile(path.join(this.dir as string, 'complete.json'), JSON.stringify({ sha256: this.#actualSha256, role: this.role, url: this.url }))
    this.emit('progress')
    if (this.expectedSha256 && this.expectedSha256 !== this.#actualSha256) {
      // The bytes are the origin's (every piece verified), so this agent keeps seeding them for the others.
      throw new SwarmError('SWARM_SHA256_MISMATCH', `sha256 of ${this.url} is ${this.#actualSha256}, expected ${this.expectedSha256}`, { details: { url: this.url, actual: this.#actualSha256, expected: this.expectedSha256 } })
    }
    this.#setState('seeding')
    this.#scheduleSeedStop()
  }

  #scheduleSeedStop(): void {
    const started = Date.now()
    const check = (): void => {
      const t = this.#torrent
      if (!t || this.state !== 'seeding') return
      const uploaded = t.status().uploaded
      const timeUp = Date.now() - started >= this.#ctx.seedTimeMs
      const ratioMet = this.#ctx.seedRatio > 0 && uploaded >= this.#ctx.seedRatio * t.length
      if (timeUp || ratioMet) {
        this.#ctx.log.info({ id: this.id, uploaded, timeUp, ratioMet }, 'seeding finished')
        void this.#stopTorrent().then(() => this.#setState('done'))
        return
      }
      this.#seedTimer = setTimeout(check, Math.min(1000, Math.max(10, this.#ctx.seedTimeMs)))
      this.#seedTimer.unref()
    }
    check()
  }

  async #stopTorrent(): Promise<void> {
    clearTimeout(this.#seedTimer)
    await this.#torrent?.stop()
  }
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try { return await readFile(file) } catch { return undefined }
}

export async function sha256File(file: string): Promise<string> {
  const h = createHash('sha256')
  for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 })) h.update(chunk as Buffer)
  return h.digest('hex')
}
