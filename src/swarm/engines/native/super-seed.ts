// Super-seeding (BEP 16) for the in-process engine: the leader, the only source of a segment it fetched, shows each
// other agent a few pieces at a time (HAVE) instead of its bitfield, so its upload carries each piece about once and
// the followers trade the rest among themselves.
import type { NativePeer } from './peer.ts'
import { pickReveal } from './pieces/piece-picker.ts'
import { FIRST_COPY_WAIT_MS, JOIN_GRACE_MS } from './torrent-types.ts'
import { performance } from 'node:perf_hooks'

export class RevealPlan {
  readonly #count: number
  /** Pieces shown and not yet reported back as held, across all the peers (at least one per peer). */
  readonly #budget: number
  /** Times each piece was shown. */
  readonly #shown: Uint16Array
  #unshown: number
  /** Pieces shown to one peer that has not reported them held yet → when shown (performance.now()). */
  readonly #firstOnTheirWay = new Map<number, number>()

  constructor(count: number, budget: number) {
    this.#count = count
    this.#budget = budget
    this.#shown = new Uint16Array(count)
    this.#unshown = count
  }

  /** Pieces shown to nobody yet (their first copy is the leader's most useful upload). */
  get unshown(): number { return this.#unshown }

  /**
   * The unshown pieces, counted while agents are connected (`peers`), and in the first JOIN_GRACE_MS after the
   * torrent was added (`ageMs`), before they are (a segment just published: counted 0 then, the leader would fill
   * that second or two with second copies of older segments, up to twice the object). 0 for a torrent no agent
   * joins at all.
   */
  unshownCounted(ageMs: number, peers: Iterable<NativePeer>): number {
    if (this.#unshown === 0) return 0
    if (ageMs < JOIN_GRACE_MS) return this.#unshown
    for (const p of peers) if (p.superSeeded) return this.#unshown
    return 0
  }

  /**
   * A first copy shown within FIRST_COPY_WAIT_MS has not reached its peer yet: no piece is shown a second time
   * meanwhile. Those first copies wait in the uploader's queue, and second copies shown now would be served
   * round-robin with them: with 32 agents of 2 MB/s, second copies took two thirds of the leader's upload over the
   * run's last 20 s while first copies still waited, 1.24 × the object in all (docs/benchmarks/swarm.md). A first
   * copy that has waited longer (its peer stalls) no longer holds the rest up.
   */
  awaitingFirstCopies(now: number): boolean {
    for (const at of this.#firstOnTheirWay.values()) if (now - at < FIRST_COPY_WAIT_MS) return true
    return false
  }

  /** Some peer reported piece `index` held: it is in the swarm now. */
  arrived(index: number): void {
    this.#firstOnTheirWay.delete(index)
  }

  /**
   * Shows `peer` the pieces that went out least (then those fewest peers hold, `avail`) until it has its share of
   * the budget unreported (`peers`: how many share it). A piece shown waits in the leader's upload queue until it
   * goes, and nobody else can have it meanwhile: with 8 pieces per peer, 15 followers would have 15 MiB shown (2 s
   * of the leader's upload) and sit idle waiting for first copies (docs/benchmarks/swarm.md).
   * `freshElsewhere`: another segment has pieces shown to nobody, or more are still coming from the origin — then
   * no piece is shown a second time: the leader's upload is the fleet's scarcest, and second copies of old
   * segments (even one per peer at a time, re-offered whenever the peer has fetched the last) take it to 1.8 × the
   * object and delay the first copies of new ones; shown while the next segment is being fetched, they sit in the
   * leader's queue ahead of its first copies (16 × 128 MB, 16 MiB segments: median 23.6 s without, 24.4 s with).
   * Nor while a first copy is still on its way (awaitingFirstCopies).
   */
  reveal(peer: NativePeer, avail: Uint16Array, freshElsewhere: () => boolean, peers: number, now = performance.now()): void {
    const has = peer.wire.peerPieces
    const ahead = Math.max(1, Math.ceil(this.#budget / Math.max(1, peers)))
    let outstanding = 0
    for (const i of peer.revealed) if (!has.get(i)) outstanding++
    while (outstanding < ahead && !peer.closed) {
      const best = pickReveal(this.#count, this.#shown, avail, (i) => peer.revealed.has(i) || has.get(i))
      if (best < 0) return
      const second = (this.#shown[best] ?? 0) > 0
      if (second && (this.awaitingFirstCopies(now) || freshElsewhere())) return
      peer.revealed.add(best)
      if (!second) {
        this.#unshown--
        this.#firstOnTheirWay.set(best, now)
      }
      this.#shown[best] = (this.#shown[best] ?? 0) + 1
      peer.wire.have(best)
      outstanding++
    }
  }

  /** `peer` left: the pieces shown to it that it never fetched are to be shown again. */
  forget(peer: NativePeer): void {
    for (const i of peer.revealed) {
      if (peer.wire.peerPieces.get(i) || !this.#shown[i]) continue
      this.#shown[i] = (this.#shown[i] ?? 1) - 1
      if (this.#shown[i] === 0) {
        this.#unshown++
        this.#firstOnTheirWay.delete(i)
      }
    }
    peer.revealed.clear()
  }
}
