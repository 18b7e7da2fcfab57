// How many connected peers hold each piece, counted from what each peer announced — exactly once per peer and
// piece whatever the order of its messages. A second BITFIELD (BEP 3 allows one, first; a buggy or hostile client
// sends more) replaces the first rather than adding to it, which would make those pieces look common and come last.

/** What the torrent tracks per connection; the counts live in PieceAvailability. */
export type AnnouncingPeer = {
  /** Pieces this peer is counted for (bit per piece, set by PieceAvailability). */
  counted?: Uint8Array
  /** How many pieces this peer is counted for. */
  pieceCount: number
}

export class PieceAvailability {
  readonly count: number
  /** Peers holding each piece. */
  readonly counts: Uint16Array

  constructor(count: number) {
    this.count = count
    this.counts = new Uint16Array(count)
  }

  /** The peer announced piece `i` (HAVE); false if it was counted already. */
  add(peer: AnnouncingPeer, i: number): boolean {
    if (i < 0 || i >= this.count) return false
    const bits = (peer.counted ??= new Uint8Array(Math.ceil(this.count / 8)))
    const mask = 0x80 >> (i & 7)
    if (((bits[i >> 3] ?? 0) & mask) !== 0) return false
    bits[i >> 3] = (bits[i >> 3] ?? 0) | mask
    this.counts[i] = (this.counts[i] ?? 0) + 1
    peer.pieceCount++
    return true
  }

  /** The peer announced its whole set (BITFIELD): it replaces what the peer was counted for. */
  replace(peer: AnnouncingPeer, has: (i: number) => boolean): void {
    this.remove(peer)
    for (let i = 0; i < this.count; i++) if (has(i)) this.add(peer, i)
  }

  /** The peer is gone: it no longer counts for anything. */
  remove(peer: AnnouncingPeer): void {
    const bits = peer.counted
    if (!bits) return
    for (let i = 0; i < this.count; i++) {
      if (((bits[i >> 3] ?? 0) & (0x80 >> (i & 7))) !== 0 && (this.counts[i] ?? 0) > 0) this.counts[i] = (this.counts[i] ?? 1) - 1
    }
    peer.counted = undefined
    peer.pieceCount = 0
  }
}
