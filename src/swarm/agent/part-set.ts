// The segment torrents of one object on one agent: joined from the index as they appear (or written by the
// leader itself), seeded until the download stops, and summed up for the Download's status.
import { EventEmitter } from 'node:events'
import { writeFile } from 'node:fs/promises'
import path from 'node:path'
import type { Logger } from '../../shared/logger.ts'
import type { EngineTorrent, SwarmEngine } from '../engines/engine.ts'
import type { IndexPeer } from '../index-store/swarm-index.ts'
import { SwarmError } from '../errors.ts'
import { SegmentDigest } from './segment-digest.ts'
import { layoutFromPart, segmentAt, segmentLength, segmentStart, sha256Parts, type FileRange, type SegmentLayout } from './segments.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { isSafeSingleFile, parseTorrentFile } from '../torrent-file.ts'
import { DATA_LAYOUT, parsePartName, partName } from '../wire-format.ts'

/**
 * Peers the leader serves each segment it fetched to. Its upload is the only source of a fresh segment and, at
 * worst, no faster than the origin: serving every follower at once, it sends each segment 1.6–1.8 times (pieces
 * the followers could have from each other) while the next segment waits. One peer does best: in interleaved runs
 * (16 agents × 128 MB, 32 MiB segments) one peer finished in 31.2–33.8 s against 33.2–36.2 s for two, the leader
 * uploading 1.15–1.35 × F against 1.55–1.6 × F (docs/benchmarks/swarm.md).
 */
const LEADER_SEGMENT_PEERS = 1

type PartSetEvents = { progress: []; ban: [{ address: string; peerId: string }] }

export type PartSetOptions = {
  engine: SwarmEngine
  /** Directory of the segment files and their torrents. */
  dir: string
  trackers: string[]
  /** The object's length (from the origin probe). */
  length: number
  log: Logger
  /**
   * The object's file: segments are written in place there when the engine can (nothing to assemble at the end),
   * else each in its own file under `dir`. @defaultValue none (own files)
   */
  objectFile?: string
  /** No verified byte for this long while segments are missing → re-add them. @defaultValue SWARM_DEFAULTS.agent.partStallMs */
  stallMs?: number
  /**
   * Take the object's SHA-256 segment by segment as they complete (the caller will check it). Without, sha256()
   * reads every segment when it is called. @defaultValue true
   */
  digest?: boolean
}

export class PartSet extends EventEmitter<PartSetEvents> {
  layout: SegmentLayout | undefined
  /** The object's file name, from the segment torrents. */
  base: string | undefined
  pieceLength = 0
  readonly #opts: PartSetOptions
  readonly #pieces = new Map<number, Buffer>()
  readonly #handles = new Map<number, EngineTorrent>()
  readonly #complete = new Set<number>()
  readonly #joining = new Set<number>()
  readonly #torrents = new Map<number, Buffer>()
  /** Peers the index names for the object, handed to every segment torrent. */
  readonly #indexPeers: IndexPeer[] = []
  #watchdog: NodeJS.Timeout | undefined
  #digest: SegmentDigest | undefined
  #allDone!: () => void
  #failed!: (err: Error) => void
  /** Resolves once every segment is verified on disk; rejects when the engine fails one. */
  readonly allDone: Promise<void>
  /** Leader: bytes on disk of the segment being fetched from the origin, and which one. */
  fetching: { part: () => number; bytes: () => number } | undefined
  stopped = false

  constructor(opts: PartSetOptions) {
    super()
    this.setMaxListeners(0)
    this.#opts = opts
    this.allDone = new Promise<void>((resolve, reject) => { this.#allDone = resolve; this.#failed = reject })
    this.allDone.catch(() => undefined)
    this.#watch()
  }

  /**
   * No verified byte for `stallMs` while segments are missing → restart those segments: re-adding makes the
   * engine announce afresh and find seeders it lost (the leader died and a successor re-seeds; aria2 otherwise
   * waits for its next tracker interval). What is on disk is re-checked, not fetched again.
   */
  #watch(): void {
    const stallMs = this.#opts.stallMs ?? SWARM_DEFAULTS.agent.partStallMs
    let last = -1
    let since = Date.now()
    this.#watchdog = setInterval(() => {
      if (this.stopped || !this.layout || this.#complete.size === this.layout.count) { clearInterval(this.#watchdog); return }
      const done = this.stats().done
      if (done !== last || this.fetching) { last = done; since = Date.now(); return }
      if (Date.now() - since < stallMs) return
      since = Date.now()
      for (const [k, h] of [...this.#handles]) {
        const torrent = this.#torrents.get(k)
        if (this.#complete.has(k) || !torrent) continue
        this.#opts.log.info({ part: k }, 'segment stalled; re-adding it to find its seeders again')
        this.#handles.delete(k)
        this.#joining.delete(k)
        void h.stop({ wait: true }).then(() => this.join(k, torrent)).catch((err: unknown) => this.#failed(err as Error))
      }
    }, 1000)
    this.#watchdog.unref()
  }

  get known(): number { return this.#pieces.size }
  /** Segments joined or being joined. */
  get started(): number { return this.#joining.size }
  has(part: number): boolean { return this.#pieces.has(part) || this.#joining.has(part) }
  /** The segments are in the object file (no assembly). */
  get inPlace(): boolean { return this.#opts.objectFile !== undefined && this.#opts.engine.inPlace === true }

  /** Where segment `part`'s bytes are: its range of the object file, or its own file. */
  placeOf(part: number): FileRange {
    const l = this.layout as SegmentLayout
    if (this.inPlace) return { file: this.#opts.objectFile as string, offset: segmentStart(l, part), length: segmentLength(l, part) }
    return { file: path.join(this.#opts.dir, partName(this.base ?? '', part, l)), offset: 0, length: segmentLength(l, part) }
  }

  /** Checks a segment torrent against the object and the layout seen so far; sets the layout from the first one. */
  async #accept(part: number, torrent: Buffer): Promise<{ infoHash: string }> {
    const parsed = await parseTorrentFile(torrent)
    const named = parsePartName(parsed.name)
    const layout = named ? layoutFromPart(this.#opts.length, named, parsed.length, parsed.pieceLength) : undefined
    const safe = isSafeSingleFile(parsed)
    if (!named || !layout || named.part !== part || !safe
      || (this.layout && (this.layout.size !== layout.size || this.layout.head !== layout.head || this.layout.taper !== layout.taper || this.layout.count !== layout.count))
      || (this.base !== undefined && this.base !== named.base)
      || (this.pieceLength && this.pieceLength !== parsed.pieceLength)) {
      throw new SwarmError('SWARM_TORRENT_INVALID', `segment torrent ${part} (${JSON.stringify(parsed.name)}, ${parsed.length} bytes) does not fit the object of ${this.#opts.length} bytes`)
    }
    this.layout ??= layout
    this.base ??= named.base
    this.pieceLength ||= parsed.pieceLength
    this.#pieces.set(part, Buffer.from(parsed.pieces.join(''), 'hex'))
    this.#torrents.set(part, torrent)
    await writeFile(path.join(this.#opts.dir, DATA_LAYOUT.partTorrent(part)), torrent)
    return { infoHash: parsed.infoHash }
  }

  /** Joins segment `part`'s swarm (or seeds it: `complete` = this agent wrote and hashed the bytes). */
  async join(part: number, torrent: Buffer, complete = false): Promise<void> {
    if (this.stopped || (!complete && this.#complete.has(part))) return
    if (!complete && this.#joining.has(part)) {
      const old = this.#handles.get(part)
      if (!old) return
      // Published again: a successor leader fetched it anew after the first leader died, maybe its only seeder.
      // Restart it so the engine announces afresh and finds the new seeder (what is on disk is re-checked).
      this.#handles.delete(part)
      await old.stop({ wait: true })
    }
    this.#joining.add(part)
    this.#opts.log.debug({ part, complete }, 'joining segment')
    try {
      const { infoHash } = await this.#accept(part, torrent)
      const place = this.placeOf(part)
      const handle = await this.#opts.engine.add(torrent, infoHash, {
        dir: this.#opts.dir, complete, trackers: this.#opts.trackers, group: this.#opts.dir,
        ...(this.inPlace ? { placement: { file: place.file, offset: place.offset } } : {}),
        ...(complete ? { maxPeers: LEADER_SEGMENT_PEERS, superSeed: true, moreComing: () => this.fetching !== undefined } : {}),
      })
      // Stopped, or dropped while the engine was adding it (the leader fetches it from the origin now).
      if (this.stopped || (!complete && !this.#joining.has(part))) { await handle.stop({ wait: true }); return }
      this.#handles.set(part, handle)
      if (this.#indexPeers.length) handle.addPeers?.(this.#indexPeers)
      handle.on('progress', () => this.emit('progress'))
      handle.on('ban', (p) => this.emit('ban', p))
      handle.on('error', (err) => this.#failed(err))
      const onDone = (): void => { this.#markComplete(part) }
      if (complete || handle.status().complete) onDone()
      else handle.once('done', onDone)
    } catch (err) {
      this.#joining.delete(part)
      this.#failed(err as Error)
      throw err
    }
  }

  #markComplete(part: number): void {
    this.#complete.add(part)
    this.#digestOf()?.add(part)
    this.#opts.log.debug({ part, complete: this.#complete.size, of: this.layout?.count }, 'segment complete')
    this.emit('progress')
    if (this.layout && this.#complete.size === this.layout.count) this.#allDone()
  }

  #digestOf(): SegmentDigest | undefined {
    if (this.#opts.digest === false) return undefined
    if (!this.#digest && this.layout) this.#digest = new SegmentDigest(this.layout.count, (k) => this.placeOf(k))
    return this.#digest
  }

  /**
   * The object's SHA-256 once every segment is verified: hashed segment by segment as they completed, or (without
   * `digest`) read from every segment now.
   */
  async sha256(): Promise<string> {
    if (!this.layout) throw new SwarmError('SWARM_ENGINE_FAILED', 'no segment layout yet')
    const digest = this.#digestOf()
    return digest ? await digest.digest() : await sha256Parts(this.ranges())
  }

  /** Every segment's piece hashes in order: the whole-object torrent's `pieces`. */
  pieces(): Buffer {
    const count = this.layout?.count ?? 0
    const out: Buffer[] = []
    for (let k = 0; k < count; k++) {
      const p = this.#pieces.get(k)
      if (!p) throw new SwarmError('SWARM_ENGINE_FAILED', `segment ${k} has no torrent`)
      out.push(p)
    }
    return Buffer.concat(out)
  }

  /** Every segment's bytes, in order. */
  ranges(): FileRange[] { return Array.from({ length: this.layout?.count ?? 0 }, (_, k) => this.placeOf(k)) }

  /** The first segment this agent does not hold verified (a successor leader fetches from there on). */
  firstIncomplete(): number {
    let k = 0
    while (this.#complete.has(k)) k++
    return k
  }

  /**
   * Stops downloading segments `from` and later from peers: the leader fetches them from the origin instead (a
   * published segment whose only seeder was the dead leader would otherwise never complete).
   */
  async drop(from: number): Promise<void> {
    this.#digest?.drop(from)
    for (const [k, h] of [...this.#handles]) {
      if (k < from) continue
      this.#handles.delete(k)
      await h.stop({ wait: true })
    }
    for (const k of [...this.#joining]) if (k >= from) this.#joining.delete(k)
  }

  /** Where byte `pos` lives: the segment file and the offset in it, and how many bytes of the segment follow. */
  locate(pos: number): { file: string; offset: number; room: number } {
    const l = this.layout as SegmentLayout
    const part = segmentAt(l, pos)
    const offset = pos - segmentStart(l, part)
    const place = this.placeOf(part)
    return { file: place.file, offset: place.offset + offset, room: segmentLength(l, part) - offset }
  }

  hasRange(start: number, end: number): boolean {
    const l = this.layout
    if (!l) return false
    for (let part = segmentAt(l, start); part <= segmentAt(l, end); part++) {
      if (this.#complete.has(part)) continue
      const base = segmentStart(l, part)
      const from = Math.max(start, base) - base
      const to = Math.min(end, base + segmentLength(l, part) - 1) - base
      if (this.fetching?.part() === part && this.fetching.bytes() > to) continue
      const h = this.#handles.get(part)
      if (!h) return false
      for (let p = Math.floor(from / this.pieceLength); p <= Math.floor(to / this.pieceLength); p++) if (!h.hasPiece(p)) return false
    }
    return true
  }

  stats(): { done: number; received: number; uploaded: number; down: number; up: number; peers: number; banned: number; resumed: number } {
    const out = { done: 0, received: 0, uploaded: 0, down: 0, up: 0, peers: 0, banned: 0, resumed: 0 }
    const l = this.layout
    for (let k = 0; l && k < l.count; k++) {
      const h = this.#handles.get(k)
      if (this.#complete.has(k)) out.done += segmentLength(l, k)
      else if (this.fetching?.part() === k) out.done += this.fetching.bytes()
      else if (h) out.done += h.status().done
    }
    for (const h of this.#handles.values()) {
      const s = h.status()
      out.received += s.received
      out.uploaded += s.uploaded
      out.down += s.downRate
      out.up += s.upRate
      out.peers = Math.max(out.peers, s.peers)
      out.banned += h.bannedCount
      out.resumed += h.resumed
    }
    return out
  }

  /** Peers found in the index: every segment torrent, joined or to come, may dial them. */
  addPeers(peers: readonly IndexPeer[]): void {
    this.#indexPeers.push(...peers)
    for (const h of this.#handles.values()) h.addPeers?.(peers)
  }

  /** `wait`: resolve once the engine has let go of the files (before someone else writes them). */
  async stop(options: { wait?: boolean } = {}): Promise<void> {
    this.stopped = true
    clearInterval(this.#watchdog)
    await Promise.all([...this.#handles.values()].map((h) => h.stop(options)))
  }
}
