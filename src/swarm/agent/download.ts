// One object on one agent: probe → index claim → (origin fetch as leader | swarm as peer) → verify → seed.
import { EventEmitter } from 'node:events'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { untilAborted } from '../../shared/abort.ts'
import { ColonyError } from '../../shared/errors.ts'
import { RateMeter } from '../../shared/rate-meter.ts'
import type { DownloadContext, DownloadInfo, DownloadState } from './download-types.ts'
import { holdsRange, nextChange, readHeld, type HeldBytes } from './download-ranges.ts'
import { whenComplete, type EngineTorrent } from '../engines/engine.ts'
import { SwarmError } from '../errors.ts'
import { fetchSegmentsFromOrigin, fetchWholeFromOrigin } from './leader-fetch.ts'
import { completeFromOrigin, heldPieces, swarmDeadline, type BackToSourceReason } from './back-to-source.ts'
import { IndexPeers } from './index-peers.ts'
import { probeOrigin, type OriginProbe } from '../origin/probe.ts'
import { PartSet } from './part-set.ts'
import { scheduleSeedStop } from './seed-policy.ts'
import { assembleParts, sha256Parts } from './segments.ts'
import type { LeaderClaim } from '../index-store/swarm-index.ts'
import { buildTorrentFile, nameFromUrl, objectTorrentProblem, parseTorrentFile } from '../torrent-file.ts'
import { DATA_LAYOUT, torrentSource, type CompleteMark } from '../wire-format.ts'

export type { DownloadContext, DownloadInfo, DownloadState } from './download-types.ts'

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
  /** Aborted when a follower gives up on the swarm for the origin (back-to-source). */
  readonly #swarm = new AbortController()
  readonly #swarmSignal = AbortSignal.any([this.#abort.signal, this.#swarm.signal])
  /** This agent's entry in the index and the others' it heard of; stopped with the torrents or on failure. */
  readonly #peers: IndexPeers
  #torrent: EngineTorrent | undefined
  /** Segment torrents (progressive publication); undefined for an object published whole. */
  #parts: PartSet | undefined
  #name: string
  #infoHash: string | undefined
  #originHave = 0
  #fromOrigin = 0
  #resumed = 0
  #actualSha256: string | undefined
  #cancelSeedStop: () => void = () => undefined
  /** A follower's object file is assembled from its segments after completion; reads use the segments until then. */
  #assembled = false
  #assembly: Promise<void> | undefined
  readonly #originRate = new RateMeter()

  constructor(ctx: DownloadContext, id: string, url: string, sha256?: string) {
    super()
    this.setMaxListeners(0)
    this.#ctx = ctx
    this.#peers = new IndexPeers(ctx)
    this.id = id
    this.url = url
    this.expectedSha256 = sha256?.toLowerCase()
    this.#name = nameFromUrl(new URL(url))
  }

  get dir(): string | undefined { return this.probe ? path.join(this.#ctx.dataDir, DATA_LAYOUT.objectsDir, this.probe.key) : undefined }
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
    await this.#assembly?.catch(() => undefined)
    await this.#stopTorrent()
    if (removeData && this.dir) await rm(this.dir, { recursive: true, force: true })
  }

  info(): DownloadInfo {
    const whole = this.#torrent?.status()
    const ps = this.#parts?.stats()
    const t = whole || ps ? {
      received: (whole?.received ?? 0) + (ps?.received ?? 0), uploaded: (whole?.uploaded ?? 0) + (ps?.uploaded ?? 0),
      downRate: (whole?.downRate ?? 0) + (ps?.down ?? 0), upRate: (whole?.upRate ?? 0) + (ps?.up ?? 0),
      peers: Math.max(whole?.peers ?? 0, ps?.peers ?? 0),
    } : undefined
    const done = this.#doneBytes()
    const down = this.state === 'origin' ? this.#originRate.sample(this.#fromOrigin) : t?.downRate ?? 0
    const out: DownloadInfo = {
      id: this.id, url: this.url, state: this.state,
      bytes: { done, fromOrigin: this.#fromOrigin, fromPeers: t?.received ?? 0, resumed: this.#resumed + (ps?.resumed ?? 0), uploaded: t?.uploaded ?? 0 },
      rate: { down: Math.round(down), up: Math.round(t?.upRate ?? 0) },
      peers: t?.peers ?? 0,
      bannedPeers: (this.#torrent?.bannedCount ?? 0) + (ps?.banned ?? 0),
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
    if (this.#parts?.layout) return this.#parts.stats().done
    const t = this.#torrent
    if (t && this.state !== 'origin') return t.status().done
    return this.#originHave
  }

  /** True when bytes [start, end] are on disk and verified. */
  hasRange(start: number, end: number): boolean { return holdsRange(this.#held(), start, end) }

  /** Reads verified bytes at pos (check hasRange first): from the object file, or a segment file before assembly. */
  read(buf: Buffer, length: number, pos: number): Promise<number> { return readHeld(this.#held(), buf, length, pos) }

  #held(): HeldBytes {
    return {
      complete: this.completedAt !== undefined, fromOrigin: this.state === 'origin', originHave: this.#originHave,
      torrent: this.#torrent, parts: this.#parts, assembled: this.#assembled, file: this.file as string,
    }
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
      await nextChange(this, signal)
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
      this.#torrent?.addPeers?.([peer])
      this.#parts?.addPeers([peer])
    })
    if (local) {
      // Restart: the torrent is known locally, the engine re-verifies whatever pieces are on disk.
      const mark = complete ? JSON.parse(complete.toString()) as CompleteMark : undefined
      this.role = mark?.role ?? 'peer'
      this.#actualSha256 = mark?.sha256
      await (mark ? this.#joinSwarm(local, true) : this.#orBackToSource(this.#joinSwarm(local, false), torrentPath))
    } else {
      await this.#orBackToSource(this.#claimAndFetch(torrentPath), torrentPath)
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
        active: () => this.role !== 'leader' && (this.state === 'waiting' || this.state === 'swarm'),
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
      const held = heldPieces(probe.length, this.#torrent, this.#parts)
      await this.#torrent?.stop({ wait: true })
      await this.#parts?.stop({ wait: true })
      this.#torrent = undefined
      this.#parts = undefined
      this.#originHave = 0
      this.role ??= 'peer'
      this.#setState('origin')
      const got = await completeFromOrigin({
        ctx: this.#ctx, probe, file: this.file as string, name: this.#name, id: this.id, reason, held, signal: this.#abort.signal,
        onBytes: (n) => { this.#fromOrigin += n; this.emit('progress') },
      })
      this.#actualSha256 = got.sha256
      this.#assembly = undefined
      this.#assembled = true
      await writeFile(torrentPath, got.torrent)
      await this.#joinSwarm(got.torrent, true)
    } finally { release() }
  }

  /**
   * Watches the key's segment torrents and joins each as it is published, while campaigning for the key. The
   * first of these ends it: every segment verified (assemble), the whole torrent published before any segment
   * (join it, as for an object published whole), or this agent elected (fetch from the origin, from the first
   * unpublished segment when a previous leader died mid-way).
   */
  async #claimAndFetch(torrentPath: string): Promise<void> {
    const probe = this.probe as OriginProbe
    const signal = this.#swarmSignal
    this.#setState('waiting')
    const parts = new PartSet({ engine: this.#ctx.engine, dir: path.join(this.dir as string, DATA_LAYOUT.partsDir), objectFile: this.file as string, trackers: this.#ctx.trackers, length: probe.length, log: this.#ctx.log })
    this.#parts = parts
    parts.addPeers(this.#peers.all)
    parts.on('progress', () => this.emit('progress'))
    parts.on('ban', (p) => { this.#ctx.log.warn({ id: this.id, peer: p }, 'banned peer for bad data'); this.#ctx.onBan(p) })
    await mkdir(path.join(this.dir as string, DATA_LAYOUT.partsDir), { recursive: true })
    const watching = new AbortController()
    const stopWatching = (): void => watching.abort()
    signal.addEventListener('abort', stopWatching, { once: true })
    const campaign = new AbortController()
    const stopCampaign = (): void => campaign.abort(signal.reason)
    signal.addEventListener('abort', stopCampaign, { once: true })
    try {
      await this.#ctx.index.watchParts(probe.key, (k, torrent) => {
        if (this.state === 'waiting') this.#setState('swarm')
        this.role ??= 'peer'
        parts.join(k, torrent).catch((err: unknown) => this.#ctx.log.warn({ id: this.id, part: k, err: String(err) }, 'cannot join segment'))
      }, watching.signal)
      const claimed = this.#ctx.index.claim(probe.key, { candidate: this.#ctx.agentId, signal: campaign.signal })
      claimed.catch(() => undefined)
      const first = await Promise.race([claimed, parts.allDone.then(() => 'parts' as const)])
      if (signal.aborted) {
        // Back-to-source won the race with an election.
        if (first !== 'parts' && first.kind === 'leader') await first.release()
        throw signal.reason as Error
      }
      if (first === 'parts') {
        campaign.abort(new SwarmError('SWARM_CANCELLED', 'every segment arrived'))
        this.role = 'peer'
        await this.#finishParts(torrentPath)
      } else if (first.kind === 'torrent' && parts.started === 0) {
        // Published whole (a small object, or before this agent looked): join the whole-object swarm.
        watching.abort()
        this.#parts = undefined
        await parts.stop()
        this.role = 'peer'
        await writeFile(torrentPath, first.torrent)
        await this.#joinSwarm(first.torrent, false)
      } else if (first.kind === 'torrent') {
        this.role = 'peer'
        await this.#waitParts(parts)
        await this.#finishParts(torrentPath)
      } else {
        watching.abort()
        this.role = 'leader'
        try {
          if (parts.started === 0 && probe.length <= this.#ctx.segmentSize) {
            this.#parts = undefined
            await this.#fetchAsLeader(first, torrentPath)
          } else {
            await this.#fetchSegmentsAsLeader(first, parts, torrentPath)
          }
        } finally { await first.release() }
      }
    } finally {
      watching.abort()
      signal.removeEventListener('abort', stopWatching)
      signal.removeEventListener('abort', stopCampaign)
    }
  }

  #waitParts(parts: PartSet): Promise<void> {
    return untilAborted(parts.allDone, this.#swarmSignal)
  }

  /**
   * The leader of a segmented object: fetches from the origin from the first unpublished segment on (see
   * fetchSegmentsFromOrigin), then waits for any segments still coming from peers and finishes as a follower does.
   */
  async #fetchSegmentsAsLeader(claim: LeaderClaim, parts: PartSet, torrentPath: string): Promise<void> {
    const got = await fetchSegmentsFromOrigin({
      ctx: this.#ctx, probe: this.probe as OriginProbe, claim, parts, name: this.#name, id: this.id, signal: this.#abort.signal,
      onStart: () => this.#setState('origin'),
      onProgress: (have, fromOrigin) => { this.#originHave = have; this.#fromOrigin = fromOrigin; this.emit('progress') },
    })
    this.#resumed = got.resumedBytes
    await this.#waitParts(parts)
    await this.#finishParts(torrentPath, claim)
  }

  /**
   * Every segment is verified: build the whole-object torrent (the segments' hashes concatenated — the same
   * info hash on every agent), assemble the file (unless the segments were written in place), seed it; the
   * leader publishes it.
   */
  async #finishParts(torrentPath: string, claim?: LeaderClaim): Promise<void> {
    const probe = this.probe as OriginProbe
    const parts = this.#parts as PartSet
    const placedIn = this.file
    this.#name = parts.base ?? this.#name
    // In place, under the leader's name for the object; a leader that named it otherwise (another version) gets
    // a copy under its name, which the whole-object torrent carries.
    const assemble = !parts.inPlace || placedIn !== this.file
    const { torrent, parsed } = await buildTorrentFile({
      name: this.#name, length: probe.length, pieceLength: parts.pieceLength, pieces: parts.pieces(), announce: this.#ctx.trackers,
      comment: probe.url, source: torrentSource(probe.key),
    })
    if (!claim) {
      // A follower completes once every segment is verified and the object's SHA-256 is known (GET /v1/objects
      // serves from the segments meanwhile); writing the single object file and seeding the whole-object
      // torrent follow, off the completion path — every agent finishing its last segment at once would
      // otherwise copy F bytes each at the same moment.
      this.#actualSha256 = await parts.sha256()
      this.#infoHash = parsed.infoHash
      this.#assembly = (async () => {
        if (assemble) await assembleParts(parts.ranges(), this.file as string, { sha256: false })
        this.#assembled = true
        if (this.state === 'cancelled') return
        await writeFile(torrentPath, torrent)
        await this.#joinSwarm(torrent, true)
        await this.#writeCompleteMark()
      })()
      this.#assembly.catch((err: unknown) => this.#fail(err))
      return
    }
    this.#actualSha256 = await parts.sha256()
    if (assemble) await assembleParts(parts.ranges(), this.file as string, { sha256: false })
    this.#assembled = true
    await writeFile(torrentPath, torrent)
    await this.#joinSwarm(torrent, true)
    await claim.publish(torrent)
    this.#ctx.log.info({ id: this.id, key: probe.key, infoHash: parsed.infoHash, segments: parts.layout?.count }, 'published torrent')
  }

  async #fetchAsLeader(claim: LeaderClaim, torrentPath: string): Promise<void> {
    const probe = this.probe as OriginProbe
    this.#setState('origin')
    const got = await fetchWholeFromOrigin({
      ctx: this.#ctx, probe, file: this.file as string, name: this.#name, signal: this.#abort.signal,
      onProgress: (have, fromOrigin) => { this.#originHave = have; this.#fromOrigin = fromOrigin; this.emit('progress') },
    })
    this.#resumed = got.resumedBytes
    this.#actualSha256 = got.sha256
    await writeFile(torrentPath, got.torrent)
    // Seed first, publish second: whoever receives the torrent finds this agent already announcing.
    await this.#joinSwarm(got.torrent, true, true)
    await claim.publish(got.torrent)
    this.#ctx.log.info({ id: this.id, key: probe.key, infoHash: this.#infoHash }, 'published torrent')
  }

  async #joinSwarm(torrentBuf: Buffer, complete: boolean, superSeed = false): Promise<void> {
    const probe = this.probe as OriginProbe
    const parsed = await parseTorrentFile(torrentBuf)
    const invalid = objectTorrentProblem(parsed, probe.length)
    if (invalid) {
      if (!complete) await this.#ctx.index.remove(probe.key).catch(() => undefined)
      throw new SwarmError('SWARM_TORRENT_INVALID', `torrent for ${this.url} ${invalid}`)
    }
    this.#name = parsed.name
    this.#infoHash = parsed.infoHash
    if (!complete) this.#setState('swarm')
    const torrent = await this.#ctx.engine.add(torrentBuf, parsed.infoHash, { dir: this.dir as string, complete, superSeed, trackers: this.#ctx.trackers })
    this.#torrent = torrent
    torrent.on('ban', (p) => { this.#ctx.log.warn({ id: this.id, peer: p }, 'banned peer for bad data'); this.#ctx.onBan(p) })
    torrent.on('progress', () => this.emit('progress'))
    torrent.addPeers?.(this.#peers.all)
    this.#resumed = Math.max(this.#resumed, complete ? 0 : torrent.resumed)
    this.emit('progress')
    if (!complete) await whenComplete(torrent, this.#swarmSignal)
  }

  async #complete(): Promise<void> {
    const file = this.file as string
    this.#actualSha256 ??= await sha256Parts([{ file, offset: 0 }])
    this.completedAt = new Date()
    // complete.json says the object file is whole: written once it is (after assembly, for a follower).
    if (!this.#assembly) await this.#writeCompleteMark()
    this.emit('progress')
    if (this.expectedSha256 && this.expectedSha256 !== this.#actualSha256) {
      // The bytes are the origin's (every piece verified), so this agent keeps seeding them for the others.
      throw new SwarmError('SWARM_SHA256_MISMATCH', `sha256 of ${this.url} is ${this.#actualSha256}, expected ${this.expectedSha256}`, { details: { url: this.url, actual: this.#actualSha256, expected: this.expectedSha256 } })
    }
    this.#setState('seeding')
    if (this.#assembly) void this.#assembly.then(() => this.#scheduleSeedStop(), () => undefined)
    else this.#scheduleSeedStop()
  }

  async #writeCompleteMark(): Promise<void> {
    const mark: CompleteMark = { sha256: this.#actualSha256, role: this.role, url: this.url }
    await writeFile(path.join(this.dir as string, DATA_LAYOUT.completeFile), JSON.stringify(mark))
  }

  #scheduleSeedStop(): void {
    const t = this.#torrent
    if (!t) return
    this.#cancelSeedStop = scheduleSeedStop({
      seedTimeMs: this.#ctx.seedTimeMs, seedRatio: this.#ctx.seedRatio, length: t.length,
      uploaded: () => this.info().bytes.uploaded,
      seeding: () => this.#torrent === t && this.state === 'seeding',
      onStop: (why) => {
        this.#ctx.log.info({ id: this.id, ...why }, 'seeding finished')
        void this.#stopTorrent().then(() => this.#setState('done'))
      },
    })
  }

  async #stopTorrent(): Promise<void> {
    this.#cancelSeedStop()
    this.#peers.stop()
    await this.#torrent?.stop()
    await this.#parts?.stop()
  }
}

async function readIfExists(file: string): Promise<Buffer | undefined> {
  try { return await readFile(file) } catch { return undefined }
}
