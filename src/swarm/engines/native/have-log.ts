// Which of a torrent's verified pieces each peer was told of (HAVE). New pieces go to a peer with the next request
// or block sent to it anyway, and to the peer that sent the piece; every other peer hears of them at most
// HAVE_MAX_DELAY_MS later, in one batch: a HAVE per piece per peer would wake each of them once per piece.
import type { NativePeer } from './peer.ts'
import { HAVE_MAX_DELAY_MS } from './torrent-types.ts'

export class HaveLog {
  /** Pieces verified here, in order: each peer's `havesSent` says how many of them it was told. */
  readonly #verified: number[] = []
  readonly #pieces: number
  #timer: NodeJS.Timeout | undefined

  /** `pieces`: the torrent's piece count (a peer that has them all hears nothing). */
  constructor(pieces: number) {
    this.#pieces = pieces
  }

  /** Pieces verified so far. */
  get count(): number { return this.#verified.length }

  /** Piece `index` was verified; `flush` (every peer hears) runs within HAVE_MAX_DELAY_MS unless it ran already. */
  add(index: number, flush: () => void): void {
    this.#verified.push(index)
    this.#timer ??= setTimeout(flush, HAVE_MAX_DELAY_MS)
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
