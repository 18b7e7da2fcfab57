// One BitTorrent connection of the in-process engine: bittorrent-protocol's Wire over a TCP socket, plus what
// the engine keeps per peer (its upload queue, the pieces revealed to it while super-seeding).
import type net from 'node:net'
import type Wire from 'bittorrent-protocol'
import { PEER_ID_PREFIX } from '../../wire-format.ts'
import { blockMessages, haveMessages, MSG_CANCEL, MSG_REQUEST, pieceHeader } from './wire/wire-messages.ts'
import type { WireGuard } from './wire/wire-guard.ts'
import { performance } from 'node:perf_hooks'

/** bittorrent-protocol's Wire: the slice this engine drives is described in src/types/bittorrent-protocol.d.ts. */
export type PeerWire = Wire

/** `peEnabled`: accept the MSE/PE handshake as well as the plain one (incoming connections). */
export type WireConstructor = typeof Wire

/** A request from the remote for a block we have (checked against the torrent when it arrived). */
export type UploadJob = { index: number; offset: number; length: number }

/** What serves a peer's queued requests: its torrent, once attached. */
export type UploadSource = {
  /** Reads `job`'s block and sends it to `peer` (or drops the request if the read fails). */
  serve(peer: NativePeer, job: UploadJob): void
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
  /** Since when we wait for a block from this peer (the last block, or the first request after none was out). */
  waitingSince = performance.now()
  /** The torrent serving this peer's requests, once attached. */
  uploads: UploadSource | undefined
  closed = false
  /** The checks and the hot-message dispatch in front of the Wire (wire-guard.ts). */
  readonly guard: WireGuard

  constructor(wire: PeerWire, guard: WireGuard, socket: net.Socket, address: string, outgoing: boolean) {
    this.wire = wire
    this.guard = guard
    this.socket = socket
    this.address = address
    this.outgoing = outgoing
  }

  // Outgoing hot messages go through the Wire's _push: it encrypts on an MSE connection and sends nothing once
  // the Wire finished; on a plain one it is the connection's direct, corked socket write (connection.ts).

  /** Requests every block of piece `index` (`size` bytes) in blocks of `block` bytes: one buffer, one write. */
  sendRequests(index: number, size: number, block: number): void {
    this.wire._push(blockMessages(MSG_REQUEST, index, size, block))
  }

  /** Cancels what sendRequests asked for. */
  sendCancels(index: number, size: number, block: number): void {
    this.wire._push(blockMessages(MSG_CANCEL, index, size, block))
  }

  /** HAVE for `pieces[from..to)`, in one buffer. */
  sendHaves(pieces: readonly number[], from: number, to: number): void {
    if (to > from) this.wire._push(haveMessages(pieces, from, to))
  }

  /** A block we serve: its header and the bytes (held by the socket's write until it is done with them). */
  sendPiece(index: number, offset: number, block: Uint8Array): void {
    this.wire._push(pieceHeader(index, offset, block.length))
    this.wire._push(block)
  }

  get peerId(): string { return this.wire.peerId ?? '' }

  /** The socket holds too much unsent data: serve this peer again once it drains. */
  get congested(): boolean { return this.socket.writableLength > MAX_UNSENT }

  close(): void {
    if (this.closed) return
    this.closed = true
    this.queue.length = 0
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
