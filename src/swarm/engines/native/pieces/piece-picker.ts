// Piece choices of the in-process engine, as pure functions of counts (the torrent keeps the counts).
import { performance } from 'node:perf_hooks'

/** pickInRange's answer when every piece of the range is held: the range is done with. */
export const RANGE_HELD = -2

/**
 * The first usable piece in [first, last] (a range asked for first); -1 if none is usable now, RANGE_HELD if every
 * piece of the range is held.
 */
export function pickInRange(first: number, last: number, usable: (index: number) => boolean, held: (index: number) => boolean): number {
  let all = true
  for (let i = first; i <= last; i++) {
    if (usable(i)) return i
    all &&= held(i)
  }
  return all ? RANGE_HELD : -1
}

/** The usable piece fewest peers have (ties broken at random, so peers start on different pieces); -1 if none. */
export function pickRarest(count: number, avail: Uint16Array, usable: (index: number) => boolean): number {
  let best = -1
  let bestAvail = Infinity
  let ties = 0
  for (let i = 0; i < count; i++) {
    const a = avail[i] ?? 0
    // A piece more peers have than the best so far cannot win: its (costlier) usability is not asked.
    if (a > bestAvail || !usable(i)) continue
    if (a < bestAvail) { best = i; bestAvail = a; ties = 1 } else if (a === bestAvail && Math.random() * ++ties < 1) best = i
  }
  return best
}

/**
 * Super-seeding: the piece to announce next to a peer — the one announced least so far, then the one fewest
 * connected peers hold; -1 if every piece is skipped (the peer has or was shown them all).
 */
export function pickReveal(count: number, revealed: Uint16Array, avail: Uint16Array, skip: (index: number) => boolean): number {
  let best = -1
  let bestScore = Infinity
  for (let i = 0; i < count; i++) {
    if (skip(i)) continue
    const score = (revealed[i] ?? 0) * 65536 + (avail[i] ?? 0)
    if (score < bestScore) { best = i; bestScore = score }
  }
  return best
}

/** The end game starts when this few pieces are on their way… */
export const END_GAME_PIECES = 4
/**
 * …or for a piece on its way this long (ms), and END_GAME_SLOW_FACTOR times as long as a piece of this torrent takes
 * (PiecesInFlight.typicalMs): a sender slower than the others. Where every sender is slow (uploads capped at a few
 * MB/s shared by many peers, a 2 MiB piece takes seconds), an absolute bound alone would ask a second peer for
 * nearly every piece: at 32 agents of 2 MB/s the followers received 11–14 % more bytes than the object.
 */
export const END_GAME_AFTER_MS = 1500
export const END_GAME_SLOW_FACTOR = 3

/** How long a piece must have been on its way to be fetched twice outside the last few (ms). */
export function endGameAfterMs(typicalMs: number): number {
  return Math.max(END_GAME_AFTER_MS, END_GAME_SLOW_FACTOR * typicalMs)
}

/**
 * End game: every missing piece is on its way; `peer` may also be asked for one that exactly one other peer is
 * sending (`wanted`: this peer has it and we still need it) — one of the last END_GAME_PIECES, or one on its way
 * `afterMs` (endGameAfterMs). Without that bound, with a fleet's 15 peers × 4 pieces in flight, the end game covers a quarter
 * of a segment and duplicates are 7–16 % of all bytes uploaded. -1 if none.
 */
export function pickEndGame<P>(active: ReadonlyMap<number, ReadonlyMap<P, { at: number }>>, peer: P, wanted: (index: number) => boolean, now = performance.now(), afterMs = END_GAME_AFTER_MS): number {
  let inFlight = 0
  for (const on of active.values()) if (on.size > 0) inFlight++
  const since = inFlight > END_GAME_PIECES ? now - afterMs : Infinity
  for (const [i, on] of active) {
    if (on.size !== 1 || on.has(peer) || !wanted(i)) continue
    for (const a of on.values()) if (a.at < since) return i
  }
  return -1
}
