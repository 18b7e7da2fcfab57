// The in-process engine's torrent: what the engine lends it, its options, and the constants its scheduling uses.
import type { Hash } from 'node:crypto'
import type { Logger } from '../../../shared/logger.ts'
import type { NativePeer } from './peer.ts'
import type { NativeTorrent } from './torrent.ts'
import type { InFlightBudget } from './pieces/in-flight-budget.ts'
import type { PieceBufferPool } from './pieces/piece-buffers.ts'
import type { HeldPiece } from './pieces/piece-cache.ts'
import type { TokenBucket } from '../../token-bucket.ts'

/**
 * New pieces are announced (HAVE) to a peer with the next request or block we send it anyway, and to the peer that
 * sent the piece; other peers get them at the end of the batch period, which is this long (longer for a torrent with
 * many peers: haveBatchPeriodMs). Each message that wakes a process costs ~0.1 ms of CPU
 * here: in a mesh of 16 agents a HAVE per piece per peer would be 15 wake-ups per piece, and batches every 100 ms
 * ~150 a second per agent.
 */
export const HAVE_MAX_DELAY_MS = 250
/**
 * Peers whose HAVE batches one HAVE_MAX_DELAY_MS period pays for: a torrent with more peers flushes less often
 * (the period doubles, up to HAVE_MAX_DELAY_CAP_MS), so an agent's batch writes per second stay bounded as a fleet
 * grows. The peers it trades with hear sooner, with the requests and blocks it sends them.
 */
export const HAVE_PEERS_PER_PERIOD = 16
/** Longest delay of a HAVE batch, at any number of peers. */
export const HAVE_MAX_DELAY_CAP_MS = 1000

/** The batch period of a torrent with `peers` peers: HAVE_MAX_DELAY_MS doubled until one period covers them (at most the cap). */
export function haveBatchPeriodMs(peers: number): number {
  let ms = HAVE_MAX_DELAY_MS
  while (ms < HAVE_MAX_DELAY_CAP_MS && (ms / HAVE_MAX_DELAY_MS) * HAVE_PEERS_PER_PERIOD < peers) ms *= 2
  return Math.min(ms, HAVE_MAX_DELAY_CAP_MS)
}

/**
 * Milliseconds from `now` (wall clock) to the end of its period of `periodMs`. Every torrent of every agent flushes
 * its HAVE batch at these shared instants (the periods are HAVE_MAX_DELAY_MS times a power of two, so they nest):
 * a process whose peers all flush at once reads their batches in one wake-up, not one per connection.
 */
export function untilPeriodEnd(now: number, periodMs: number): number {
  return periodMs - (now % periodMs)
}
/** Block size asked of other clients (what every client serves). */
export const BLOCK = 16 * 1024
/**
 * Largest block a peer may ask for, and what agents ask each other for (up to a whole piece): one request, one
 * header and one write per 128 KiB instead of per 16 KiB.
 */
export const MAX_REQUEST = 128 * 1024
/** Bytes fetched from one peer at once (whole pieces, at least two): enough to keep a capped uploader busy, few enough to end quickly. */
export const BYTES_PER_PEER = 512 * 1024
/** A super-seeding torrent's unshown pieces count this long before any agent has joined it (ms). */
export const JOIN_GRACE_MS = 10_000
/** Super-seeding: a first copy not reported held this long after it was shown no longer holds second copies back (ms). */
export const FIRST_COPY_WAIT_MS = 30_000
/** Super-seeding: bytes announced to the peers and not yet reported back as held (at least a piece per peer). */
export const REVEAL_BYTES = 1024 * 1024

/** What the engine lends every torrent. */
export type NativeTorrentContext = {
  peerId: string
  log: Logger
  download: TokenBucket
  /** ip:port and id:<peer id> of peers that sent bad data. */
  banned: Set<string>
  /** A verified piece, held (its buffer is not reused) until `release`. */
  readPiece: (t: NativeTorrent, index: number) => Promise<HeldPiece>
  /** Piece buffers: taken for a piece being assembled, released when it is not kept. */
  buffers: PieceBufferPool
  /** Bytes of pieces being assembled, all torrents together: taken when a piece is requested, given back when it ends. */
  inFlight: InFlightBudget
  /** Another super-seeding torrent of this agent has pieces nobody was shown yet, or first copies on their way. */
  freshElsewhere: (t: NativeTorrent) => boolean
  keepPiece: (t: NativeTorrent, index: number, data: Buffer) => void
  /** The peer has requests queued: the engine's uploader serves them under the upload cap. */
  wantsUpload: (peer: NativePeer) => void
  detached: (t: NativeTorrent) => void
  /** The torrent heard of peers from the index: the engine dials them if no peer is of use. */
  indexPeersAdded: (t: NativeTorrent) => void
  /** A peer left the torrent: its slot is free for a connection waiting in line. */
  peerLeft: (t: NativeTorrent) => void
}

export type NativeTorrentOptions = {
  file: string
  /** Where the torrent's bytes start in `file` (a segment written in place in its object's file). */
  offset: number
  /** The file is whole and verified by this agent. */
  complete: boolean
  /** Announce each piece to one peer before any piece to a second (this agent is the only source). */
  superSeed: boolean
  /** Super-seeding: later segments are still being fetched (no second copies meanwhile). */
  moreComing?: () => boolean
}

/** A peer we wait on for a block this long is gone (its connection is closed and its pieces asked of others). */
export const REQUEST_TIMEOUT_MS = 30_000

/**
 * A piece being received from one peer: its size, its blocks (`missing[k]` = 1 until block k came), when asked, and
 * where the blocks go. `buf`: a pooled buffer they are copied into (a second peer sending a piece another is already
 * sending, in the end game). No `buf`: they are written straight into the file and hashed as they arrive, `sha1`
 * fed with blocks 0 … `hashed` − 1 in order (undefined once a block came out of order: the piece is then hashed
 * from the file).
 */
export type Assembly = {
  size: number; got: number; blocks: number; block: number; missing: Uint8Array; at: number
  buf: Buffer | undefined; sha1: Hash | undefined; hashed: number
}
