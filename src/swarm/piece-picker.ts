// Piece choices of the in-process engine, as pure functions of counts (the torrent keeps the counts).

/** The usable piece fewest peers have (ties broken at random, so peers start on different pieces); -1 if none. */
export function pickRarest(count: number, avail: Uint16Array, usable: (index: number) => boolean): number {
  let best = -1
  let bestAvail = Infinity
  let ties = 0
  for (let i = 0; i < count; i++) {
    if (!usable(i)) continue
    const a = avail[i] ?? 0
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
