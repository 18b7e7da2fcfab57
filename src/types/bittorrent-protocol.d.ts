// bittorrent-protocol ships no types: the slice of its Wire that colony's native engine and tests use.
declare module 'bittorrent-protocol' {
  import type { EventEmitter } from 'node:events'

  /** One BitTorrent connection's protocol state (a streamx Duplex in the package; the engine feeds it directly). */
  export default class Wire extends EventEmitter {
    /** `peEnabled`: accept the MSE/PE handshake as well as the plain one. */
    constructor(type?: string, retries?: number, peEnabled?: boolean)
    peerId: string | null
    amInterested: boolean
    peerChoking: boolean
    /** The peer said it wants pieces from us (and has not said otherwise since). */
    peerInterested: boolean
    /** We refuse the peer's requests (until unchoke()). */
    amChoking: boolean
    peerPieces: { get(index: number): boolean; set(index: number, value: boolean): void }
    _bufferSize: number
    /** Bytes the parser waits for before its next step, and that step (the package's framing state). */
    _parserSize: number
    _parser: (buf: Uint8Array) => void
    /** Names the next parser step and how many bytes it takes. */
    _parse(size: number, parser: (buf: Uint8Array) => unknown): void
    _onMessageLength: (buf: Uint8Array) => void
    _onMessage: (buf: Uint8Array) => void
    _onHandshakeBuffer: (buf: Uint8Array) => void
    /** Formats a debug line per message even when debugging is off: the engine silences it. */
    _debug: (...args: unknown[]) => void
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
    /** Sends bytes: encrypted on an MSE connection, nothing once the Wire finished; then `push`. */
    _push(data: Uint8Array): void
    /** The outgoing side (a stream push); the engine replaces it with a direct socket write. */
    push(chunk: Uint8Array | null): boolean
    /** Stream piping (tests that run a Wire over a socket the stock way). */
    pipe<T>(dest: T): T
  }
}
