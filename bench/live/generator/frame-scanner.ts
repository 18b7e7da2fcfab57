// The receiver's per-read work, kept to a few native Buffer.indexOf calls: it counts SSE events and the likes
// a coalesced frame stands for, and reads the publish timestamp the generator embedded in the data. It never
// decodes a frame into strings or JSON, so one generator process can keep up with tens of thousands of sockets.

const FRAME_END = Buffer.from('\n\n')
const ID_FIELD = Buffer.from('\nid:')
/** The generator embeds its send time as `"bt":<µs>` in each event's data (a key no server adds itself). */
export const TIME_KEY = Buffer.from('"bt":')
const LIKES_KEY = Buffer.from('"likes":')

/** What one scan found; the caller adds it to its counters. Reused across calls to avoid allocation. */
export type ScanResult = {
  /** Events (`id:` fields) in the scanned frames. */
  events: number
  /** Sum of `"likes":N` values: a coalesced frame stands for N likes. */
  likes: number
  /** Events that carried no `"likes"` count (individual comments or uncoalesced likes). */
  plain: number
  /** Embedded publish timestamps (µs on the shared monotonic clock), `stamps` of them. */
  stampList: number[]
  stamps: number
}

export function createScanResult(): ScanResult {
  return { events: 0, likes: 0, plain: 0, stampList: [], stamps: 0 }
}

/** Parses the unsigned integer (optionally after spaces) that starts at `pos`; -1 when there is none. */
export function readUint(buf: Buffer, pos: number, end: number): number {
  let i = pos
  while (i < end && buf[i] === 0x20) i++
  let n = 0
  let digits = 0
  for (; i < end; i++) {
    const c = buf[i] ?? 0
    if (c < 0x30 || c > 0x39) break
    n = n * 10 + (c - 0x30)
    digits++
  }
  return digits === 0 ? -1 : n
}

/**
 * Scans `buf[start, buf.length)`, which holds only complete frames (it ends with a blank line), and fills
 * `out`. `buf` must be a view that ends where the data ends: indexOf would otherwise search stale bytes.
 * Frames are told apart by their blank-line terminator; an event is a frame with an `id:` field (every
 * event of both servers under test has one; heartbeats and `retry:` frames do not).
 */
export function scanFrames(buf: Buffer, start: number, out: ScanResult): void {
  const end = buf.length
  out.events = 0
  out.likes = 0
  out.plain = 0
  out.stamps = 0
  let pos = start
  while (pos < end) {
    let frameEnd = buf.indexOf(FRAME_END, pos)
    if (frameEnd < 0) frameEnd = end
    // The id field opens the frame, or follows an `event:` line or a chunked-encoding size line.
    const id = buf[pos] === 0x69 && buf[pos + 1] === 0x64 && buf[pos + 2] === 0x3a ? pos : buf.indexOf(ID_FIELD, pos)
    if (id >= 0 && id < frameEnd) {
      out.events++
      const likes = buf.indexOf(LIKES_KEY, id)
      if (likes >= 0 && likes < frameEnd) {
        const n = readUint(buf, likes + LIKES_KEY.length, frameEnd)
        out.likes += n > 0 ? n : 0
      } else {
        out.plain++
      }
      const t = buf.indexOf(TIME_KEY, id)
      if (t >= 0 && t < frameEnd) {
        const v = readUint(buf, t + TIME_KEY.length, frameEnd)
        if (v >= 0) out.stampList[out.stamps++] = v
      }
    }
    pos = frameEnd + 2
  }
}

/**
 * Where the complete frames of `buf` stop: just past the last blank line, or 0 when there is none.
 * The bytes after it are an unfinished frame the caller carries to the next read.
 */
export function completeFramesEnd(buf: Buffer): number {
  if (buf.length < 2) return 0
  const last = buf.lastIndexOf(FRAME_END)
  return last < 0 ? 0 : last + 2
}
