// One BitTorrent connection of the in-process engine: bittorrent-protocol's Wire over a TCP socket, plus what
// the engine keeps per peer (its upload queue, the pieces revealed to it while super-seeding).
import type net from 'node:net'
import type Wire from 'bittorrent-protocol'
import { PEER_ID_PREFIX } from '../../wire-format.ts'

/** bittorrent-protocol's Wire: the slice this engine drives is described in src/types/bittorrent-protocol.d.ts. */
export type PeerWire = Wire

/** `peEnabled`: accept the MSE/PE handshake as well as the plain one (incoming connections). */
export type WireConstructor = typeof Wire

/** A request from the remote for a block we have; `respond` sends it (or refuses it with an error). */
export type UploadJob = {
  index: number
  offset: number
  length: number
  respond: (err: Error | null, block?: Uint8Array) => void
  /** Reads the block (from the piece cache or the file), held until `release` (after `respond`). */
  read: () => Promise<{ block: Uint8Array; release: () => void }>
}

/** Bytes a peer may leave unread in our socket buffer before we stop serving it (a slow reader). */
export const MAX_UNSENT = 1024 * 1024
/** Requests from one peer we hold at once; more are dropped (a well-behaved client keeps far fewer in flight). */
export const MAX_QUEUED_REQUESTS = 256
/** A message we would have to buffer beyond this (a bitfield for 8M pieces, a garbage length) ends the connection. */
export const MAX_MESSAGE = 1024 * 1024 + 64

export class NativePeer {
  readonly wire: PeerWire
  readonly socket: net.Socket
  /** ip:port we dialed, or ip:port the connection came from. */
  readonly address: string
  readonly outgoing: boolean
  /** Blocks the remote asked for, in order. */
  readonly queue: UploadJob[] = []
  /** Pieces the peer announced (bitfield + HAVEs), counted by PieceAvailability. */
  pieceCount = 0
  /** Which pieces the peer is counted for (PieceAvailability's bitmap). */
  counted?: Uint8Array
  /** Another agent: ask it for whole pieces (up to 128 KiB) per request. */
  bigBlocks = false
  /** We super-seed to this peer (it is another agent). */
  superSeeded = false
  /** Super-seeding: pieces announced to this peer. */
  readonly revealed = new Set<number>()
  /** How many of the torrent's verified pieces this peer was told of (bitfield or HAVE). */
  havesSent = 0
  /** Pieces being fetched from this peer. */
  readonly fetching = new Set<number>()
  /** The uploader waits for this peer's socket to drain (it is not in the ready set meanwhile). */
  awaitingDrain = false
  /** When the connection was last seen of use (performance.now()): see NativeTorrent.evictIdle. */
  usefulAt = performance.now()
  closed = false

  constructor(wire: PeerWire, socket: net.Socket, address: string, outgoing: boolean) {
    this.wire = wire
    this.socket = socket
    this.address = address
    this.outgoing = outgoing
  }

  get peerId(): string { return this.wire.peerId ?? '' }

  /** The socket holds too much unsent data: serve this peer again once it drains. */
  get congested(): boolean { return this.socket.writableLength > MAX_UNSENT }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const job of this.queue.splice(0)) job.respond(new Error('connection closed'))
    this.wire.destroy()
    this.socket.destroy()
  }
}

/** The peer id is another colony agent's ('-CY', any version). */
export function isColonyPeer(peerId: string): boolean {
  return peerId.startsWith(PEER_ID_PREFIX.slice(0, 6))
}

/**
 * Two agents that dial each other at once end up with two connections for one torrent. Both sides keep the one
 * dialed by the lower peer id, so they agree without talking. Another client does not know that rule (it may
 * close the other one): with it the connection already there stays.
 */
export function keepsNewConnection(myId: string, remoteId: string, newIsOutgoing: boolean): boolean {
  if (!isColonyPeer(remoteId)) return false
  const dialer = newIsOutgoing ? myId : remoteId
  return dialer === (myId < remoteId ? myId : remoteId)
}
