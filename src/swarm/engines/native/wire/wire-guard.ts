// Every byte a peer sends is untrusted. bittorrent-protocol's Wire hands what it parses to its handlers unchecked
// (a length prefix of 2–4 GB reads as negative, an index past the torrent as any other), and some of its steps
// throw on hostile input (the extended handshake, an MSE public key of zeros). The guard sits in front of the
// Wire's framing and dispatch: a message that is malformed, or names something outside the connection's torrent,
// ends that connection through `fail`; a throw anywhere in the Wire or in a handler does too, never the process.
// Checked hot messages (have, request, piece, cancel) go to the connection's own handler once its torrent is
// attached (wire-messages.ts), not through the Wire. The encrypted (MSE) path has its own repairs: mse-wire.ts.
import { checkExtendedHandshake } from './bencode-check.ts'
import { MAX_MESSAGE, type PeerWire } from '../peer.ts'
import { PARSER_STOPPED } from './wire-feeder.ts'
import { MAX_REQUEST } from '../torrent-types.ts'
import { dispatchHot, readU32, type HotMessages } from './wire-messages.ts'

/** The `reason` label of colony_swarm_peer_protocol_errors_total. */
export type ProtocolErrorReason =
  /** A length prefix beyond MAX_MESSAGE, or a message whose length does not fit its type. */
  | 'length'
  /** A piece index, block offset or block length outside the torrent. */
  | 'index'
  /** A bitfield of the wrong size for the torrent, or with spare bits set. */
  | 'bitfield'
  /** An extended handshake that is not a bencoded dict with an "m" of integers. */
  | 'extended'
  /** A message of an extension the connection did not negotiate (BEP 6 fast). */
  | 'message'
  /** A handshake that does not name the BitTorrent protocol. */
  | 'handshake'
  /** The Wire or a handler threw on what the peer sent (an unusable MSE key, for one). */
  | 'exception'

/** What messages may name once the connection's torrent is known. */
export type WireBounds = { pieces: number; pieceLength: number }

export type WireGuard = {
  /** The connection's torrent is known: indexes, offsets and bitfields are checked against it from now on. */
  setBounds(bounds: WireBounds): void
  /** From now on checked have, request, piece and cancel messages go to `h` instead of the Wire. */
  setHandler(h: HotMessages): void
}

/** Ends the connection; `reason` is counted. */
export type Fail = (reason: ProtocolErrorReason, err?: unknown) => void

const noop = (): void => undefined

/** The Wire parses nothing more until a step is named again (its prototype's `_parse`: no hold bookkeeping). */
export function stopParsing(wire: PeerWire): void {
  (Object.getPrototypeOf(wire) as PeerWire)._parse.call(wire, PARSER_STOPPED, noop)
}
/** The message is fine but is not the Wire's to handle (an extension message, an unknown id). */
const SKIP = 'skip'

/** A bitfield payload is exactly ceil(pieces / 8) bytes with the bits past the last piece clear (BEP 3). */
function bitfieldFits(payload: Uint8Array, pieces: number): boolean {
  if (payload.length !== Math.ceil(pieces / 8)) return false
  const spare = (8 - (pieces % 8)) % 8
  return spare === 0 || ((payload[payload.length - 1] ?? 0) & ((1 << spare) - 1)) === 0
}

/** A block of a request, cancel or piece message lies inside one piece and is no larger than MAX_REQUEST. */
function blockFits(b: WireBounds, index: number, offset: number, length: number): boolean {
  return index < b.pieces && length > 0 && length <= MAX_REQUEST && offset + length <= b.pieceLength
}

/** Why a whole message (id and payload, no length prefix) is unacceptable, SKIP, or undefined if the Wire may take it. */
function check(buf: Uint8Array, b: WireBounds | undefined): ProtocolErrorReason | typeof SKIP | undefined {
  const n = buf.length
  switch (buf[0]) {
    case 0: case 1: case 2: case 3: // choke, unchoke, interested, not interested
      return n === 1 ? undefined : 'length'
    case 4: // have
      if (n !== 5) return 'length'
      return b && readU32(buf, 1) >= b.pieces ? 'index' : undefined
    case 5: // bitfield (before the torrent is known the Wire keeps it, bounded by MAX_MESSAGE)
      return b && !bitfieldFits(buf.subarray(1), b.pieces) ? 'bitfield' : undefined
    case 6: case 8: // request, cancel
      if (n !== 13) return 'length'
      return b && !blockFits(b, readU32(buf, 1), readU32(buf, 5), readU32(buf, 9)) ? 'index' : undefined
    case 7: // piece
      if (n <= 9) return 'length'
      return b && !blockFits(b, readU32(buf, 1), readU32(buf, 5), n - 9) ? 'index' : undefined
    case 9: // port (DHT; ignored by the Wire's users here)
      return n === 3 ? undefined : 'length'
    case 0x0d: case 0x0e: case 0x0f: case 0x10: case 0x11: // BEP 6, never negotiated by this engine
      return 'message'
    case 20: // extended: the engine registers no extension, so only the handshake is checked, and none reaches the Wire
      if (n < 2) return 'length'
      if (buf[1] === 0 && checkExtendedHandshake(buf.subarray(2)) !== undefined) return 'extended'
      return SKIP
    default: // unknown ids are ignored (BEP 3)
      return SKIP
  }
}

/**
 * Puts the checks in front of `wire`'s framing (`_onMessageLength`) and dispatch (`_onMessage`), and turns a throw
 * out of any of its event handlers into `fail`. `fail` is the connection's end; after it the Wire parses nothing more.
 */
export function guardWire(wire: PeerWire, fail: Fail): WireGuard {
  const proto = Object.getPrototypeOf(wire) as PeerWire
  let bounds: WireBounds | undefined
  let hot: HotMessages | undefined
  const stop = (reason: ProtocolErrorReason, err?: unknown): void => {
    stopParsing(wire)
    fail(reason, err)
  }
  // The 67 bytes after the protocol string's length (19): the string, 8 reserved bytes, info hash, peer id.
  wire._onHandshakeBuffer = (buf) => {
    if (buf.length !== 67 || Buffer.from(buf.subarray(0, 19)).toString('latin1') !== 'BitTorrent protocol') { stop('handshake'); return }
    proto._onHandshakeBuffer.call(wire, buf)
  }
  wire._onMessageLength = (buf) => {
    if (readU32(buf, 0) > MAX_MESSAGE) { stop('length'); return }
    proto._onMessageLength.call(wire, buf)
  }
  wire._onMessage = (buf) => {
    const why = check(buf, bounds)
    if (why === undefined) {
      if (hot === undefined) { proto._onMessage.call(wire, buf); return }
      // The next step is named first, as the Wire's own dispatch does: a handler that ends the connection has the last word.
      wire._parse(4, wire._onMessageLength)
      if (!dispatchHot(buf, hot)) proto._onMessage.call(wire, buf)
      return
    }
    if (why === SKIP) { wire._parse(4, wire._onMessageLength); return }
    stop(why)
  }
  const emit = wire.emit
  wire.emit = function guardedEmit(this: PeerWire, event: string | symbol, ...args: unknown[]): boolean {
    try { return emit.call(this, event, ...args) } catch (err) { stop('exception', err); return false }
  }
  return { setBounds: (b) => { bounds = b }, setHandler: (h) => { hot = h } }
}
