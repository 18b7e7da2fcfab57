// Progressive publication: the leader cuts the object into segments (a whole number of pieces each), publishes a
// torrent per segment as soon as it is fetched and hashed, and the whole-object torrent (the segments' piece
// hashes concatenated, same piece length) once all are. Followers join the segments' swarms as they appear.
import { createHash, type Hash } from 'node:crypto'
import { constants, writeSync } from 'node:fs'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import type { OriginSink } from '../origin/fetch.ts'
import type { PartNameFields } from '../wire-format.ts'
import { PieceHasher } from '../torrent-file.ts'

export type SegmentLayout = {
  /** Bytes per middle segment (a multiple of the piece length). */
  size: number
  /**
   * Bytes of the first segment (whole pieces, ≤ size). Smaller than the rest so the followers have something to
   * trade a few seconds sooner: until the first segment is published the leader's upload sits idle.
   */
  head: number
  /**
   * The last `size` bytes are cut in halves `taper` times (size/2, size/4, …, size/2^taper twice), so the
   * segments published last, whose spread nothing overlaps, are small. 0: no taper.
   */
  taper: number
  count: number
  length: number
  /** Where each segment starts (derived from the fields above). */
  starts: readonly number[]
}

/** Bytes [offset, offset + length) of a file; no length: to its end. */
export type FileRange = { file: string; offset: number; length?: number }

/** The first segment is a quarter of the others (8 MiB of 32 MiB): the best head size in docs/benchmarks/swarm.md. */
const HEAD_FRACTION = 4
/**
 * Halvings of the last segment's worth of bytes (16 MiB → 8, 4, 4 MiB) when the caller does not say: none. The
 * agent asks for two with the aria2 engine, which gains from them (32 MiB segments: 29.7 s against 31.1 s on
 * average). The native engine does not: its leader's upload (at the origin's rate) is the critical path, the
 * fleet ends about one largest segment of that upload after the origin fetch, which halving the last one does not
 * shorten, and each extra segment costs every agent a round of connections (16 × 128 MB: none 21.89–22.29 s,
 * one 22.10–22.51 s, two 22.39–22.75 s; docs/benchmarks/swarm.md).
 */
const TAPER = 0

/** More segments than this in a segment's name is refused (32 MiB segments: a 2 TiB object). */
const MAX_SEGMENTS = 65_536

const roundUp = (n: number, unit: number): number => Math.max(unit, Math.ceil(n / unit) * unit)

const alignDown = (n: number, unit: number): number => Math.floor(n / unit) * unit

/**
 * Cuts `length` bytes into the head, middle segments of about `size` and the tapered tail. Every boundary is on
 * a piece boundary: the tail's are counted back from the end and rounded down to whole pieces.
 */
function tileSegments(length: number, head: number, size: number, taper: number, pieceLength: number): SegmentLayout {
  const starts = [0]
  const tailStart = taper > 0 ? alignDown(length - size, pieceLength) : length
  // Before a tail, the last middle segment takes up to 1.5 × size rather than leave a sliver of a segment; without
  // one, the last segment is what remains (the layout before tapering, so its names still parse the same).
  const last = taper > 0 ? 1.5 * size : size
  for (let pos = head; pos < tailStart; pos = tailStart - pos < last ? tailStart : pos + size) starts.push(pos)
  // size/2, size/4, …, size/2^taper, and the last size/2^taper (plus the object's last partial piece).
  for (let i = 0; i <= taper && taper > 0; i++) starts.push(alignDown(length - size / 2 ** i, pieceLength))
  return { size, head, taper, count: starts.length, length, starts }
}

/** The segment size rounded up to whole pieces, a smaller first segment; one segment when the object is not larger. */
export function segmentLayout(length: number, pieceLength: number, segmentSize: number, maxTaper = TAPER): SegmentLayout {
  const size = roundUp(segmentSize, pieceLength)
  if (length <= size) return { size, head: size, taper: 0, count: 1, length, starts: [0] }
  return layoutAfterHead(length, pieceLength, Math.min(size, roundUp(size / HEAD_FRACTION, pieceLength)), size, maxTaper)
}

/** `head` bytes first, then segments of `size` (whole pieces both) and the tapered tail. */
function layoutAfterHead(length: number, pieceLength: number, head: number, size: number, maxTaper: number): SegmentLayout {
  let taper = 0
  // Tapered only with a full middle segment before the tail, and down to whole pieces.
  if (length - head > 2 * size) while (taper < maxTaper && (size / 2 ** (taper + 1)) % pieceLength === 0) taper++
  return tileSegments(length, head, size, taper, pieceLength)
}

/**
 * The layout for the rest of the object once the leader has fetched the head in `headMs`: segments of at least
 * `seconds` of the fetch at the head's rate, never smaller than the layout's own size, at most the rest in one.
 * Segments let followers start while the leader still fetches; each costs every agent a round of connections and
 * an end game, so an origin that delivers the rest in a few seconds gets few of them. The head is unchanged, so
 * the bytes already cut stay where they are; the names of every segment carry the layout returned.
 */
export function layoutForRate(layout: SegmentLayout, pieceLength: number, headMs: number, seconds: number, maxTaper = TAPER): SegmentLayout {
  if (layout.count < 2 || !(headMs > 0) || !(seconds > 0)) return layout
  // In units whose halvings are whole pieces, so a tapered layout can keep its tail.
  const unit = pieceLength * 2 ** maxTaper
  const rest = roundUp(layout.length - layout.head, unit)
  const size = Math.min(rest, Math.max(layout.size, roundUp((layout.head / headMs) * 1000 * seconds, unit)))
  return size === layout.size ? layout : layoutAfterHead(layout.length, pieceLength, layout.head, size, maxTaper)
}

/** Where segment `part` starts in the object. */
export function segmentStart(layout: SegmentLayout, part: number): number {
  return layout.starts[part] ?? layout.length
}

export function segmentLength(layout: SegmentLayout, part: number): number {
  return (layout.starts[part + 1] ?? layout.length) - segmentStart(layout, part)
}

/** The segment holding byte `pos`. */
export function segmentAt(layout: SegmentLayout, pos: number): number {
  let lo = 0
  let hi = layout.count - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1
    if ((layout.starts[mid] as number) <= pos) lo = mid
    else hi = mid - 1
  }
  return lo
}

/**
 * The layout a segment torrent names, if it is consistent with the object's length, the segment's own and its
 * piece length (every boundary but the object's end on a whole piece).
 */
export function layoutFromPart(length: number, named: Omit<PartNameFields, 'base'>, partLength: number, pieceLength: number): SegmentLayout | undefined {
  if (length <= named.head || length - named.head <= (named.taper ? 2 * named.size : 0)) return undefined
  if ((named.size / 2 ** named.taper) % pieceLength !== 0 || named.head % pieceLength !== 0) return undefined
  // Checked before the layout is built, which costs a step per segment: a name from the index (hostile, say)
  // could claim a one-byte segment size for a large object.
  if (named.count > MAX_SEGMENTS || Math.abs(Math.ceil((length - named.head) / named.size) - named.count) > named.taper + 2) return undefined
  const layout = tileSegments(length, named.head, named.size, named.taper, pieceLength)
  if (layout.count !== named.count || segmentLength(layout, named.part) !== partLength) return undefined
  return layout
}

/**
 * The leader's origin bytes, written into one file per segment with SHA-1 per piece; each finished segment is
 * handed to `onSegment` (which seeds and publishes it) without holding up the stream.
 */
export class SegmentSink implements OriginSink {
  #layout: SegmentLayout
  readonly #first: number
  readonly #pieceLength: number
  readonly #placeOf: (part: number) => FileRange
  readonly #onSegment: (part: number, pieces: Buffer) => Promise<void>
  /** Called once: a restarted fetch keeps the layout the published names carry. */
  #afterHead: ((layout: SegmentLayout) => SegmentLayout) | undefined
  #fh: FileHandle | undefined
  /** The file #fh is open on, and where the segment being fetched starts in it. */
  #file = ''
  #base = 0
  #part: number
  #hasher: PieceHasher
  #inPart = 0
  #pending: Promise<void>[] = []

  /**
   * `afterHead`: called once the first segment (the head) is cut, before it is handed to `onSegment`; the layout
   * it returns (same head and length) cuts the rest.
   */
  constructor(options: {
    layout: SegmentLayout; first: number; pieceLength: number; placeOf: (part: number) => FileRange
    onSegment: (part: number, pieces: Buffer) => Promise<void>; afterHead?: (layout: SegmentLayout) => SegmentLayout
  }) {
    this.#layout = options.layout
    this.#first = options.first
    this.#part = options.first
    this.#pieceLength = options.pieceLength
    this.#placeOf = options.placeOf
    this.#onSegment = options.onSegment
    this.#afterHead = options.afterHead
    this.#hasher = new PieceHasher(options.pieceLength, { sha256: false })
  }

  /** The segment being fetched. */
  get part(): number { return this.#part }
  /** Bytes of the segment being fetched that are on disk. */
  get partial(): number { return this.#inPart }

  /** Starts over at the first segment: a restarted leader refetches a partly written segment whole. */
  async open(): Promise<number> {
    await this.#openPart(this.#first)
    return 0
  }

  async #openPart(part: number): Promise<void> {
    const place = this.#placeOf(part)
    this.#part = part
    this.#inPart = 0
    this.#base = place.offset
    this.#hasher = new PieceHasher(this.#pieceLength, { sha256: false })
    if (this.#fh && this.#file === place.file) return
    await this.#fh?.close()
    await mkdir(path.dirname(place.file), { recursive: true })
    // Never truncated: in place, the segments before this one are in the same file (and a restarted leader
    // overwrites a partly written segment whole).
    this.#fh = await open(place.file, constants.O_RDWR | constants.O_CREAT)
    this.#file = place.file
  }

  async write(chunk: Uint8Array, _position: number): Promise<void> {
    let off = 0
    while (off < chunk.length) {
      const room = segmentLength(this.#layout, this.#part) - this.#inPart
      const take = Math.min(room, chunk.length - off)
      const piece = chunk.subarray(off, off + take)
      // Synchronous: a page-cache write costs microseconds; the promise API's round trip through the thread pool
      // wakes the leader's event loop once more per origin chunk, on a machine where the leader is short of CPU.
      for (let w = 0; w < piece.length;) w += writeSync((this.#fh as FileHandle).fd, piece, w, piece.length - w, this.#base + this.#inPart + w)
      this.#hasher.update(piece)
      this.#inPart += take
      off += take
      if (this.#inPart === segmentLength(this.#layout, this.#part)) {
        const done = this.#part
        const { pieces } = this.#hasher.finish()
        if (done === 0 && this.#afterHead) {
          this.#layout = this.#resized(this.#afterHead(this.#layout))
          this.#afterHead = undefined
        }
        const p = this.#onSegment(done, pieces)
        p.catch(() => undefined)
        this.#pending.push(p)
        if (done + 1 < this.#layout.count) await this.#openPart(done + 1)
      }
    }
  }

  /** A new layout for the rest must keep what is cut already: the same length and head. */
  #resized(next: SegmentLayout): SegmentLayout {
    if (next.length !== this.#layout.length || next.head !== this.#layout.head || next.count < 2) throw new Error('a new segment layout must keep the object\'s length and head')
    return next
  }

  async reset(): Promise<void> { await this.#openPart(this.#first) }

  async close(): Promise<void> {
    await this.#fh?.close()
    this.#fh = undefined
  }

  /** Waits for every segment handed out so far to be seeded and published; rethrows the first failure. */
  async flushed(): Promise<void> { await Promise.all(this.#pending) }
}

/** Read buffers of eachChunk no call is using: one per call at a time, kept between calls. */
const spareReadBuffers: Buffer[] = []
const READ_CHUNK = 4 * 1024 * 1024

/**
 * Reads each range in order into one reused buffer (no per-chunk allocation, nothing for the GC). The buffer is
 * kept for the next call: a follower hashes each segment as it completes, and a fresh 4 MiB each time would be memory
 * outside V8's heap that counts towards its next full garbage collection.
 */
async function eachChunk(ranges: FileRange[], use: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  const buf = spareReadBuffers.pop() ?? Buffer.allocUnsafeSlow(READ_CHUNK)
  try { await readChunks(ranges, buf, use) } finally { if (spareReadBuffers.length < 2) spareReadBuffers.push(buf) }
}

async function readChunks(ranges: FileRange[], buf: Buffer, use: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  for (const r of ranges) {
    const fh = await open(r.file, 'r')
    try {
      let pos = r.offset
      let left = r.length ?? Number.POSITIVE_INFINITY
      while (left > 0) {
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, left), pos)
        if (bytesRead === 0) break
        await use(buf.subarray(0, bytesRead))
        pos += bytesRead
        left -= bytesRead
      }
      if (r.length !== undefined && left > 0) throw new Error(`${r.file} ends before byte ${r.offset + r.length}`)
    } finally { await fh.close() }
  }
}

/** SHA-256 of the ranges read in order (a follower's segments: the object's digest without writing the object). */
export async function sha256Parts(ranges: FileRange[]): Promise<string> {
  const hash = createHash('sha256')
  await hashRangesInto(ranges, hash)
  return hash.digest('hex')
}

/** Feeds the ranges, read in order, to `hash`. */
export async function hashRangesInto(ranges: FileRange[], hash: Hash): Promise<void> {
  await eachChunk(ranges, (c) => { hash.update(c) })
}

/**
 * Concatenates segment files into the object file (an engine that cannot place segments in the object file);
 * returns its SHA-256 unless `sha256: false` (a follower computed it already, on its completion path).
 */
export async function assembleParts(ranges: FileRange[], out: string, opts: { sha256?: boolean } = {}): Promise<string | undefined> {
  const hash = opts.sha256 === false ? undefined : createHash('sha256')
  const fh = await open(out, 'w')
  try {
    let pos = 0
    await eachChunk(ranges, async (c) => {
      hash?.update(c)
      for (let off = 0; off < c.length;) off += (await fh.write(c, off, c.length - off, pos + off)).bytesWritten
      pos += c.length
    })
  } finally { await fh.close() }
  return hash?.digest('hex')
}
