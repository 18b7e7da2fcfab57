// Bans peers that send data failing verification. webtorrent checks every piece's SHA-1 and re-requests
// a bad one, but never blames the sender: a rogue peer would be asked again and again.
import type { Torrent, Wire } from './engine-types.ts'

export type PeerGuardOptions = {
  /** Failed pieces a peer may contribute to before it is banned when others also sent blocks. @defaultValue 2 */
  strikes?: number
  /** Called once per banned peer. @defaultValue none */
  onBan?: (peer: { address: string; peerId: string; failedPieces: number }) => void
}

export type PeerGuard = {
  /** Peers banned so far (ip:port and peer ids). */
  readonly banned: ReadonlySet<string>
  readonly bannedCount: number
}

const FAILED = /^Piece (\d+) failed verification/

/**
 * Records which wires sent blocks of each piece; when a piece fails its hash, a sole contributor is banned at
 * once, shared contributors collect a strike each (banned at `strikes`). Banned peers are disconnected and
 * refused by address and peer id from then on, since the tracker keeps handing their address out.
 */
export function guardTorrent(torrent: Torrent, options: PeerGuardOptions = {}): PeerGuard {
  const limit = options.strikes ?? 2
  const contributors = new Map<number, Set<Wire>>()
  const strikes = new Map<Wire, number>()
  const banned = new Set<string>()
  let bannedCount = 0

  const addrOf = (w: Wire): string => `${w.remoteAddress ?? '?'}:${w.remotePort ?? 0}`
  const isBanned = (w: Wire): boolean => banned.has(addrOf(w)) || (w.peerId !== undefined && banned.has(`id:${w.peerId}`))

  const ban = (w: Wire): void => {
    if (isBanned(w)) { w.destroy(); return }
    banned.add(addrOf(w))
    if (w.peerId) banned.add(`id:${w.peerId}`)
    bannedCount++
    options.onBan?.({ address: addrOf(w), peerId: w.peerId, failedPieces: strikes.get(w) ?? 1 })
    try { torrent.removePeer(addrOf(w)) } catch { /* already gone */ }
    w.destroy()
  }

  torrent.on('wire', (wire: Wire) => {
    if (isBanned(wire)) { wire.destroy(); return }
    wire.on('piece', (index: number) => {
      let set = contributors.get(index)
      if (!set) { set = new Set(); contributors.set(index, set) }
      set.add(wire)
    })
    wire.once('close', () => { strikes.delete(wire) })
  })

  torrent.on('verified', (index: number) => { contributors.delete(index) })

  torrent.on('warning', (err: Error) => {
    const m = FAILED.exec(err.message)
    if (!m) return
    const index = Number(m[1])
    const set = contributors.get(index)
    contributors.delete(index)
    if (!set || set.size === 0) return
    for (const w of set) {
      const n = (strikes.get(w) ?? 0) + 1
      strikes.set(w, n)
      if (set.size === 1 || n >= limit) ban(w)
    }
  })

  // Outgoing connections: refuse a banned address before dialing it again.
  const addPeer = torrent.addPeer.bind(torrent)
  torrent.addPeer = (peer: string, source?: string): boolean => (typeof peer === 'string' && banned.has(peer) ? false : addPeer(peer, source))

  return {
    banned,
    get bannedCount() { return bannedCount },
  }
}
