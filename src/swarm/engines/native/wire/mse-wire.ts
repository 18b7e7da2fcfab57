// The encrypted (MSE/PE) path of a bittorrent-protocol Wire, which transmission and libtorrent prefer for incoming
// connections. Two of the Wire's pieces are replaced here:
// - its byte buffering (`_write`) joins what it holds into a Uint8Array, on which its search for the handshake's
//   sync pattern (`indexOf` of a byte sequence, a Buffer method) never matches: a handshake whose sync bytes come
//   in a second read stalls until its timeout. Here the bytes held are always one Buffer;
// - its asynchronous steps (they hash, then name the next step) leave the finished step as the parser meanwhile,
//   so bytes arriving in between are parsed by it again: a peer repeating its public key makes the Wire compute
//   one Diffie-Hellman secret per 95 bytes. Here a step that names no next step before it returns makes the Wire
//   wait until one is named, then parse what came in meanwhile.
// A throw, a rejected step or a handshake that never synchronises ends that connection through `fail`.
import type { PeerWire } from '../peer.ts'
import { stopParsing, type Fail } from './wire-guard.ts'

/** The Wire's MSE state this file reads and writes. */
type MseState = PeerWire & {
  _buffer: Uint8Array[]
  _encryptionMethod: number | null
  _cryptoHandshakeDone: boolean
  _waitMaxBytes: number | null
  _decrypt(buf: Uint8Array): Uint8Array
}

type Parser = (buf: Uint8Array) => unknown

const asBuffer = (b: Uint8Array): Buffer => (Buffer.isBuffer(b) ? b : Buffer.from(b.buffer, b.byteOffset, b.length))

/** The Wire's `_write` over Buffers: decrypt, hold, find the sync pattern if one is awaited, run the parser steps. */
function write(w: MseState, input: Uint8Array, fail: Fail): void {
  const data = w._encryptionMethod === 2 && w._cryptoHandshakeDone ? w._decrypt(input) : input
  w._bufferSize += data.length
  w._buffer = [w._buffer.length ? Buffer.concat([...w._buffer, data], w._bufferSize) : asBuffer(data)]
  const pattern = w._cryptoSyncPattern
  if (pattern) {
    const held = w._buffer[0] as Buffer
    const at = held.indexOf(pattern)
    if (at === -1) {
      // The pattern comes within `_waitMaxBytes` of padding, or never.
      if (w._bufferSize > (w._waitMaxBytes ?? 0) + pattern.length) { stopParsing(w); fail('handshake') }
      return
    }
    w._buffer = [held.subarray(at + pattern.length)]
    w._bufferSize -= at + pattern.length
    w._cryptoSyncPattern = null
  }
  while (w._bufferSize >= w._parserSize && w._cryptoSyncPattern === null) {
    const held = w._buffer[0] ?? Buffer.alloc(0)
    const size = w._parserSize
    w._bufferSize -= size
    w._buffer = w._bufferSize ? [held.subarray(size)] : []
    w._parser(held.subarray(0, size))
  }
}

/**
 * Holds the Wire's asynchronous steps (see the top of this file) and returns what feeds it the connection's bytes.
 * The bytes given are kept: the caller passes a copy of a reused read buffer.
 */
export function encryptedFeed(wire: PeerWire, fail: Fail): (bytes: Uint8Array) => void {
  const w = wire as MseState
  const feed = (bytes: Uint8Array): void => {
    try { write(w, bytes, fail) } catch (err) {
      stopParsing(wire)
      fail('exception', err)
    }
  }
  const rejected = (err: unknown): void => { stopParsing(wire); fail('exception', err) }
  const parse = (Object.getPrototypeOf(wire) as PeerWire)._parse
  let steps = 0
  let held = false
  wire._parse = (size: number, parser: Parser) => {
    steps++
    parse.call(wire, size, (buf: Uint8Array) => {
      const before = steps
      const r = parser.call(wire, buf)
      if (r instanceof Promise) r.catch(rejected)
      if (steps === before) { held = true; stopParsing(wire) }
    })
    if (held) { held = false; queueMicrotask(() => feed(Buffer.alloc(0))) }
  }
  // Steps the Wire starts without awaiting them: a rejection ends the connection instead of going unhandled.
  const methods = wire as unknown as Record<string, (...args: unknown[]) => unknown>
  for (const name of ['_parsePe3', '_onPe3']) {
    const step = methods[name]
    if (typeof step !== 'function') continue
    methods[name] = (...args: unknown[]) => {
      const r = step.apply(wire, args)
      return r instanceof Promise ? r.catch(rejected) : r
    }
  }
  return feed
}
