// The pieces on their way to a torrent, and from whom: one assembly per (piece, peer) — a pooled buffer the blocks
// are copied into as they arrive, which blocks are still missing — and the in-flight budget each one holds.
import type { NativePeer } from './peer.ts'
import type { InFlightBudget } from './in-flight-budget.ts'
import type { PieceBufferPool } from './piece-buffers.ts'
import type { Assembly } from './torrent-types.ts'

/** What a block did: dropped (not asked of this peer, or not now), added, completed its piece, or was the wrong size. */
export type BlockOutcome = 'dropped' | 'added' | 'complete' | 'wrong-size'

export class PiecesInFlight {
  readonly #active = new Map<number, Map<NativePeer, Assembly>>()
  readonly #buffers: PieceBufferPool
  readonly #budget: InFlightBudget

  /** `budget`: taken by the caller before `start`, given back here when an assembly ends. */
  constructor(buffers: PieceBufferPool, budget: InFlightBudget) {
    this.#buffers = buffers
    this.#budget = budget
  }

  /** Piece → the peers sending it (for the end game's choice). */
  get active(): ReadonlyMap<number, ReadonlyMap<NativePeer, Assembly>> { return this.#active }

  /** Some peer is sending piece `index`. */
  busy(index: number): boolean { return (this.#active.get(index)?.size ?? 0) > 0 }

  /** Asks `peer` for every block of piece `index` (`size` bytes) in one write; blocks of `block` bytes. */
  start(peer: NativePeer, index: number, size: number, block: number): void {
    const blocks = Math.ceil(size / block)
    // Blocks arrive as views of the engine's reused read buffer: each is copied here, once.
    const a: Assembly = { buf: this.#buffers.take(size), got: 0, blocks, block, missing: new Uint8Array(blocks).fill(1), at: performance.now() }
    let on = this.#active.get(index)
    if (!on) { on = new Map(); this.#active.set(index, on) }
    on.set(peer, a)
    if (peer.fetching.size === 0) peer.waitingSince = a.at
    peer.fetching.add(index)
    peer.sendRequests(index, size, block)
  }

  /**
   * A block of piece `index` from `peer` at `off`. One never asked of this peer, already received, or cancelled (a
   * cancel may cross the block on the wire, BEP 3) is dropped; one of the wrong length ends the assembly.
   */
  block(peer: NativePeer, index: number, off: number, block: Uint8Array): BlockOutcome {
    const a = this.#active.get(index)?.get(peer)
    if (a === undefined) return 'dropped'
    const k = off / a.block
    if (!Number.isInteger(k) || a.missing[k] !== 1) return 'dropped'
    if (block.length !== Math.min(a.block, a.buf.length - off)) {
      this.#end(peer, index)
      this.abandon(a)
      return 'wrong-size'
    }
    a.missing[k] = 0
    a.buf.set(block, off)
    a.got++
    const now = performance.now()
    peer.usefulAt = now
    peer.waitingSince = now
    return a.got === a.blocks ? 'complete' : 'added'
  }

  /** `peer`'s whole piece `index`, taken out of the assemblies (its budget given back, its buffer now the caller's). */
  take(peer: NativePeer, index: number): Assembly | undefined {
    const a = this.#end(peer, index)
    if (a) this.#budget.give(a.buf.length)
    return a
  }

  /** Piece `index` is here: every other peer still sending it is told to stop, and returned. */
  cancelOthers(index: number): NativePeer[] {
    const on = this.#active.get(index)
    this.#active.delete(index)
    const others: NativePeer[] = []
    for (const [other, theirs] of on ?? []) {
      other.fetching.delete(index)
      this.abandon(theirs)
      other.sendCancels(index, theirs.buf.length, theirs.block)
      others.push(other)
    }
    return others
  }

  /** An assembly is over without its bytes being kept: its budget and its buffer go back. */
  abandon(a: Assembly): void {
    this.#budget.give(a.buf.length)
    this.#buffers.release(a.buf)
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
