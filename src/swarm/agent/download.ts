// One object on one agent: probe → index claim (claim-and-fetch.ts: origin fetch as leader | swarm as peer), or a
// restart from the torrent on disk → back-to-source when no peer serves a follower → verify → seed.
import { EventEmitter } from 'node:events'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { ColonyError } from '../../shared/errors.ts'
import { RateMeter } from '../../shared/rate-meter.ts'
import type { DownloadContext, DownloadHolding, DownloadInfo, DownloadState } from './download-types.ts'
import { holdsRange, nextChange, readHeld, type HeldBytes } from './download-ranges.ts'
import { whenComplete } from '../engines/engine.ts'
import { SwarmError } from '../errors.ts'
import { completeFromOrigin, heldPieces, swarmDeadline, type BackToSourceReason } from './back-to-source.ts'
import { claimAndFetch, type ClaimHost } from './claim-and-fetch.ts'
import { IndexPeers } from './index-peers.ts'
import { probeOrigin, type OriginProbe } from '../origin/probe.ts'
import { scheduleSeedStop } from './seed-policy.ts'
import { sha256Parts } from './segments.ts'
import { nameFromUrl, objectTorrentProblem, parseTorrentFile } from '../torrent-file.ts'
import { DATA_LAYOUT, type CompleteMark } from '../wire-format.ts'

export type { DownloadContext, DownloadInfo, DownloadState } from './download-types.ts'

type DownloadEvents = { progress: []; state: [DownloadState] }

const TERMINAL: ReadonlySet<DownloadState> = new Set(['done', 'failed', 'cancelled'])

export class Download extends EventEmitter<DownloadEvents> {
  readonly id: string
  readonly url: string
  readonly expectedSha256: string | undefined
  readonly createdAt = new Date()
  state: DownloadState = 'probing'
  probe: OriginProbe | undefined
  error: ColonyError | undefined
  completedAt: Date | undefined
  /** The final settled promise of run(); never rejects. */
  finished: Promise<void> = Promise.resolve()
  readonly #ctx: DownloadContext
  readonly #abort = new AbortController()
  /** Aborted when a follower gives up on the swarm for the origin (back-to-source). */
  readonly #swarm = new AbortController()
  readonly #swarmSignal = AbortSignal.any([this.#abort.signal, this.#swarm.signal])
  /** This agent's entry in the index and the others' it heard of; stopped with the torrents or on failure. */
  readonly #peers: IndexPeers
  readonly #held: DownloadHolding
  #cancelSeedStop: () => void = () => undefined
  readonly #originRate = new RateMeter()

  constructor(ctx: DownloadContext, id: string, url: string, sha256?: string) {
    super()
    this.setMaxListeners(0)
    this.#ctx = ctx
    this.#peers = new IndexPeers(ctx)
    this.id = id
    this.url = url
    this.expectedSha256 = sha256?.toLowerCase()
    this.#held = {
      role: undefined, name: nameFromUrl(new URL(url)), torrent: undefined, parts: undefined, infoHash: undefined,
      originHave: 0, fromOrigin: 0, resumed: 0, sha256: undefined, assembled: false, assembly: undefined,
    }
  }

  get role(): 'leader' | 'peer' | undefined { return this.#held.role }
  get dir(): string | undefined { return this.probe ? path.join(this.#ctx.dataDir, DATA_LAYOUT.objectsDir, this.probe.key) : undefined }
  get file(): string | undefined { const d = this.dir; return d ? path.join(d, this.#held.name) : undefined }
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
    await this.#held.assembly?.catch(() => undefined)
    await this.#stopTorrent()
    if (removeData && this.dir) await rm(this.dir, { recursive: true, force: true })
  }

  info(): DownloadInfo {
    const whole = this.#held.torrent?.status()
    const ps = this.#held.parts?.stats()
    const t = whole || ps ? {
      received: (whole?.received ?? 0) + (ps?.received ?? 0), uploaded: (whole?.uploaded ?? 0) + (ps?.uploaded ?? 0),
      downRate: (whole?.downRate ?? 0) + (ps?.down ?? 0), upRate: (whole?.upRate ?? 0) + (ps?.up ?? 0),
      peers: Math.max(whole?.peers ?? 0, ps?.peers ?? 0),
    } : undefined
    const done = this.#doneBytes()
    const down = this.state === 'origin' ? this.#originRate.sample(this.#held.fromOrigin) : t?.downRate ?? 0
    const out: DownloadInfo = {
      id: this.id, url: this.url, state: this.state,
      bytes: { done, fromOrigin: this.#held.fromOrigin, fromPeers: t?.received ?? 0, resumed: this.#held.resumed + (ps?.resumed ?? 0), uploaded: t?.uploaded ?? 0 },
      rate: { down: Math.round(down), up: Math.round(t?.upRate ?? 0) },
      peers: t?.peers ?? 0,
      bannedPeers: (this.#held.torrent?.bannedCount ?? 0) + (ps?.banned ?? 0),
      seeding: this.state === 'seeding',
      createdAt: this.createdAt.toISOString(),
      name: this.#held.name,
    }
    if (this.#held.role) out.role = this.#held.role
    if (this.expectedSha256 ?? this.#held.sha256) out.sha256 = this.#held.sha256 ?? this.expectedSha256
    if (this.probe) { out.key = this.probe.key; out.length = this.probe.length }
    if (this.#held.infoHash) out.infoHash = this.#held.infoHash
    if (this.completedAt) out.completedAt = this.completedAt.toISOString()
    if (this.error) out.error = { code: this.error.code, message: this.error.message }
    return out
  }

  #doneBytes(): number {
    if (!this.probe) return 0
    if (this.completedAt) return this.probe.length
    if (this.#held.parts?.layout) return this.#held.parts.stats().done
    const t = this.#held.torrent
    if (t && this.state !== 'origin') return t.status().done
    return this.#held.originHave
  }

  /** True when bytes [start, end] are on disk and verified. */
  hasRange(start: number, end: number): boolean { return holdsRange(this.#heldBytes(), start, end) }

  /** Reads verified bytes at pos (check hasRange first): from the object file, or a segment file before assembly. */
  read(buf: Buffer, length: number, pos: number): Promise<number> { return readHeld(this.#heldBytes(), buf, length, pos) }

  #heldBytes(): HeldBytes {
    return {
      complete: this.completedAt !== undefined, fromOrigin: this.state === 'origin', originHave: this.#held.originHave,
      torrent: this.#held.torrent, parts: this.#held.parts, assembled: this.#held.assembled, file: this.file as string,
    }
  }

  /** Waits until bytes [start, end] are available, nudging the engine to fetch those pieces first. */
  async waitForRange(start: number, end: number, signal?: AbortSignal): Promise<void> {
    let nudged = false
    while (!this.hasRange(start, end)) {
      if (this.state === 'failed' || this.state === 'cancelled') throw this.error ?? new SwarmError('SWARM_CANCELLED', 'download stopped')
      const t = this.#held.torrent
      if (!nudged && t) {
        nudged = true
        t.prioritize(Math.floor(start / t.pieceLength), Math.floor(end / t.pieceLength))
      }
      signal?.throwIfAborted()
      await nextChange(this, signal)
    }
  }

  #setState(state: DownloadState): void {
    if (this.state === state) return
    if (this.terminal && state !== 'done') return
    this.state = state
    this.#ctx.log.info({ id: this.id, url: this.url, state, role: this.#held.role }, 'download state')
    this.emit('state', state)
  }

  #fail(err: unknown): void {
    if (this.state === 'cancelled') return
    // Keep the code of any colony error (SWARM_*, COLONY_FORBIDDEN_TARGET on a redirect); wrap the rest.
    this.error = err instanceof ColonyError ? err
      : new SwarmError('SWARM_ENGINE_FAILED', (err as Error).message ?? String(err), { cause: err })
    this.#ctx.log.warn({ id: this.id, url: this.url, err: this.error.toJSON() }, 'download failed')
    this.#peers.stop()
    this.state = 'failed'
    this.emit('state', 'failed')
  }

  async #run(): Promise<void> {
    const signal = this.#abort.signal
    this.probe = await probeOrigin(this.url, this.#ctx.allow, signal)
    const dir = this.dir as string
    await mkdir(dir, { recursive: true })
    const torrentPath = path.join(dir, DATA_LAYOUT.torrentFile)
    const local = await readIfExists(torrentPath)
    const complete = await readIfExists(path.join(dir, DATA_LAYOUT.completeFile))
    signal.throwIfAborted()
    // Peers found through the index reach the torrents joined so far and, on joining, the later ones. Not awaited:
    // the claim does not wait for these round trips.
    void this.#peers.start(this.probe.key, this.id, (peer) => {
      this.#held.torrent?.addPeers?.([peer])
      this.#held.parts?.addPeers([peer])
    })
    if (local) {
      // Restart: the torrent is known locally, the engine re-verifies whatever pieces are on disk.
      const mark = complete ? JSON.parse(complete.toString()) as CompleteMark : undefined
      this.#held.role = mark?.role ?? 'peer'
      this.#held.sha256 = mark?.sha256
      await (mark ? this.#joinSwarm(local, true) : this.#orBackToSource(this.#joinSwarm(local, false), torrentPath))
    } else {
      await this.#orBackToSource(claimAndFetch(this.#claimHost(torrentPath)), torrentPath)
    }
    await this.#complete()
  }

  /**
   * Runs a follower's swarm phase (`work`) against the swarm deadline: no new byte for the stall timeout, or the
   * absolute deadline, while it waits or swarms (not while it leads) → stop the torrents and fetch what is missing
   * from the origin (back-to-source), or fail with SWARM_STALLED when that is off.
   */
  async #orBackToSource(work: Promise<void>, torrentPath: string): Promise<void> {
    const b = this.#ctx.backToSource
    const watching = new AbortController()
    let finished = false
    const done = work.then(() => { finished = true })
    done.catch(() => undefined)
    try {
      const reason = await Promise.race([done.then(() => undefined), swarmDeadline({
        stallMs: b.stallMs, deadlineMs: b.deadlineMs, signal: watching.signal,
        progress: () => { const i = this.info(); return i.bytes.done + i.bytes.fromPeers },
        active: () => this.#held.role !== 'leader' && (this.state === 'waiting' || this.state === 'swarm'),
      })])
      if (reason === undefined) return
      const why = new SwarmError('SWARM_STALLED', `no peer served ${this.url} in time (${reason})`, { details: { reason } })
      this.#swarm.abort(why)
      await done.catch(() => undefined)
      if (finished) return
      if (!b.enabled) throw why
      await this.#backToSource(reason, torrentPath)
    } finally { watching.abort() }
  }

  /** Stops the torrents (what they verified stays on disk), fetches every missing piece from the origin, seeds. */
  async #backToSource(reason: BackToSourceReason, torrentPath: string): Promise<void> {
    const probe = this.probe as OriginProbe
    const release = await this.#ctx.backToSource.slots.hold(this.#abort.signal)
    try {
      const held = heldPieces(probe.length, this.#held.torrent, this.#held.parts)
      await this.#held.torrent?.stop({ wait: true })
      await this.#held.parts?.stop({ wait: true })
      this.#held.torrent = undefined
      this.#held.parts = undefined
      this.#held.originHave = 0
      this.#held.role ??= 'peer'
      this.#setState('origin')
      const got = await completeFromOrigin({
        ctx: this.#ctx, probe, file: this.file as string, name: this.#held.name, id: this.id, reason, held, signal: this.#abort.signal,
        onBytes: (n) => { this.#held.fromOrigin += n; this.emit('progress') },
      })
      this.#held.sha256 = got.sha256
      this.#held.assembly = undefined
      this.#held.assembled = true
      await writeFile(torrentPath, got.torrent)
      await this.#joinSwarm(got.torrent, true)
    } finally { release() }
  }

  /** The claim-and-fetch flow's view of this download (claim-and-fetch.ts). */
  #claimHost(torrentPath: string): ClaimHost {
    return {
      ctx: this.#ctx, id: this.id, probe: this.probe as OriginProbe, dir: this.dir as string, torrentPath,
      file: () => this.file as string, held: this.#held, checkSha256: this.expectedSha256 !== undefined, signal: this.#abort.signal, swarmSignal: this.#swarmSignal,
      peers: () => this.#peers.all, state: () => this.state, setState: (s) => this.#setState(s),
      progress: () => this.emit('progress'), onBan: (p) => this.#onBan(p),
      joinSwarm: (t, complete, superSeed) => this.#joinSwarm(t, complete, superSeed),
      writeCompleteMark: () => this.#writeCompleteMark(), fail: (err) => this.#fail(err),
    }
  }

  #onBan(peer: { address: string; peerId: string }): void {
    this.#ctx.log.warn({ id: this.id, peer }, 'banned peer for bad data')
    this.#ctx.onBan(peer)
  }

  async #joinSwarm(torrentBuf: Buffer, complete: boolean, superSeed = false): Promise<void> {
    const probe = this.probe as OriginProbe
    const parsed = await parseTorrentFile(torrentBuf)
    const invalid = objectTorrentProblem(parsed, probe.length)
    if (invalid) {
      if (!complete) await this.#ctx.index.remove(probe.key).catch(() => undefined)
      throw new SwarmError('SWARM_TORRENT_INVALID', `torrent for ${this.url} ${invalid}`)
    }
    this.#held.name = parsed.name
    this.#held.infoHash = parsed.infoHash
    if (!complete) this.#setState('swarm')
    const torrent = await this.#ctx.engine.add(torrentBuf, parsed.infoHash, { dir: this.dir as string, complete, superSeed, trackers: this.#ctx.trackers })
    this.#held.torrent = torrent
    torrent.on('ban', (p) => this.#onBan(p))
    torrent.on('progress', () => this.emit('progress'))
    torrent.addPeers?.(this.#peers.all)
    this.#held.resumed = Math.max(this.#held.resumed, complete ? 0 : torrent.resumed)
    this.emit('progress')
    if (!complete) await whenComplete(torrent, this.#swarmSignal)
  }

  async #complete(): Promise<void> {
    // The pieces passed their SHA-1 against the torrent; the whole object's SHA-256 (another pass over F bytes) is
    // taken when the caller named one to check, or later when asked (sha256()).
    if (this.expectedSha256) await this.sha256()
    this.completedAt = new Date()
    // complete.json says the object file is whole: written once it is (after assembly, for a follower).
    if (!this.#held.assembly) await this.#writeCompleteMark()
    this.emit('progress')
    if (this.expectedSha256 && this.expectedSha256 !== this.#held.sha256) {
      // The bytes are the origin's (every piece verified), so this agent keeps seeding them for the others.
      throw new SwarmError('SWARM_SHA256_MISMATCH', `sha256 of ${this.url} is ${this.#held.sha256}, expected ${this.expectedSha256}`, { details: { url: this.url, actual: this.#held.sha256, expected: this.expectedSha256 } })
    }
    this.#setState('seeding')
    if (this.#held.assembly) void this.#held.assembly.then(() => this.#scheduleSeedStop(), () => undefined)
    else this.#scheduleSeedStop()
  }

  /**
   * The object's SHA-256, taken once: from the origin fetch (a leader), as segments completed (when the caller
   * named one), or now from the verified bytes on disk. Only for a complete download.
   */
  async sha256(): Promise<string> {
    if (this.#held.sha256) return this.#held.sha256
    const parts = this.#held.assembled ? undefined : this.#held.parts
    const sha256 = parts ? await parts.sha256() : await sha256Parts([{ file: this.file as string, offset: 0 }])
    this.#held.sha256 ??= sha256
    return this.#held.sha256
  }

  async #writeCompleteMark(): Promise<void> {
    const mark: CompleteMark = { sha256: this.#held.sha256, role: this.#held.role, url: this.url }
    await writeFile(path.join(this.dir as string, DATA_LAYOUT.completeFile), JSON.stringify(mark))
  }

  #scheduleSeedStop(): void {
    const t = this.#held.torrent
    if (!t) return
    this.#cancelSeedStop = scheduleSeedStop({
      seedTimeMs: this.#ctx.seedTimeMs, seedRatio: this.#ctx.seedRatio, length: t.length,
      uploaded: () => this.info().bytes.uploaded,
      seeding: () => this.#held.torrent === t && this.state === 'seeding',
      onStop: (why) => {
        this.#ctx.log.info({ id: this.id, ...why }, 'seeding finished')
        void this.#stopTorrent().then(() => this.#setState('done'))
      },
    })
  }

  async #stopTorrent(): Promise<void> {
    this.#cancelSeedStop()
    this.#peers.stop()
    await this.#held.torrent?.stop()
    await this.#held.parts?.stop()
  }
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try { return await readFile(file) } catch { return undefined }
}
