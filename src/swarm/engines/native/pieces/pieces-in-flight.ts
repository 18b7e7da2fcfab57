// The pieces on their way to a torrent, and from whom: one assembly per (piece, peer) — where its blocks go, which
// are still missing — and the in-flight budget each one holds. The first peer asked for a piece has its blocks
// written straight from the socket's read buffer into the file and hashed as they come: no piece buffer, no copy
// in this process. A piece buffer costs a follower a page fault per 4 KiB the first time it is used (in profiles,
// the copy into fresh piece buffers was 15 % of a follower's busy time) and memory the pool cannot lend elsewhere.
// A second peer sending the same piece (the end game) fills a pooled buffer instead: two peers never write one
// piece's bytes in the file, so the bytes of the one that verifies are the ones that stay there.
import { createHash } from 'node:crypto'
import type { NativePeer } from '../peer.ts'
import type { InFlightBudget } from './in-flight-budget.ts'
import type { PieceBufferPool } from './piece-buffers.ts'
import type { PieceStore } from './piece-store.ts'
import type { Assembly } from '../torrent-types.ts'
import { performance } from 'node:perf_hooks'

/** What a block did: dropped (not asked of this peer, or not now), added, completed its piece, or was the wrong size. */
export type BlockOutcome = 'dropped' | 'added' | 'complete' | 'wrong-size'

/** Pieces the moving average of a piece's time spans (an exponential average of weight 1/TYPICAL_WEIGHT). */
const TYPICAL_WEIGHT = 8

export class PiecesInFlight {
  readonly #active = new Map<number, Map<NativePeer, Assembly>>()
  readonly #buffers: PieceBufferPool
  readonly #budget: InFlightBudget
  readonly #store: PieceStore

  /** `budget`: taken by the caller before `start`, given back here when an assembly ends; `store`: where pieces go. */
  constructor(buffers: PieceBufferPool, budget: InFlightBudget, store: PieceStore) {
    this.#buffers = buffers
    this.#budget = budget
    this.#store = store
  }

  /** How long a whole piece has taken to arrive lately (ms, a moving average; 0 before the first). */
  typicalMs = 0

  /** Piece → the peers sending it (for the end game's choice). */
  get active(): ReadonlyMap<number, ReadonlyMap<NativePeer, Assembly>> { return this.#active }

  /** Some peer is sending piece `index`. */
  busy(index: number): boolean { return (this.#active.get(index)?.size ?? 0) > 0 }

  /** Asks `peer` for every block of piece `index` (`size` bytes) in one write; blocks of `block` bytes. */
  start(peer: NativePeer, index: number, size: number, block: number): void {
    const blocks = Math.ceil(size / block)
    let on = this.#active.get(index)
    // Blocks arrive as views of the engine's reused read buffer: each goes to the file (or a second peer's buffer) once.
    const first = on === undefined || on.size === 0
    const a: Assembly = {
      size, got: 0, blocks, block, missing: new Uint8Array(blocks).fill(1), at: performance.now(),
      buf: first ? undefined : this.#buffers.take(size), sha1: first ? createHash('sha1') : undefined, hashed: 0,
    }
    if (!on) { on = new Map(); this.#active.set(index, on) }
    on.set(peer, a)
    if (peer.fetching.size === 0) peer.waitingSince = a.at
    peer.fetching.add(index)
    peer.sendRequests(index, size, block)
  }

  /**
   * A block of piece `index` from `peer` at `off`. One never asked of this peer, already received, or cancelled (a
   * cancel may cross the block on the wire, BEP 3) is dropped; one of the wrong length ends the assembly. Throws if
   * the file write fails (the assembly is ended first).
   */
  block(peer: NativePeer, index: number, off: number, block: Uint8Array): BlockOutcome {
    const a = this.#active.get(index)?.get(peer)
    if (a === undefined) return 'dropped'
    const k = off / a.block
    if (!Number.isInteger(k) || a.missing[k] !== 1) return 'dropped'
    if (block.length !== Math.min(a.block, a.size - off)) {
      this.#end(peer, index)
      this.abandon(a)
      return 'wrong-size'
    }
    if (a.buf) a.buf.set(block, off)
    else this.#write(peer, index, a, k, block)
    a.missing[k] = 0
    a.got++
    const now = performance.now()
    peer.usefulAt = now
    peer.waitingSince = now
    return a.got === a.blocks ? 'complete' : 'added'
  }

  /** Block `k` of a piece written in the file: written, and hashed if it is the next in order. */
  #write(peer: NativePeer, index: number, a: Assembly, k: number, block: Uint8Array): void {
    try {
      this.#store.writeBlock(index, k * a.block, block)
    } catch (err) {
      this.#end(peer, index)
      this.abandon(a)
      throw err
    }
    if (a.sha1 && k === a.hashed) { a.sha1.update(block); a.hashed++ } else a.sha1 = undefined
  }

  /** `peer`'s whole piece `index`, taken out of the assemblies (its budget given back, its buffer now the caller's). */
  take(peer: NativePeer, index: number): Assembly | undefined {
    const a = this.#end(peer, index)
    if (a) {
      this.#budget.give(a.size)
      const took = performance.now() - a.at
      this.typicalMs = this.typicalMs === 0 ? took : this.typicalMs + (took - this.typicalMs) / TYPICAL_WEIGHT
    }
    return a
  }

  /**
   * The whole piece `a` is the one the torrent names: from its buffer, from the digest of its blocks as they came,
   * or (blocks out of order) read back from the file.
   */
  verify(index: number, a: Assembly): boolean {
    if (a.buf) return this.#store.verify(index, a.buf)
    if (a.sha1) return this.#store.matches(index, a.sha1.digest())
    const scratch = this.#buffers.take(a.size)
    try { return this.#store.verifyOnDisk(index, scratch) } finally { this.#buffers.release(scratch) }
  }

  /** Piece `index` is here: every other peer still sending it is told to stop, and returned. */
  cancelOthers(index: number): NativePeer[] {
    const on = this.#active.get(index)
    this.#active.delete(index)
    const others: NativePeer[] = []
    for (const [other, theirs] of on ?? []) {
      other.fetching.delete(index)
      this.abandon(theirs)
      other.sendCancels(index, theirs.size, theirs.block)
      others.push(other)
    }
    return others
  }

  /** An assembly is over without its bytes being kept: its budget and its buffer go back. */
  abandon(a: Assembly): void {
    this.#budget.give(a.size)
    if (a.buf) this.#buffers.release(a.buf)
  }

  /** Every piece being fetched from `peer` is abandoned (it left, or choked us). */
  dropPeer(peer: NativePeer): void {
    for (const index of peer.fetching) {
      const a = this.#end(peer, index, false)
      if (a) this.abandon(a)
    }
    peer.fetching.clear()
  }

  clear(): void { this.#active.clear() }

  #end(peer: NativePeer, index: number, unlist = true): Assembly | undefined {
    const on = this.#active.get(index)
    const a = on?.get(peer)
    on?.delete(peer)
    if (unlist) peer.fetching.delete(index)
    return a
  }
}
