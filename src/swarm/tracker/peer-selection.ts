// Which peers an announce gets back. bittorrent-tracker answers with random peers of the swarm, the asker
// itself and, for a seeder, every other seeder included. A datacenter agent seeds hundreds of torrents at a
// short interval: each announce round would make every agent connect to every other seeder of every torrent
// (and to itself), handshake, see "have all" on both sides and hang up. On a fleet with a dead tracker that
// storm delays real connections by ~10 s (the TCP connect of a follower to its segment's leader).
// Trackers such as opentracker give seeders only leechers; so does this one.
import type TrackerServer from 'bittorrent-tracker/server'

type SwarmPeer = { type?: string; complete?: boolean; peerId?: string }
type AnnounceRequest = { peer_id?: string; left?: number; socket?: unknown }
type PatchableSwarm = {
  peers: { keys: string[]; peek(key: string): SwarmPeer | undefined }
  announce(params: AnnounceRequest, cb: (...args: unknown[]) => void): void
  _getPeers(numwant: number, ownPeerId: string, isWebRTC: boolean): SwarmPeer[]
}
type SwarmFactory = { createSwarm(infoHash: unknown, cb: (err: Error | null, swarm?: PatchableSwarm) => void): void }

/** Peers worth handing to `asker`: never itself, never a seeder when it is one; at most `numwant`, in random order. */
export function selectPeers(peers: SwarmPeer[], asker: { peerId?: string; complete: boolean; webrtc: boolean }, numwant: number): SwarmPeer[] {
  const out: SwarmPeer[] = []
  const order = peers.map((_, i) => i)
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const t = order[i] as number; order[i] = order[j] as number; order[j] = t
  }
  for (const i of order) {
    if (out.length >= numwant) break
    const p = peers[i] as SwarmPeer
    if (p.peerId !== undefined && p.peerId === asker.peerId) continue
    if (asker.complete && p.complete) continue
    if ((p.type === 'ws') !== asker.webrtc) continue
    out.push(p)
  }
  return out
}

/** Makes every swarm `server` creates from now on answer announces with {@link selectPeers}. */
export function useLeechersForSeeders(server: TrackerServer): void {
  const factory = server as unknown as SwarmFactory
  const create = factory.createSwarm.bind(factory)
  factory.createSwarm = (infoHash, cb) => {
    create(infoHash, (err, swarm) => {
      if (swarm) patchSwarm(swarm)
      cb(err, swarm)
    })
  }
}

function patchSwarm(swarm: PatchableSwarm): void {
  // The library asks for peers synchronously inside announce(); remember who is asking.
  let asking: AnnounceRequest = {}
  const announce = swarm.announce.bind(swarm)
  swarm.announce = (params, cb) => {
    asking = params
    try { announce(params, cb) } finally { asking = {} }
  }
  swarm._getPeers = (numwant, ownPeerId, isWebRTC) => {
    const all: SwarmPeer[] = []
    for (const key of swarm.peers.keys) {
      const p = swarm.peers.peek(key)
      if (p) all.push(p)
    }
    return selectPeers(all, { peerId: asking.peer_id ?? ownPeerId, complete: asking.left === 0, webrtc: isWebRTC }, numwant)
  }
}
