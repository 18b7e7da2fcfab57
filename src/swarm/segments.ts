// Progressive publication: the leader cuts the object into segments (a whole number of pieces each), publishes a
// torrent per segment as soon as it is fetched and hashed, and the whole-object torrent (the segments' piece
// hashes concatenated, same piece length) once all are. Followers join the segments' swarms as they appear.
import { createHash } from 'node:crypto'
import { mkdir, open, type FileHandle } from 'node:fs/promises'
import path from 'node:path'
import type { OriginSink } from './origin.ts'
import { PieceHasher } from './torrent-file.ts'

export type SegmentLayout = {
  /** Bytes per segment after the first (a multiple of the piece length); the last one may be shorter. */
  size: number
  /**
   * Bytes of the first segment (whole pieces, ≤ size). Smaller than the rest so the followers have something to
   * trade a few seconds sooner: until the first segment is published the leader's upload sits idle.
   */
  head: number
  count: number
  length: number
}

/** The first segment is a quarter of the others (8 MiB of 32 MiB): measured in docs/benchmarks/swarm.md. */
const HEAD_FRACTION = 4

const roundUp = (n: number, unit: number): number => Math.max(unit, Math.ceil(n / unit) * unit)

/** The segment size rounded up to whole pieces, a smaller first segment; one segment when the object is not larger. */
export function segmentLayout(length: number, pieceLength: number, segmentSize: number): SegmentLayout {
  const size = roundUp(segmentSize, pieceLength)
  if (length <= size) return { size, head: size, count: 1, length }
  const head = Math.min(size, roundUp(size / HEAD_FRACTION, pieceLength))
  return { size, head, count: 1 + Math.ceil((length - head) / size), length }
}

/** Where segment `part` starts in the object. */
export function segmentStart(layout: SegmentLayout, part: number): number {
  return part === 0 ? 0 : layout.head + (part - 1) * layout.size
}

export function segmentLength(layout: SegmentLayout, part: number): number {
  return Math.min(part === 0 ? layout.head : layout.size, layout.length - segmentStart(layout, part))
}

/** The segment holding byte `pos`. */
export function segmentAt(layout: SegmentLayout, pos: number): number {
  return pos < layout.head ? 0 : 1 + Math.floor((pos - layout.head) / layout.size)
}

/**
 * "<name>.part-<k>-of-<n>-<head>-<size>": the file name inside segment k's torrent; it carries the layout, so a
 * follower can place any segment it sees first.
 */
export function partName(name: string, part: number, layout: SegmentLayout): string {
  return `${name}.part-${part}-of-${layout.count}-${layout.head}-${layout.size}`
}

export function parsePartName(name: string): { base: string; part: number; count: number; head: number; size: number } | undefined {
  const m = /^(.+)\.part-(\d+)-of-(\d+)-(\d+)-(\d+)$/.exec(name)
  if (!m) return undefined
  const [part, count, head, size] = [m[2], m[3], m[4], m[5]].map(Number) as [number, number, number, number]
  if (!(part < count) || count < 2 || !(head > 0) || !(size > 0) || head > size) return undefined
  return { base: m[1] as string, part, count, head, size }
}

/** The layout a segment torrent names, if it is consistent with the object's length and the segment's own. */
export function layoutFromPart(length: number, named: { part: number; count: number; head: number; size: number }, partLength: number): SegmentLayout | undefined {
  const layout = { size: named.size, head: named.head, count: named.count, length }
  if (length <= layout.head || 1 + Math.ceil((length - layout.head) / layout.size) !== layout.count) return undefined
  if (segmentLength(layout, named.part) !== partLength) return undefined
  return layout
}

/**
 * The leader's origin bytes, written into one file per segment with SHA-1 per piece; each finished segment is
 * handed to `onSegment` (which seeds and publishes it) without holding up the stream.
 */
export class SegmentSink implements OriginSink {
  readonly #layout: SegmentLayout
  readonly #first: number
  readonly #pieceLength: number
  readonly #fileOf: (part: number) => string
  readonly #onSegment: (part: number, pieces: Buffer) => Promise<void>
  #fh: FileHandle | undefined
  #part: number
  #hasher: PieceHasher
  #inPart = 0
  #pending: Promise<void>[] = []

  constructor(options: { layout: SegmentLayout; first: number; pieceLength: number; fileOf: (part: number) => string; onSegment: (part: number, pieces: Buffer) => Promise<void> }) {
    this.#layout = options.layout
    this.#first = options.first
    this.#part = options.first
    this.#pieceLength = options.pieceLength
    this.#fileOf = options.fileOf
    this.#onSegment = options.onSegment
    this.#hasher = new PieceHasher(options.pieceLength)
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
    await this.#fh?.close()
    this.#part = part
    this.#inPart = 0
    this.#hasher = new PieceHasher(this.#pieceLength)
    await mkdir(path.dirname(this.#fileOf(part)), { recursive: true })
    this.#fh = await open(this.#fileOf(part), 'w')
  }

  async write(chunk: Uint8Array, _position: number): Promise<void> {
    let off = 0
    while (off < chunk.length) {
      const room = segmentLength(this.#layout, this.#part) - this.#inPart
      const take = Math.min(room, chunk.length - off)
      const piece = chunk.subarray(off, off + take)
      await (this.#fh as FileHandle).write(piece, 0, piece.length, this.#inPart)
      this.#hasher.update(piece)
      this.#inPart += take
      off += take
      if (this.#inPart === segmentLength(this.#layout, this.#part)) {
        await (this.#fh as FileHandle).close()
        this.#fh = undefined
        const done = this.#part
        const { pieces } = this.#hasher.finish()
        const p = this.#onSegment(done, pieces)
        p.catch(() => undefined)
        this.#pending.push(p)
        if (done + 1 < this.#layout.count) await this.#openPart(done + 1)
      }
    }
  }

  async reset(): Promise<void> { await this.#openPart(this.#first) }

  async close(): Promise<void> {
    await this.#fh?.close()
    this.#fh = undefined
  }

  /** Waits for every segment handed out so far to be seeded and published; rethrows the first failure. */
  async flushed(): Promise<void> { await Promise.all(this.#pending) }
}

/** Reads each file in order into one reused buffer (no per-chunk allocation, nothing for the GC). */
async function eachChunk(files: string[], use: (chunk: Buffer) => Promise<void> | void): Promise<void> {
  const buf = Buffer.allocUnsafe(4 * 1024 * 1024)
  for (const f of files) {
    const fh = await open(f, 'r')
    try {
      for (;;) {
        const { bytesRead } = await fh.read(buf, 0, buf.length, null)
        if (bytesRead === 0) break
        await use(buf.subarray(0, bytesRead))
      }
    } finally { await fh.close() }
  }
}

/** SHA-256 of the files read in order (a follower's segments: the object's digest without writing the object). */
export async function sha256Parts(files: string[]): Promise<string> {
  const hash = createHash('sha256')
  await eachChunk(files, (c) => { hash.update(c) })
  return hash.digest('hex')
}

/** Concatenates the segment files into the object file; returns its SHA-256. */
export async function assembleParts(files: string[], out: string): Promise<string> {
  const hash = createHash('sha256')
  const fh = await open(out, 'w')
  try {
    let pos = 0
    await eachChunk(files, async (c) => {
      hash.update(c)
      for (let off = 0; off < c.length;) off += (await fh.write(c, off, c.length - off, pos + off)).bytesWritten
      pos += c.length
    })
  } finally { await fh.close() }
  return hash.digest('hex')
}
