// Which of a torrent's peer connections give nothing: neither side interested, no block queued or on its way. A
// peer like that for long holds a slot another peer could use (a squatter: a handshake, then silence).
import type { NativePeer } from './peer.ts'

/** The peer is of use now: it wants our pieces, we want its, or blocks are queued or on their way. */
export function isUseful(peer: NativePeer): boolean {
  return peer.wire.peerInterested || peer.wire.amInterested || peer.fetching.size > 0 || peer.queue.length > 0
}

/** Marks the peers of use now as such (`usefulAt`); returns those of no use for `idleMs` or more. */
export function idlePeers(peers: Iterable<NativePeer>, idleMs: number, now: number): NativePeer[] {
  const idle: NativePeer[] = []
  for (const p of peers) {
    if (isUseful(p)) p.usefulAt = now
    else if (now - p.usefulAt >= idleMs) idle.push(p)
  }
  return idle
}

/** The peer of no use for longest, if for `minIdleMs` at least. */
export function idlestPeer(peers: Iterable<NativePeer>, minIdleMs: number, now: number): NativePeer | undefined {
  let idlest: NativePeer | undefined
  for (const p of idlePeers(peers, minIdleMs, now)) if (!idlest || p.usefulAt < idlest.usefulAt) idlest = p
  return idlest
}
