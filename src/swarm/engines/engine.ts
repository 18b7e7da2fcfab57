// The BitTorrent engine behind an agent: add a torrent (to download or to seed), watch it, stop it.
// Two implementations: colony's own in the agent's process ('native') and one aria2c child process driven over
// JSON-RPC ('aria2').
import type { EventEmitter } from 'node:events'
import type { Logger } from '../../shared/logger.ts'
import type { IndexPeer } from '../wire-format.ts'
import type { PeerEvents, PeerLimits } from './native/peer-limits.ts'

export type EngineKind = 'native' | 'aria2'

export const ENGINE_KINDS: readonly EngineKind[] = ['native', 'aria2']

export type EngineTorrentStatus = {
  /** Verified bytes on disk. */
  done: number
  /** Bytes received from peers in this run (native: raw, including bad pieces; aria2: verified). */
  received: number
  uploaded: number
  /** Bytes per second. */
  downRate: number
  upRate: number
  peers: number
  /** Every piece is verified on disk. */
  complete: boolean
}

export type EngineTorrentEvents = {
  /** New verified data (or a status change worth a look). */
  progress: []
  /** Every piece is verified; the torrent keeps seeding. */
  done: []
  /** The engine gave up on this torrent. */
  error: [Error]
  /** A peer that sent data failing verification was dropped and refused from then on. */
  ban: [{ address: string; peerId: string }]
}

/** One torrent inside an engine. */
export interface EngineTorrent extends EventEmitter<EngineTorrentEvents> {
  readonly infoHash: string
  readonly pieceLength: number
  readonly length: number
  /** Bytes found valid on disk when the torrent was added (a resumed download). */
  readonly resumed: number
  readonly bannedCount: number
  status(): EngineTorrentStatus
  hasPiece(index: number): boolean
  /**
   * Peers found outside the trackers (the index): dialled whenever the torrent has no peer of use — every tracker
   * down, or none knowing a seeder. Native only: aria2's RPC cannot add a peer to a running download, so an aria2
   * agent relies on its trackers and, failing them, on the download's back-to-source fetch.
   */
  addPeers?(peers: readonly IndexPeer[]): void
  /** Best effort: fetch these pieces first (native only; aria2 picks rarest-first). */
  prioritize(first: number, last: number): void
  /**
   * Stops uploading and downloading; the data stays on disk. `wait`: resolve only once the engine has let go
   * of the file (before someone else writes it).
   */
  stop(options?: { wait?: boolean }): Promise<void>
}

/** Resolves once `t` has every piece (at once if it has), rejects on its error or the signal's abort. */
export function whenComplete(t: EngineTorrent, signal: AbortSignal): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    const cleanup = (): void => { t.off('done', onDone); t.off('error', onError); signal.removeEventListener('abort', onAbort) }
    const onDone = (): void => { cleanup(); resolve() }
    const onError = (err: Error): void => { cleanup(); reject(err) }
    const onAbort = (): void => { cleanup(); reject(signal.reason as Error) }
    if (signal.aborted) { onAbort(); return }
    t.on('done', onDone)
    t.on('error', onError)
    signal.addEventListener('abort', onAbort, { once: true })
    if (t.status().complete) onDone()
  })
}

export type EngineAddOptions = {
  /** Directory the torrent's single file lives in. */
  dir: string
  /** The data on disk is complete and already verified by this agent: seed without re-hashing. */
  complete: boolean
  /** Announce URLs added to the torrent's own. */
  trackers: string[]
  /** Most peers this torrent connects to (aria2 only). @defaultValue the engine's (55) */
  maxPeers?: number
  /**
   * This agent is the data's only source (it fetched it from the origin): announce pieces to each peer so that
   * every piece goes out once before any goes twice (BEP 16 super-seeding; native engine only). @defaultValue false
   */
  superSeed?: boolean
  /**
   * Super-seeding: true while more of the object is still coming from the origin (later segments) — no piece is
   * then shown a second time (native engine only). @defaultValue none (never)
   */
  moreComing?: () => boolean
  /**
   * Torrents of one object (its segments): a downloading torrent added to a group dials at once every peer its
   * group's torrents heard of, without waiting for a tracker round trip (native engine only). @defaultValue none
   */
  group?: string
  /**
   * The torrent's bytes live in `file` from byte `offset` on, not in `dir`/name: an object's segments written
   * in place in the object file, so nothing is copied once they are all in (engines with `inPlace` only).
   * @defaultValue none
   */
  placement?: { file: string; offset: number }
}

export interface SwarmEngine {
  readonly kind: EngineKind
  /** BitTorrent TCP port. */
  readonly port: number
  /** The engine's BitTorrent peer id (hex), registered in the index beside its address. @defaultValue none (the engine takes no peers from the index) */
  readonly peerId?: string
  /** add() honours `placement`. @defaultValue false */
  readonly inPlace?: boolean
  /** Adds a torrent; resolves once the engine knows which pieces are on disk. */
  add(torrent: Buffer, infoHash: string, options: EngineAddOptions): Promise<EngineTorrent>
  close(): Promise<void>
}

export type EngineOptions = {
  /** TCP listen port; 0 picks a free one. */
  listenPort: number
  /** bytes/s, 0 = none. */
  uploadLimit: number
  downloadLimit: number
  /** Where the engine may keep its own files (aria2: session, log). */
  dataDir: string
  log: Logger
  /** Address the BitTorrent listener binds (native engine). @defaultValue all interfaces */
  peerHost?: string
  /** What one remote peer may hold (native engine). @defaultValue PEER_LIMIT_DEFAULTS */
  peerLimits?: Partial<PeerLimits>
  /** Told of every peer connection refused or closed for its behaviour (native engine). @defaultValue none */
  peerEvents?: PeerEvents
}
