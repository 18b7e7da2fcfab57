// One torrent in the in-process engine: its peers, which piece each fetches next, and what each asked us for (the
// pieces on disk are piece-store.ts's, those on their way pieces-in-flight.ts's). The choices that make a fleet fast
// live here:
// - a seed that fetched the object itself super-seeds (BEP 16): it announces to each peer only pieces that went
//   out least so far, so its upload carries each piece once and the peers trade the rest among themselves;
// - a downloader takes whole pieces, rarest first, a few per peer, and duplicates the last ones (end game);
// - every peer that is interested is unchoked: a fleet shares, it does not bargain (the upload cap and a
//   round-robin over requesters keep it fair).
import { EventEmitter } from 'node:events'
import type { FileHandle } from 'node:fs/promises'
import { RateMeter } from '../../../shared/rate-meter.ts'
import type { EngineTorrent, EngineTorrentEvents, EngineTorrentStatus } from '../engine.ts'
import { SwarmError } from '../../errors.ts'
import { isColonyPeer, keepsNewConnection, MAX_QUEUED_REQUESTS, type NativePeer, type UploadJob, type UploadSource } from './peer.ts'
import { BLOCK, BYTES_PER_PEER, haveBatchPeriodMs, MAX_REQUEST, REQUEST_TIMEOUT_MS, REVEAL_BYTES, type NativeTorrentContext, type NativeTorrentOptions } from './torrent-types.ts'
import { PieceStore } from './pieces/piece-store.ts'
import { PiecesInFlight } from './pieces/pieces-in-flight.ts'
import { HaveLog } from './have-log.ts'
import { idlePeers, idlestPeer } from './idle-peers.ts'
import { PieceAvailability } from './pieces/piece-availability.ts'
import { endGameAfterMs, pickEndGame, pickInRange, pickRarest, RANGE_HELD } from './pieces/piece-picker.ts'
import { RevealPlan } from './super-seed.ts'
import type { ParsedTorrent } from '../../torrent-file.ts'
import type { IndexPeer } from '../../wire-format.ts'
import { performance } from 'node:perf_hooks'

export class NativeTorrent extends EventEmitter<EngineTorrentEvents> implements EngineTorrent, UploadSource {
  readonly infoHash: string
  readonly pieceLength: number
  readonly length: number
  readonly count: number
  readonly #perPeer: number
  bannedCount = 0
  stopped = false
  readonly offset: number
  readonly peers = new Map<string, NativePeer>()
  readonly #ctx: NativeTorrentContext
  readonly #opts: NativeTorrentOptions
  readonly #store: PieceStore
  readonly #avail: PieceAvailability
  readonly #plan: RevealPlan | undefined
  readonly #inFlight: PiecesInFlight
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
    this.#store = new PieceStore(parsed, opts.file, opts.offset)
    this.#inFlight = new PiecesInFlight(ctx.buffers, ctx.inFlight, this.#store)
    this.#haves = new HaveLog(this.count, () => haveBatchPeriodMs(this.peers.size))
    this.#avail = new PieceAvailability(this.count)
    this.#plan = opts.superSeed ? new RevealPlan(this.count, Math.ceil(REVEAL_BYTES / this.pieceLength)) : undefined
  }

  get complete(): boolean { return this.#store.complete }
  /** The file the pieces live in (open once `open` resolved). */
  get fh(): FileHandle | undefined { return this.#store.fh }
  /** Bytes found verified on disk at start (a resumed download). */
  get resumed(): number { return this.#store.resumed }
  /** Announces pieces a few at a time to other agents (BEP 16): the leader's segments it fetched itself. */
  get superSeeding(): boolean { return this.#plan !== undefined }
  /** Addresses the engine dialled for this torrent while it was complete: it dials each of them once at most. */
  readonly dialledComplete = new Set<string>()
  get left(): number { return this.length - this.#store.haveBytes }
  get received(): number { return this.#received }
  get uploaded(): number { return this.#uploaded }
  /** Super-seeding: pieces no agent was shown yet, as RevealPlan.unshownCounted counts them. */
  get unrevealed(): number {
    return this.#plan?.unshownCounted(this.ageMs, this.peers.values()) ?? 0
  }

  /** Super-seeding: first copies shown a moment ago have not reached their peers yet (RevealPlan.awaitingFirstCopies). */
  awaitingFirstCopies(now: number): boolean { return this.#plan?.awaitingFirstCopies(now) ?? false }

  pieceSize(index: number): number { return this.#store.pieceSize(index) }

  hasPiece(index: number): boolean { return this.#store.has(index) }

  /** Opens the file; a download finds out which pieces are already there and valid (a resumed one). */
  async open(): Promise<void> { await this.#store.open(this.#opts.complete) }

  status(): EngineTorrentStatus {
    return {
      done: this.#store.haveBytes, received: this.#received, uploaded: this.#uploaded,
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
    peer.uploads = this
    // have, request, cancel and piece come here straight from the connection's parser (wire-messages.ts).
    peer.guard.setHandler({
      have: (i) => {
        if (peer.closed || w.peerPieces.get(i)) return
        w.peerPieces.set(i, true)
        this.#plan?.arrived(i)
        if (this.#avail.add(peer, i)) this.#onPeerPieces(peer, i)
      },
      request: (index, offset, length) => this.#onRequest(peer, index, offset, length),
      cancel: (index, offset) => {
        const at = peer.queue.findIndex((j) => j.index === index && j.offset === offset)
        if (at >= 0) peer.queue.splice(at, 1)
      },
      piece: (index, offset, block) => this.#onBlock(peer, index, offset, block),
    })
    w.on('bitfield', () => {
      this.#avail.replace(peer, (i) => w.peerPieces.get(i))
      this.#onPeerPieces(peer, -1)
    })
    w.on('unchoke', () => this.#fill(peer))
    // Choked: what was asked of the peer will not come (BEP 3 without the fast extension).
    w.on('choke', () => { this.#inFlight.dropPeer(peer); this.#refillAll() })
    w.on('interested', () => { peer.usefulAt = performance.now(); w.unchoke() })
    w.once('close', () => this.#detach(peer))
    w.once('finish', () => this.#detach(peer))
    peer.socket.once('close', () => this.#detach(peer))
    // Super-seeding is for the fleet: another client (transmission asks for revealed pieces every ~10 s, and
    // takes one connection per address) gets the whole bitfield.
    peer.superSeeded = this.#plan !== undefined && isColonyPeer(id)
    peer.bigBlocks = isColonyPeer(id)
    if (peer.superSeeded) this.#reveal(peer)
    else if (this.#store.haveCount > 0) w.bitfield(this.#store.bits)
    peer.havesSent = this.#haves.count
  }

  /** The peer asks for a block: queued for the uploader if we hold it, it is unchoked and its queue has room. */
  #onRequest(peer: NativePeer, index: number, offset: number, length: number): void {
    if (peer.closed || peer.wire.amChoking || !this.#servable(index, offset, length) || peer.queue.length >= MAX_QUEUED_REQUESTS) return
    peer.usefulAt = performance.now()
    peer.queue.push({ index, offset, length })
    this.#ctx.wantsUpload(peer)
  }

  /** The uploader's turn for `job`: the block is read (piece cache or file) and sent, HAVEs first. */
  serve(peer: NativePeer, job: UploadJob): void {
    this.#ctx.readPiece(this, job.index).then((h) => {
      try {
        if (peer.closed) return
        this.#uploaded += job.length
        this.#haves.sendTo(peer)
        peer.sendPiece(job.index, job.offset, h.piece.subarray(job.offset, job.offset + job.length))
      } finally { h.release() }
    }, () => undefined)
  }

  /** A block we hold and may send: whole integers, inside one verified piece, at most MAX_REQUEST long. */
  #servable(index: number, offset: number, length: number): boolean {
    return Number.isInteger(index) && Number.isInteger(offset) && Number.isInteger(length) && index >= 0 && index < this.count &&
      offset >= 0 && length > 0 && length <= MAX_REQUEST && offset + length <= this.pieceSize(index) && this.hasPiece(index)
  }

  /**
   * Closes the peers of no use for `idleMs` (squatters: a handshake, then nothing) and returns them; also closes,
   * without returning them, peers that sent no block for REQUEST_TIMEOUT_MS while we wait for one (a capped peer
   * serving many may take a while per block; one silent this long is gone).
   */
  evictIdle(idleMs: number, now = performance.now()): NativePeer[] {
    for (const p of [...this.peers.values()]) {
      if (p.fetching.size === 0 || now - p.waitingSince < REQUEST_TIMEOUT_MS) continue
      this.#ctx.log.debug({ infoHash: this.infoHash, peer: p.address }, 'peer timed out')
      this.#detach(p)
    }
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
    const left = this.peers.get(peer.peerId) === peer
    if (left) this.peers.delete(peer.peerId)
    this.#avail.remove(peer)
    this.#inFlight.dropPeer(peer)
    this.#plan?.forget(peer)
    peer.close()
    this.#refillAll()
    if (left) this.#ctx.peerLeft(this)
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
    return !this.#store.has(i) && !this.#writing.has(i)
  }

  /** `peer` has piece `i`, we need it, and nobody is fetching it. */
  #isFree(peer: NativePeer, i: number): boolean {
    return peer.wire.peerPieces.get(i) && this.#needs(i) && !this.#inFlight.busy(i)
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

  /** The piece to fetch from `peer`: the wanted range first, then the rarest; in the end game, one already on its way. */
  #pick(peer: NativePeer): number {
    const has = peer.wire.peerPieces
    const pr = this.#priority
    if (pr) {
      const i = pickInRange(pr.first, Math.min(pr.last, this.count - 1), (i) => this.#isFree(peer, i), (i) => this.#store.has(i))
      if (i >= 0) return i
      if (i === RANGE_HELD) this.#priority = undefined
    }
    const best = pickRarest(this.count, this.#avail.counts, (i) => this.#isFree(peer, i))
    if (best >= 0) return best
    return pickEndGame(this.#inFlight.active, peer, (i) => has.get(i) && this.#needs(i), performance.now(), endGameAfterMs(this.#inFlight.typicalMs))
  }

  #start(peer: NativePeer, index: number): void {
    this.#haves.sendTo(peer)
    this.#inFlight.start(peer, index, this.pieceSize(index), peer.bigBlocks ? MAX_REQUEST : BLOCK)
  }

  /** A block from `peer` (see PiecesInFlight.block): a wrong size bans the peer, the last block finishes the piece. */
  #onBlock(peer: NativePeer, index: number, off: number, block: Uint8Array): void {
    if (peer.closed) return
    let outcome
    try { outcome = this.#inFlight.block(peer, index, off, block) } catch (err) { this.#fileFailed(`cannot write piece ${index}`, err); return }
    if (outcome === 'dropped') return
    if (outcome === 'wrong-size') { this.#ban(peer, 'block of the wrong size'); return }
    this.#received += block.length
    if (outcome === 'complete') this.#finish(peer, index)
  }

  /** `peer` sent all of piece `index`: verified, written (unless its blocks went to the file already) and announced. */
  #finish(peer: NativePeer, index: number): void {
    const a = this.#inFlight.take(peer, index)
    if (!a) return
    const buf = a.buf
    const release = (): void => { if (buf) this.#ctx.buffers.release(buf) }
    let ok
    try { ok = this.#inFlight.verify(index, a) } catch (err) { release(); this.#fileFailed(`cannot read piece ${index} back to verify it`, err); return }
    if (!ok) { release(); this.#ban(peer, `piece ${index} failed verification`); return }
    if (this.#store.has(index) || this.#writing.has(index) || this.stopped) { release(); this.#fill(peer); return }
    this.#writing.add(index)
    // Whoever else is still sending this piece (end game) can stop.
    for (const other of this.#inFlight.cancelOthers(index)) this.#fill(other)
    // Requests go out in pairs or more: one message that wakes the sender per two pieces, not per piece.
    if (peer.fetching.size <= this.#perPeer / 2) this.#fill(peer)
    try { if (buf) this.#store.write(index, buf) } catch (err) { release(); this.#writing.delete(index); this.#fileFailed(`cannot write piece ${index}`, err); return }
    this.#writing.delete(index)
    if (this.stopped) { release(); return }
    this.#store.setHave(index)
    // A piece written block by block is not in memory: the first peer to ask reads it from the file (piece-cache.ts).
    if (buf) this.#ctx.keepPiece(this, index, buf)
    this.#haves.add(index, this.#announce)
    // The sender first: a super-seeding peer reveals the next piece once it hears this one arrived.
    this.#haves.sendTo(peer)
    if (this.complete) this.#announce()
    this.emit('progress')
    if (this.complete) this.#onComplete()
    // Near the end, peers with a free slot may take a piece another is still sending (end game).
    else if (this.count - this.#store.haveCount <= this.peers.size * this.#perPeer) this.#refillAll()
  }

  /** The piece file failed us: the torrent's error (SWARM_ENGINE_FAILED), unless it is stopping. */
  #fileFailed(what: string, err: unknown): void {
    if (!this.stopped) this.emit('error', new SwarmError('SWARM_ENGINE_FAILED', `${what}: ${(err as Error).message}`, { cause: err }))
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
    this.#inFlight.clear()
    this.#ctx.detached(this)
    await this.#store.close()
  }
}
