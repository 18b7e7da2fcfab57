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

/** Messages whose handlers keep nothing of the bytes they are given (a piece's receiver copies it). */
const KEEPS_NOTHING = new Set([0, 1, 2, 3, 4, 6, 7, 8, 9, 13, 14, 15, 16, 17])

/**
 * Why the feeder ends a connection: 'length' — the parser would have to buffer more than MAX_MESSAGE (a garbage
 * length); 'exception' — the Wire threw on what it was fed; undefined — the Wire stopped parsing (it ended the
 * connection itself, or its guard did and counted why).
 */
export type FeederDrop = (reason?: 'length' | 'exception', err?: unknown) => void

/** A parser size no message reaches: the Wire parses nothing more (bittorrent-protocol's own end sets Number.MAX_VALUE). */
export const PARSER_STOPPED = Number.MAX_SAFE_INTEGER
/**
 * Largest message whose read-spanning copy a feeder keeps for the next one: a whole-piece block between agents
 * (128 KiB) and its header. A fresh 64–128 KiB buffer per block that spans two reads is memory touched for the
 * first time, and memory outside V8's heap that brings its next full collection closer.
 */
const SPARE_MAX = 128 * 1024 + 64

/**
 * Feeds a plain (unencrypted) connection's bytes to the Wire's parser. The bytes are a view of the engine's one
 * reused read buffer, valid only until `push` returns: a message inside one read goes to the parser as a view of
 * it (a bitfield or an extension message, which the Wire keeps, as a copy), and a message that straddles reads is
 * copied once into a buffer of its exact size as its bytes arrive. The Wire's own `_write` concatenates all it holds
 * whenever a read leaves a message incomplete — a 128 KiB block over 64 KiB reads becomes 320 KiB of fresh copies.
 * A throw out of the parser ends the connection, never reaches the socket's read callback.
 */
export class WireFeeder {
  readonly #wire: PeerWire
  readonly #drop: FeederDrop
  /** The message being completed across reads, and how much of it is there. */
  #held: Buffer | undefined
  #filled = 0
  /** A buffer the parser did not keep, reused to complete the next message that spans reads (see SPARE_MAX). */
  #spare: Buffer | undefined
  #dropped = false

  /** `drop` ends the connection (see FeederDrop); it is called once. */
  constructor(wire: PeerWire, drop: FeederDrop) {
    this.#wire = wire
    this.#drop = drop
  }

  push(data: Uint8Array): void {
    if (this.#dropped) return
    try {
      this.#push(data)
    } catch (err) {
      this.#held = undefined
      this.#end('exception', err)
    }
  }

  #end(reason?: 'length' | 'exception', err?: unknown): void {
    if (this.#dropped) return
    this.#dropped = true
    this.#drop(reason, err)
  }

  #push(data: Uint8Array): void {
    const w = this.#wire
    let off = 0
    if (this.#held) {
      const n = Math.min(this.#held.length - this.#filled, data.length)
      this.#held.set(n === data.length ? data : data.subarray(0, n), this.#filled)
      this.#filled += n
      off = n
      if (this.#filled < this.#held.length) return
      const whole = this.#held
      this.#held = undefined
      this.#filled = 0
      // Decided before the parser runs: what it keeps is known from the message it is about to read.
      const keepsNothing = this.#mayKeepView(whole)
      w._parser(whole)
      if (!keepsNothing) { if (whole.buffer === this.#spare?.buffer) this.#spare = undefined } else if (whole.length <= SPARE_MAX && whole.length > (this.#spare?.length ?? 0)) this.#spare = whole
    }
    while (w._cryptoSyncPattern === null) {
      const need = w._parserSize
      const left = data.length - off
      if (left < need) {
        if (need > MAX_MESSAGE) { this.#end(need >= PARSER_STOPPED ? undefined : 'length'); return }
        if (left > 0) {
          const spare = this.#spare
          this.#held = spare && spare.length >= need ? spare.subarray(0, need) : Buffer.allocUnsafe(need)
          this.#held.set(data.subarray(off), 0)
          this.#filled = left
        }
        return
      }
      const view = data.subarray(off, off + need)
      off += need
      w._parser(this.#mayKeepView(view) ? view : Buffer.from(view))
    }
  }

  /** The parser step about to run keeps nothing of its input (or copies what it keeps). */
  #mayKeepView(view: Uint8Array): boolean {
    const w = this.#wire
    return w._parser === w._onMessageLength || (w._parser === w._onMessage && KEEPS_NOTHING.has(view[0] ?? -1))
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
