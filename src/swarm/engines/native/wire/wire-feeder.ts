// Feeds a plain (unencrypted) connection's bytes to bittorrent-protocol's parser without the Wire's own buffering,
// and frames the messages after the handshake itself.
import { MAX_MESSAGE, type PeerWire } from '../peer.ts'
import { readU32 } from './wire-messages.ts'

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
 * Size of a spare buffer: a whole-piece block between agents (128 KiB) and its header. Messages up to this size
 * that span two reads are completed in a spare, messages beyond it in a buffer of their own.
 */
export const SPARE_SIZE = 128 * 1024 + 64
/** Spare buffers kept free for the process: one per connection completing a message at the same moment, mostly far fewer. */
const MAX_FREE_SPARES = 16

/**
 * Spare buffers shared by every connection of the process. A fresh 128 KiB buffer per connection (hundreds of
 * connections per object in a fleet) is memory touched for the first time — a page fault per 4 KiB — and memory
 * outside V8's heap that brings its next full collection closer; a connection holds a spare only while a
 * message spans its reads.
 */
const freeSpares: Buffer[] = []
const takeSpare = (): Buffer => freeSpares.pop() ?? Buffer.allocUnsafeSlow(SPARE_SIZE)
const giveSpare = (buf: Buffer): void => { if (freeSpares.length < MAX_FREE_SPARES) freeSpares.push(buf) }

/**
 * Feeds a plain connection's bytes to the Wire's parser. The bytes are a view of the engine's one reused read
 * buffer, valid only until `push` returns: a message inside one read goes to the parser as a view of it (a bitfield
 * or an extension message, which the Wire keeps, as a copy), and a message that straddles reads is copied once,
 * as its bytes arrive, into a spare buffer (or one of its exact size, if larger). The Wire's own `_write`
 * concatenates all it holds whenever a read leaves a message incomplete — a 128 KiB block over 64 KiB reads
 * becomes 320 KiB of fresh copies. Once the handshake is through (the Wire waits for a length prefix), the feeder
 * reads the length prefixes itself and hands each whole message to the Wire's dispatch (`_onMessage`, behind its
 * guard): no parser step named per message. A throw out of the parser ends the connection, never reaches the
 * socket's read callback.
 */
export class WireFeeder {
  readonly #wire: PeerWire
  readonly #drop: FeederDrop
  /** The message being completed across reads, how much of it is there, and the spare it lies in (if any). */
  #held: Buffer | undefined
  #filled = 0
  #spare: Buffer | undefined
  #dropped = false
  /** The feeder frames messages itself (the handshake is through). */
  #framed = false
  /** A length prefix split between reads: its bytes so far. */
  readonly #len = Buffer.alloc(4)
  #lenFilled = 0

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
      this.#spare = undefined
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
      off = this.#complete(data)
      if (this.#held) return
      if (w._parserSize >= PARSER_STOPPED) { this.#end(); return }
    }
    if (this.#framed) { this.#frame(data, off); return }
    while (w._cryptoSyncPattern === null) {
      if (w._parser === w._onMessageLength) { this.#framed = true; this.#frame(data, off); return }
      const need = w._parserSize
      const left = data.length - off
      if (left < need) {
        if (need > MAX_MESSAGE) { this.#end(need >= PARSER_STOPPED ? undefined : 'length'); return }
        if (left > 0) this.#hold(data, off, need)
        return
      }
      const view = data.subarray(off, off + need)
      off += need
      this.#step(view)
    }
  }

  /** Adds the start of `data` to the held message; the bytes of `data` it took. Runs it once it is whole. */
  #complete(data: Uint8Array): number {
    const held = this.#held as Buffer
    const n = Math.min(held.length - this.#filled, data.length)
    held.set(n === data.length ? data : data.subarray(0, n), this.#filled)
    this.#filled += n
    if (this.#filled < held.length) return n
    const spare = this.#spare
    this.#held = undefined
    this.#spare = undefined
    this.#filled = 0
    // Decided before the parser runs: what it keeps is known from the message it is about to read.
    const keepsNothing = this.#mayKeepView(held)
    if (this.#framed) this.#wire._onMessage(held)
    else this.#wire._parser(held)
    // A spare the Wire kept (a bitfield) is the Wire's from now on.
    if (spare && keepsNothing) giveSpare(spare)
    return n
  }

  /** The message of `need` bytes starts at `data[off]` (or at the next read) and goes past the end of `data`: its bytes so far into a spare. */
  #hold(data: Uint8Array, off: number, need: number): void {
    this.#spare = need <= SPARE_SIZE ? takeSpare() : undefined
    this.#held = this.#spare ? this.#spare.subarray(0, need) : Buffer.allocUnsafe(need)
    this.#held.set(data.subarray(off), 0)
    this.#filled = data.length - off
  }

  /** One parser step (before the handshake is through) on a view, or a copy if the step keeps what it reads. */
  #step(view: Uint8Array): void {
    this.#wire._parser(this.#mayKeepView(view) ? view : Buffer.from(view))
  }

  /**
   * Length-prefixed messages from `data[off]` on: each whole one to the Wire's dispatch (a view, or a copy of what
   * it keeps); a keep-alive (length 0) is skipped; a length beyond MAX_MESSAGE ends the connection before anything
   * is allocated for it; a dispatch that stopped the Wire (its guard refused the message) ends the loop.
   */
  #frame(data: Uint8Array, off: number): void {
    const w = this.#wire
    const end = data.length
    while (off < end) {
      let need: number
      if (this.#lenFilled > 0 || end - off < 4) {
        const n = Math.min(4 - this.#lenFilled, end - off)
        this.#len.set(data.subarray(off, off + n), this.#lenFilled)
        this.#lenFilled += n
        off += n
        if (this.#lenFilled < 4) return
        this.#lenFilled = 0
        need = readU32(this.#len, 0)
      } else {
        need = readU32(data, off)
        off += 4
      }
      if (need === 0) continue
      if (need > MAX_MESSAGE) { this.#end('length'); return }
      if (end - off < need) { this.#hold(data, off, need); return }
      const view = data.subarray(off, off + need)
      off += need
      w._onMessage(this.#mayKeepView(view) ? view : Buffer.from(view))
      if (w._parserSize >= PARSER_STOPPED) { this.#end(); return }
    }
  }

  /** The parser step about to run (or, framed, the dispatch) keeps nothing of its input (or copies what it keeps). */
  #mayKeepView(view: Uint8Array): boolean {
    if (this.#framed) return KEEPS_NOTHING.has(view[0] ?? -1)
    const w = this.#wire
    return w._parser === w._onMessageLength || (w._parser === w._onMessage && KEEPS_NOTHING.has(view[0] ?? -1))
  }
}
