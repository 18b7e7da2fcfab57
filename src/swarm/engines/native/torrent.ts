// One torrent in the in-process engine: which pieces are on disk, which are on their way from whom, and what
// each peer asked us for. The choices that make a fleet fast live here:
// - a seed that fetched the object itself super-seeds (BEP 16): it announces to each peer only pieces that went
//   out least so far, so its upload carries each piece once and the peers trade the rest among themselves;
// - a downloader takes whole pieces, rarest first, a few per peer, and duplicates the last ones (end game);
// - every peer that is interested is unchoked: a fleet shares, it does not bargain (the upload cap and a
//   round-robin over requesters keep it fair).
import { hash } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { constants, writeSync } from 'node:fs'
import { open, type FileHandle } from 'node:fs/promises'
import { RateMeter } from '../../../shared/rate-meter.ts'
import type { EngineTorrent, EngineTorrentEvents, EngineTorrentStatus } from '../engine.ts'
import { SwarmError } from '../../errors.ts'
import { isColonyPeer, keepsNewConnection, MAX_QUEUED_REQUESTS, type NativePeer } from './peer.ts'
import { BLOCK, BYTES_PER_PEER, JOIN_GRACE_MS, MAX_REQUEST, REVEAL_BYTES, type Assembly, type NativeTorrentContext, type NativeTorrentOptions } from './torrent-types.ts'
import { HaveLog } from './have-log.ts'
import { idlePeers, idlestPeer } from './idle-peers.ts'
import { PieceAvailability } from './piece-availability.ts'
import { pickEndGame, pickRarest } from './piece-picker.ts'
import { RevealPlan } from './super-seed.ts'
import type { ParsedTorrent } from '../../torrent-file.ts'
import type { IndexPeer } from '../../wire-format.ts'

export class NativeTorrent extends EventEmitter<EngineTorrentEvents> implements EngineTorrent {
  readonly infoHash: string
  readonly pieceLength: number
  readonly length: number
  readonly count: number
  readonly #perPeer: number
  resumed = 0
  bannedCount = 0
  stopped = false
  fh: FileHandle | undefined
  readonly offset: number
  readonly peers = new Map<string, NativePeer>()
  readonly #ctx: NativeTorrentContext
  readonly #opts: NativeTorrentOptions
  readonly #hashes: Buffer
  readonly #have: Uint8Array
  #haveCount = 0
  #haveBytes = 0
  readonly #avail: PieceAvailability
  readonly #plan: RevealPlan | undefined
  readonly #active = new Map<number, Map<NativePeer, Assembly>>()
  readonly #writing = new Set<number>()
  #priority: { first: number; last: number } | undefined
  readonly #addedAt = performance.now()
  #received = 0
  #uploaded = 0
  readonly #downRate = new RateMeter(500)
  readonly #upRate = new RateMeter(500)
  #refillTimer: NodeJS.Timeout | undefined
  readonly #haves: HaveLog

  constructor(ctx: NativeTorrentContext, parsed: ParsedTorrent, infoHash: string, opts: NativeTorrentOptions) {
    super()
    this.setMaxListeners(0)
    this.#ctx = ctx
    this.#opts = opts
    this.infoHash = infoHash
    this.offset = opts.offset
    this.pieceLength = parsed.pieceLength
    this.length = parsed.length
    this.count = parsed.pieces.length
    this.#perPeer = Math.max(2, Math.ceil(BYTES_PER_PEER / this.pieceLength))
    this.#hashes = Buffer.from(parsed.pieces.join(''), 'hex')
    this.#have = new Uint8Array(Math.ceil(this.count / 8))
    this.#haves = new HaveLog(this.count)
    this.#avail = new PieceAvailability(this.count)
    this.#plan = opts.superSeed ? new RevealPlan(this.count, Math.ceil(REVEAL_BYTES / this.pieceLength)) : undefined
  }

  get complete(): boolean { return this.#haveCount === this.count }
  /** Announces pieces a few at a time to other agents (BEP 16): the leader's segments it fetched itself. */
  get superSeeding(): boolean { return this.#plan !== undefined }
  /** Addresses the engine dialled for this torrent while it was complete: it dials each of them once at most. */
  readonly dialledComplete = new Set<string>()
  get left(): number { return this.length - this.#haveBytes }
  get received(): number { return this.#received }
  get uploaded(): number { return this.#uploaded }
  /**
   * Super-seeding: pieces no agent was shown yet — counted while agents are connected, and in the first
   * JOIN_GRACE_MS after the torrent was added, before they are (a segment just published: counted 0 then, the
   * leader would fill that second or two with second copies of older segments, up to twice the object).
   * 0 for a torrent no agent joins at all.
   */
  get unrevealed(): number {
    const n = this.#plan?.unshown ?? 0
    if (n === 0) return 0
    if (performance.now() - this.#addedAt < JOIN_GRACE_MS) return n
    for (const p of this.peers.values()) if (p.superSeeded) return n
    return 0
  }

  pieceSize(index: number): number {
    return index === this.count - 1 ? this.length - index * this.pieceLength : this.pieceLength
  }

  hasPiece(index: number): boolean {
    return ((this.#have[index >> 3] ?? 0) & (0x80 >> (index & 7))) !== 0
  }

  #setHave(index: number): void {
    this.#have[index >> 3] = (this.#have[index >> 3] ?? 0) | (0x80 >> (index & 7))
    this.#haveCount++
    this.#haveBytes += this.pieceSize(index)
  }

  /** Opens the file; a download finds out which pieces are already there and valid (a resumed one). */
  async open(): Promise<void> {
    if (this.#opts.complete) {
      this.fh = await open(this.#opts.file, 'r')
      const { size } = await this.fh.stat()
      if (size < this.offset + this.length) throw new SwarmError('SWARM_ENGINE_FAILED', `${this.#opts.file} has ${size} bytes, the torrent ends at ${this.offset + this.length}`)
      for (let i = 0; i < this.count; i++) this.#setHave(i)
      return
    }
    // Created if missing, never truncated: segments placed in one object file open it side by side.
    this.fh = await open(this.#opts.file, constants.O_RDWR | constants.O_CREAT)
    const { size } = await this.fh.stat()
    const buf = Buffer.allocUnsafe(this.pieceLength)
    for (let i = 0; i < this.count && this.offset + i * this.pieceLength + this.pieceSize(i) <= size; i++) {
      const len = this.pieceSize(i)
      const { bytesRead } = await this.fh.read(buf, 0, len, this.offset + i * this.pieceLength)
      if (bytesRead === len && this.#verify(i, buf.subarray(0, len))) this.#setHave(i)
    }
    this.resumed = this.#haveBytes
  }

  #verify(index: number, data: Uint8Array): boolean {
    const want = this.#hashes.subarray(index * 20, index * 20 + 20)
    // One-shot: no Hash object per piece.
    return hash('sha1', data, 'buffer').equals(want)
  }

  status(): EngineTorrentStatus {
    return {
      done: this.#haveBytes, received: this.#received, uploaded: this.#uploaded,
      downRate: Math.round(this.#downRate.sample(this.#received)), upRate: Math.round(this.#upRate.sample(this.#uploaded)),
      peers: this.peers.size, complete: this.complete && !this.stopped,
    }
  }

  /** Peers from the index, address → peer id: the engine dials them when no peer is of use (see addPeers). */
  readonly indexPeers = new Map<string, string>()

  /** Milliseconds since the torrent was added. */
  get ageMs(): number { return performance.now() - this.#addedAt }

  addPeers(peers: readonly IndexPeer[]): void {
    let added = false
    for (const p of peers) {
      if (this.indexPeers.get(p.address) === p.peerId) continue
      this.indexPeers.set(p.address, p.peerId)
      added = true
    }
    if (added) this.#ctx.indexPeersAdded(this)
  }

  prioritize(first: number, last: number): void {
    this.#priority = { first, last }
  }

  /** A connection whose handshake named this torrent. */
  attach(peer: NativePeer): void {
    if (this.stopped) { peer.close(); return }
    const id = peer.peerId
    const old = this.peers.get(id)
    if (old) {
      if (!keepsNewConnection(this.#ctx.peerId, id, peer.outgoing)) { peer.close(); return }
      this.#detach(old)
    }
    this.peers.set(id, peer)
    const w = peer.wire
    w.setKeepAlive(true)
    // A capped peer serving many may take a while per block; a peer silent this long is gone.
    w.setTimeout(30_000, true)
    w.on('bitfield', () => {
      this.#avail.replace(peer, (i) => w.peerPieces.get(i))
      this.#onPeerPieces(peer, -1)
    })
    w.on('have', (i: number) => { if (this.#avail.add(peer, i)) this.#onPeerPieces(peer, i) })
    w.on('unchoke', () => this.#fill(peer))
    w.on('interested', () => { peer.usefulAt = performance.now(); w.unchoke() })
    w.on('request', (index: number, offset: number, length: number, respond: (err: Error | null, block?: Uint8Array) => void) => {
      if (!this.#servable(index, offset, length) || peer.queue.length >= MAX_QUEUED_REQUESTS) {
        respond(new Error('bad request'))
        return
      }
      peer.usefulAt = performance.now()
      peer.queue.push({
        index, offset, length,
        respond: (err, block) => {
          if (!err && block) { this.#uploaded += block.length; this.#haves.sendTo(peer) }
          respond(err, block)
        },
        read: () => this.#ctx.readPiece(this, index).then((h) => ({ block: h.piece.subarray(offset, offset + length), release: h.release })),
      })
      this.#ctx.wantsUpload(peer)
    })
    w.on('cancel', (index: number, offset: number) => {
      const at = peer.queue.findIndex((j) => j.index === index && j.offset === offset)
      if (at >= 0) peer.queue.splice(at, 1)
    })
    w.on('timeout', () => { this.#ctx.log.debug({ infoHash: this.infoHash, peer: peer.address }, 'peer timed out'); this.#detach(peer) })
    w.once('close', () => this.#detach(peer))
    w.once('finish', () => this.#detach(peer))
    peer.socket.once('close', () => this.#detach(peer))
    // Super-seeding is for the fleet: another client (transmission asks for revealed pieces every ~10 s, and
    // takes one connection per address) gets the whole bitfield.
    peer.superSeeded = this.#plan !== undefined && isColonyPeer(id)
    peer.bigBlocks = isColonyPeer(id)
    if (peer.superSeeded) this.#reveal(peer)
    else if (this.#haveCount > 0) w.bitfield(this.#have)
    peer.havesSent = this.#haves.count
  }

  /** A block we hold and may send: whole integers, inside one verified piece, at most MAX_REQUEST long. */
  #servable(index: number, offset: number, length: number): boolean {
    return Number.isInteger(index) && Number.isInteger(offset) && Number.isInteger(length) && index >= 0 && index < this.count &&
      offset >= 0 && length > 0 && length <= MAX_REQUEST && offset + length <= this.pieceSize(index) && this.hasPiece(index)
  }

  /** Closes the peers of no use for `idleMs` (squatters: a handshake, then nothing); returns them. */
  evictIdle(idleMs: number, now = performance.now()): NativePeer[] {
    const gone = idlePeers(this.peers.values(), idleMs, now)
    for (const p of gone) this.#detach(p)
    return gone
  }

  /** The torrent is full: closes the peer of no use for longest, if for `minIdleMs` at least, and returns it. */
  takeIdleSlot(minIdleMs: number, now = performance.now()): NativePeer | undefined {
    const p = idlestPeer(this.peers.values(), minIdleMs, now)
    if (p) this.#detach(p)
    return p
  }

  #detach(peer: NativePeer): void {
    if (this.peers.get(peer.peerId) === peer) this.peers.delete(peer.peerId)
    this.#avail.remove(peer)
    for (const index of peer.fetching) {
      const on = this.#active.get(index)
      const a = on?.get(peer)
      on?.delete(peer)
      if (a) this.#abandon(a)
    }
    peer.fetching.clear()
    this.#plan?.forget(peer)
    peer.close()
    this.#refillAll()
  }

  /** The peer has new pieces: `index`, or -1 for a whole bitfield. */
  #onPeerPieces(peer: NativePeer, index: number): void {
    if (this.complete) {
      // Two seeds have nothing to say to each other.
      if (this.#peerIsSeed(peer)) this.#detach(peer)
      else if (peer.superSeeded) this.#reveal(peer)
      return
    }
    if (index >= 0 && !this.#needs(index)) return
    peer.wire.interested()
    // A HAVE names one piece: fetch that one if nobody is, without scanning every piece for the rarest (a scan per
    // HAVE would be most of a follower's JS time: 15 peers × every piece). A peer busy with others waits its refill.
    if (index >= 0 && !this.#priority && !this.#isFree(peer, index) && peer.fetching.size > 0) return
    this.#fill(peer, index)
  }

  /** Piece `i` is neither here nor being written. */
  #needs(i: number): boolean {
    return !this.hasPiece(i) && !this.#writing.has(i)
  }

  /** `peer` has piece `i`, we need it, and nobody is fetching it. */
  #isFree(peer: NativePeer, i: number): boolean {
    return peer.wire.peerPieces.get(i) && this.#needs(i) && !this.#active.get(i)?.size
  }

  #peerIsSeed(peer: NativePeer): boolean {
    return peer.pieceCount >= this.count
  }

  #reveal(peer: NativePeer): void {
    let sharers = 0
    for (const p of this.peers.values()) if (p.superSeeded) sharers++
    this.#plan?.reveal(peer, this.#avail.counts, () => this.#ctx.freshElsewhere(this) || this.#opts.moreComing?.() === true, sharers)
  }

  #refillAll(): void {
    if (this.#refillTimer || this.stopped || this.complete) return
    this.#refillTimer = setTimeout(() => {
      this.#refillTimer = undefined
      for (const p of this.peers.values()) this.#fill(p)
    }, 0)
  }

  /** Keeps `peer` fetching its share of pieces; `hint`, if free, first (a piece it just announced). */
  #fill(peer: NativePeer, hint = -1): void {
    if (this.stopped || this.complete || peer.closed || peer.wire.peerChoking) return
    while (peer.fetching.size < this.#perPeer) {
      const index = hint >= 0 && !this.#priority && this.#isFree(peer, hint) ? hint : this.#pick(peer)
      hint = -1
      if (index < 0) return
      const size = this.pieceSize(index)
      if (!this.#ctx.inFlight.tryTake(size)) { this.#ctx.inFlight.wait(this.#wake); return }
      if (!this.#ctx.download.tryTake(size)) {
        this.#ctx.inFlight.give(size)
        clearTimeout(this.#refillTimer)
        this.#refillTimer = setTimeout(() => { this.#refillTimer = undefined; for (const p of this.peers.values()) this.#fill(p) }, this.#ctx.download.waitMs(size))
        return
      }
      this.#start(peer, index)
    }
  }

  /** Bytes came back to the engine's in-flight budget: every peer takes its share again. */
  readonly #wake = (): void => this.#refillAll()

  /** A piece's assembly is over without its bytes being kept: its budget and its buffer go back. */
  #abandon(a: Assembly): void {
    this.#ctx.inFlight.give(a.buf.length)
    this.#ctx.buffers.release(a.buf)
  }

  /** The piece to fetch from `peer`: the wanted range first, then the rarest; in the end game, one already on its way. */
  #pick(peer: NativePeer): number {
    const has = peer.wire.peerPieces
    const free = (i: number): boolean => this.#isFree(peer, i)
    const pr = this.#priority
    if (pr) {
      let held = true
      for (let i = pr.first; i <= pr.last && i < this.count; i++) {
        if (free(i)) return i
        held &&= this.hasPiece(i)
      }
      if (held) this.#priority = undefined
    }
    const best = pickRarest(this.count, this.#avail.counts, free)
    if (best >= 0) return best
    return pickEndGame(this.#active, peer, (i) => has.get(i) && this.#needs(i))
  }

  #start(peer: NativePeer, index: number): void {
    const size = this.pieceSize(index)
    const block = peer.bigBlocks ? MAX_REQUEST : BLOCK
    const blocks = Math.ceil(size / block)
    // Blocks arrive as views of the engine's reused read buffer: each is copied here, once.
    const a: Assembly = { buf: this.#ctx.buffers.take(size), got: 0, blocks, block, at: performance.now() }
    let on = this.#active.get(index)
    if (!on) { on = new Map(); this.#active.set(index, on) }
    on.set(peer, a)
    peer.fetching.add(index)
    this.#haves.sendTo(peer)
    for (let off = 0; off < size; off += block) {
      const len = Math.min(block, size - off)
      peer.wire.request(index, off, len, (err, block) => this.#onBlock(peer, index, a, off, len, err, block))
    }
  }

  #onBlock(peer: NativePeer, index: number, a: Assembly, off: number, len: number, err: Error | null, block?: Uint8Array): void {
    if (this.#active.get(index)?.get(peer) !== a) return
    if (err || !block || block.length !== len) {
      this.#active.get(index)?.delete(peer)
      peer.fetching.delete(index)
      this.#abandon(a)
      if (!err) this.#ban(peer, 'block of the wrong size')
      this.#refillAll()
      return
    }
    a.buf.set(block, off)
    a.got++
    peer.usefulAt = performance.now()
    this.#received += len
    if (a.got === a.blocks) void this.#finish(peer, index, a)
  }

  async #finish(peer: NativePeer, index: number, a: Assembly): Promise<void> {
    const on = this.#active.get(index)
    on?.delete(peer)
    peer.fetching.delete(index)
    this.#ctx.inFlight.give(a.buf.length)
    if (!this.#verify(index, a.buf)) {
      this.#ctx.buffers.release(a.buf)
      this.#ban(peer, `piece ${index} failed verification`)
      this.#refillAll()
      return
    }
    if (this.hasPiece(index) || this.#writing.has(index) || this.stopped) { this.#ctx.buffers.release(a.buf); this.#fill(peer); return }
    this.#active.delete(index)
    this.#writing.add(index)
    // Whoever else is still sending this piece (end game) can stop.
    for (const [other, theirs] of on ?? []) {
      other.fetching.delete(index)
      this.#abandon(theirs)
      const b = theirs.block
      for (let off = 0; off < a.buf.length; off += b) other.wire.cancel(index, off, Math.min(b, a.buf.length - off))
      this.#fill(other)
    }
    // Requests go out in pairs or more: one message that wakes the sender per two pieces, not per piece.
    if (peer.fetching.size <= this.#perPeer / 2) this.#fill(peer)
    try {
      // Synchronous: a page-cache write of one piece costs microseconds, while the promise API's round trip
      // through the thread pool costs ~2 ms of this thread per piece in profiles (16 agents on 2 cores).
      writeSync((this.fh as FileHandle).fd, a.buf, 0, a.buf.length, this.offset + index * this.pieceLength)
    } catch (err) {
      this.#ctx.buffers.release(a.buf)
      this.#writing.delete(index)
      if (!this.stopped) this.emit('error', new SwarmError('SWARM_ENGINE_FAILED', `cannot write piece ${index}: ${(err as Error).message}`, { cause: err }))
      return
    }
    this.#writing.delete(index)
    if (this.stopped) { this.#ctx.buffers.release(a.buf); return }
    this.#setHave(index)
    this.#ctx.keepPiece(this, index, a.buf)
    this.#haves.add(index, this.#announce)
    // The sender first: a super-seeding peer reveals the next piece once it hears this one arrived.
    this.#haves.sendTo(peer)
    if (this.complete) this.#announce()
    this.emit('progress')
    if (this.complete) this.#onComplete()
    // Near the end, peers with a free slot may take a piece another is still sending (end game).
    else if (this.count - this.#haveCount <= this.peers.size * this.#perPeer) this.#refillAll()
  }

  /** Every peer hears of every piece verified so far. */
  readonly #announce = (): void => {
    if (this.stopped) this.#haves.cancel()
    else this.#haves.flush(this.peers.values())
  }

  #onComplete(): void {
    this.#ctx.log.debug({ infoHash: this.infoHash }, 'torrent complete')
    for (const p of [...this.peers.values()]) {
      if (this.#peerIsSeed(p)) this.#detach(p)
      else p.wire.uninterested()
    }
    this.emit('done')
  }

  #ban(peer: NativePeer, why: string): void {
    const b = this.#ctx.banned
    b.add(peer.address)
    if (peer.peerId) b.add(`id:${peer.peerId}`)
    this.bannedCount++
    this.#ctx.log.warn({ infoHash: this.infoHash, peer: peer.address, why }, 'banned a peer for bad data')
    this.emit('ban', { address: peer.address, peerId: peer.peerId })
    this.#detach(peer)
  }

  async stop(): Promise<void> {
    if (this.stopped) return
    this.stopped = true
    clearTimeout(this.#refillTimer)
    this.#haves.cancel()
    for (const p of [...this.peers.values()]) this.#detach(p)
    this.#active.clear()
    this.#ctx.detached(this)
    await this.fh?.close().catch(() => undefined)
  }
}
