// The messages that carry the bytes (BEP 3): have, request, piece and cancel, parsed and built by colony's own code.
// A fleet exchanges tens of thousands of them per object; bittorrent-protocol's Wire spends per message a request
// object, a closure, a timeout reset, a speed meter and two to three events. Here a received message is one call
// on the connection's handler with the numbers read from the bytes in place, and the messages of one piece go out
// in one buffer. The handshake, the bitfield, choke/interest and extensions stay with the Wire.

export const MSG_HAVE = 4
export const MSG_REQUEST = 6
export const MSG_PIECE = 7
export const MSG_CANCEL = 8

/** A piece message's bytes before the block: length, id, index, offset. */
export const PIECE_HEADER = 13

/** What a connection does with the hot messages once its torrent is attached (the numbers are checked: wire-guard.ts). */
export type HotMessages = {
  have(index: number): void
  request(index: number, offset: number, length: number): void
  cancel(index: number, offset: number, length: number): void
  /** `block` is a view of a buffer the next read overwrites: copied, or dropped, before this returns. */
  piece(index: number, offset: number, block: Uint8Array): void
}

export const readU32 = (b: Uint8Array, at: number): number => (((b[at] ?? 0) << 24) | ((b[at + 1] ?? 0) << 16) | ((b[at + 2] ?? 0) << 8) | (b[at + 3] ?? 0)) >>> 0

/** A whole, checked message (id and payload, no length prefix) to `h`; true if it was one of the hot ones. */
export function dispatchHot(msg: Uint8Array, h: HotMessages): boolean {
  switch (msg[0]) {
    case MSG_HAVE: h.have(readU32(msg, 1)); return true
    case MSG_REQUEST: h.request(readU32(msg, 1), readU32(msg, 5), readU32(msg, 9)); return true
    case MSG_PIECE: h.piece(readU32(msg, 1), readU32(msg, 5), msg.subarray(9)); return true
    case MSG_CANCEL: h.cancel(readU32(msg, 1), readU32(msg, 5), readU32(msg, 9)); return true
    default: return false
  }
}

/** `id` with three numbers (request, cancel) at `at` in `buf`: 17 bytes. */
function putBlockMessage(buf: Buffer, at: number, id: number, index: number, offset: number, length: number): void {
  buf.writeUInt32BE(13, at)
  buf[at + 4] = id
  buf.writeUInt32BE(index, at + 5)
  buf.writeUInt32BE(offset, at + 9)
  buf.writeUInt32BE(length, at + 13)
}

/** Request (or cancel) messages for every block of piece `index` (`size` bytes, blocks of `block`), in one buffer. */
export function blockMessages(id: typeof MSG_REQUEST | typeof MSG_CANCEL, index: number, size: number, block: number): Buffer {
  const n = Math.ceil(size / block)
  const buf = Buffer.allocUnsafe(17 * n)
  for (let k = 0, off = 0; k < n; k++, off += block) putBlockMessage(buf, 17 * k, id, index, off, Math.min(block, size - off))
  return buf
}

/** HAVE messages for `pieces[from..to)`, in one buffer. */
export function haveMessages(pieces: readonly number[], from: number, to: number): Buffer {
  const buf = Buffer.allocUnsafe(9 * (to - from))
  for (let k = from, at = 0; k < to; k++, at += 9) {
    buf.writeUInt32BE(5, at)
    buf[at + 4] = MSG_HAVE
    buf.writeUInt32BE(pieces[k] as number, at + 5)
  }
  return buf
}

/** The header of a piece message carrying `length` bytes of piece `index` from `offset`. */
export function pieceHeader(index: number, offset: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(PIECE_HEADER)
  buf.writeUInt32BE(9 + length, 0)
  buf[4] = MSG_PIECE
  buf.writeUInt32BE(index, 5)
  buf.writeUInt32BE(offset, 9)
  return buf
}
