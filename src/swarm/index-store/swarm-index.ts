// The index: which torrent serves a given origin object version, who fetches it from the origin on a miss, and
// which agents serve it (their BitTorrent addresses, for when no tracker answers).
import type { IndexPeer } from '../wire-format.ts'

export type { IndexPeer } from '../wire-format.ts'

/** This caller won the election for the key: fetch from the origin once, then publish (or release on failure). */
export type LeaderClaim = {
  kind: 'leader'
  /** Stores the torrent under the key; everyone waiting on the key receives it. */
  publish(torrent: Buffer): Promise<void>
  /** Stores the torrent of segment `part` of the object (progressive publication); watchers of the key's parts receive it. */
  publishPart(part: number, torrent: Buffer): Promise<void>
  /** Gives up leadership (after publishing, or on failure so the next candidate takes over). Idempotent. */
  release(): Promise<void>
}

/** The key is already published. */
export type TorrentClaim = { kind: 'torrent'; torrent: Buffer }

export type Claim = LeaderClaim | TorrentClaim

export type ClaimOptions = {
  /** Who is campaigning (agent id), recorded as the leader's value for observers. */
  candidate: string
  /** Cancels the wait (DELETE of the download, agent shutdown). @defaultValue none */
  signal?: AbortSignal
}

/**
 * Two implementations: in-memory (agents in one process, a single host) and etcd (a fleet).
 * Keys are hex strings from `keyOf()`; implementations put them under their own prefix.
 */
export interface SwarmIndex {
  /** Which implementation ("memory", "etcd") for /healthz and status. */
  readonly kind: string
  /** The torrent published for key, if any. */
  lookup(key: string): Promise<Buffer | undefined>
  /**
   * Resolves once either a torrent exists for key (published by anyone) or this caller is the one
   * elected to fetch it. Exactly one caller at a time holds leadership for a key.
   */
  claim(key: string, options: ClaimOptions): Promise<Claim>
  /** The segment torrents published so far for key (segment index → torrent). */
  lookupParts(key: string): Promise<Map<number, Buffer>>
  /**
   * Calls onPart for every segment torrent of key: those already published (before this resolves), then each
   * new one, until the signal aborts.
   */
  watchParts(key: string, onPart: (part: number, torrent: Buffer) => void, signal: AbortSignal): Promise<void>
  /**
   * Registers this agent's BitTorrent address for key until the signal aborts (etcd: under a lease, so a dead
   * agent's entry goes with it). Best effort: never rejects.
   */
  registerPeer(key: string, agentId: string, peer: IndexPeer, signal: AbortSignal): Promise<void>
  /** Calls onPeer for every agent registered for key: those already there (before this resolves), then each new one, until the signal aborts. */
  watchPeers(key: string, onPeer: (peer: IndexPeer) => void, signal: AbortSignal): Promise<void>
  /** Drops a published torrent (it proved unusable) so the next claim elects a new leader. */
  remove(key: string): Promise<void>  // also drops its segment torrents
  /**
   * Runs the index's code paths once (etcd: a campaign and a watch under a private key) so that the first claim does
   * not pay for loading them; best effort, never rejects. @defaultValue none (nothing to warm)
   */
  warmUp?(candidate: string): Promise<void>
  /** Releases connections; claims in flight reject. */
  close(): Promise<void>
}
