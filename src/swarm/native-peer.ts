// One BitTorrent connection of the in-process engine: bittorrent-protocol's Wire over a TCP socket, plus what
// the engine keeps per peer (its upload queue, the pieces revealed to it while super-seeding).
import type { EventEmitter } from 'node:events'
import type net from 'node:net'

/** bittorrent-protocol's Wire (untyped package): the slice this engine drives. */
export interface PeerWire extends EventEmitter {
  peerId: string | null
  amInterested: boolean
  peerChoking: boolean
  peerPieces: { get(index: number): boolean }
  _bufferSize: number
  /** Bytes the parser waits for before its next step, and that step (bittorrent-protocol's framing state). */
  _parserSize: number
  _parser: (buf: Uint8Array) => void
  _cryptoSyncPattern: Uint8Array | null
  _write(chunk: Uint8Array, cb: (err?: Error | null) => void): void
  end(): void
  handshake(infoHash: string, peerId: string, extensions?: Record<string, boolean>): void
  bitfield(bits: Uint8Array): void
  have(index: number): void
  choke(): void
  unchoke(): void
  interested(): void
  uninterested(): void
  request(index: number, offset: number, length: number, cb: (err: Error | null, block?: Uint8Array) => void): void
  cancel(index: number, offset: number, length: number): void
  setTimeout(ms: number, unref?: boolean): void
  setKeepAlive(enable: boolean): void
  destroy(): void
  sendPe2(): void
  sendPe4(infoHash: string): void
  /** The Wire's outgoing side (a stream push); the engine replaces it with a direct socket write. */
  push(chunk: Uint8Array | null): boolean
}

/** `peEnabled`: accept the MSE/PE handshake as well as the plain one (incoming connections). */
export type WireConstructor = new (type?: string, retries?: number, peEnabled?: boolean) => PeerWire

export async function loadWire(): Promise<WireConstructor> {
  const specifier = 'bittorrent-protocol'
  return ((await import(specifier)) as { default: WireConstructor }).default
}

/** A request from the remote for a block we have; `respond` sends it (or refuses it with an error). */
export type UploadJob = {
  index: number
  offset: number
  length: number
  respond: (err: Error | null, block?: Uint8Array) => void
  /** Reads the block (from the piece cache or the file). */
  read: () => Promise<Uint8Array>
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
  /** Pieces the peer announced (bitfield + HAVEs). */
  pieceCount = 0
  /** Another agent: ask it for whole pieces (up to 128 KiB) per request. */
  bigBlocks = false
  /** We super-seed to this peer (it is another agent). */
  superSeeded = false
  /** Super-seeding: pieces announced to this peer. */
  readonly revealed = new Set<number>()
  /** Pieces being fetched from this peer. */
  readonly fetching = new Set<number>()
  /** The uploader waits for this peer's socket to drain (it is not in the ready set meanwhile). */
  awaitingDrain = false
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

/**
 * Feeds a plain (unencrypted) connection's bytes to the Wire's parser. The Wire's own `_write` concatenates all it
 * holds whenever a read leaves a message incomplete — a 128 KiB block over 64 KiB reads became 320 KiB of fresh,
 * zero-filled copies — while this copies a straddling message once into a buffer of its exact size and hands a
 * message inside one read over as a view of it.
 */
export class WireFeeder {
  readonly #wire: PeerWire
  readonly #chunks: Uint8Array[] = []
  /** Bytes held, waiting for the rest of a message. */
  size = 0

  constructor(wire: PeerWire) {
    this.#wire = wire
  }

  push(data: Uint8Array): void {
    const w = this.#wire
    this.#chunks.push(data)
    this.size += data.length
    while (this.size >= w._parserSize && w._cryptoSyncPattern === null) {
      const need = w._parserSize
      this.size -= need
      w._parser(this.#take(need))
    }
  }

  #take(need: number): Uint8Array {
    const first = this.#chunks[0]
    if (need === 0 || !first) return new Uint8Array(0)
    if (first.length >= need) {
      if (first.length === need) this.#chunks.shift()
      else this.#chunks[0] = first.subarray(need)
      return first.subarray(0, need)
    }
    const out = Buffer.allocUnsafe(need)
    for (let off = 0; off < need;) {
      const c = this.#chunks[0] as Uint8Array
      const n = Math.min(c.length, need - off)
      out.set(n === c.length ? c : c.subarray(0, n), off)
      off += n
      if (n === c.length) this.#chunks.shift()
      else this.#chunks[0] = c.subarray(n)
    }
    return out
  }
}

/** Peer id prefix of this engine, '-CY0100-' (hex): both ends of a connection between agents know the rule below. */
export const PEER_ID_PREFIX = Buffer.from('-CY0100-').toString('hex')

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
