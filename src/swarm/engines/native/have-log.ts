// Which of a torrent's verified pieces each peer was told of (HAVE). New pieces go to a peer with the next request
// or block sent to it anyway, and to the peer that sent the piece; every other peer hears of them at the end of the
// batch period (HAVE_MAX_DELAY_MS, longer with many peers), in one batch: a HAVE per piece per peer would wake each
// of them once per piece.
import type { NativePeer } from './peer.ts'
import { untilPeriodEnd } from './torrent-types.ts'

export class HaveLog {
  /** Pieces verified here, in order: each peer's `havesSent` says how many of them it was told. */
  readonly #verified: number[] = []
  readonly #pieces: number
  readonly #periodMs: () => number
  readonly #now: () => number
  #timer: NodeJS.Timeout | undefined

  /**
   * `pieces`: the torrent's piece count (a peer that has them all hears nothing); `periodMs`: the batch period, a
   * batch goes at the end of the period it started in (untilPeriodEnd); `now`: the wall clock (tests pass their own).
   */
  constructor(pieces: number, periodMs: () => number, now: () => number = Date.now) {
    this.#pieces = pieces
    this.#periodMs = periodMs
    this.#now = now
  }

  /** Pieces verified so far. */
  get count(): number { return this.#verified.length }

  /** Piece `index` was verified; `flush` (every peer hears) runs at the end of the current period unless it ran already. */
  add(index: number, flush: () => void): void {
    this.#verified.push(index)
    this.#timer ??= setTimeout(flush, untilPeriodEnd(this.#now(), this.#periodMs()))
  }

  /**
   * HAVE for the pieces verified since `peer` last heard (one write), unless it is a full seed — even for a piece
   * it announced: a super-seeding peer learns from it what to reveal next.
   */
  sendTo(peer: NativePeer): void {
    const end = this.#verified.length
    if (peer.havesSent >= end) return
    if (peer.pieceCount < this.#pieces) peer.sendHaves(this.#verified, peer.havesSent, end)
    peer.havesSent = end
  }

  /** Every peer in `peers` hears of every piece verified so far; the pending batch is done. */
  flush(peers: Iterable<NativePeer>): void {
    this.cancel()
    for (const p of peers) this.sendTo(p)
  }

  cancel(): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
