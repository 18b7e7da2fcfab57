// Deterministic bytes for synthetic media files. A library of a million files must not cost a million
// random buffers: every file is a unique header followed by a zero-copy window into one seeded block.
import { createRandom } from '../../shared/seeded-random.ts'
import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'

/** Largest body a synthetic file may have; the window into the block must always fit. */
export const MAX_SAMPLE_FILE_BYTES = 2 * 1024 * 1024

const BLOCK_BYTES = MAX_SAMPLE_FILE_BYTES * 2

/** A stable 32-bit number for a string (seeds, offsets). */
export function hashString(text: string): number {
  return createHash('sha1').update(text).digest().readUInt32BE(0)
}

/** The filler block for a seed, built once per seed and shared by every file of a library. */
const blocks = new Map<number, Buffer>()
function fillerBlock(seed: number): Buffer {
  let block = blocks.get(seed)
  if (!block) {
    block = Buffer.allocUnsafe(BLOCK_BYTES)
    const rnd = createRandom(seed)
    for (let i = 0; i < BLOCK_BYTES; i += 4) block.writeUInt32LE(Math.floor(rnd() * 4294967296), i)
    // MPEG-TS sync bytes every 188 bytes make hexdumps of .ts samples look like what they stand for.
    for (let i = 0; i < BLOCK_BYTES; i += 188) block[i] = 0x47
    blocks.set(seed, block)
  }
  return block
}

/** The parts of a synthetic file: a header naming it (so every file differs) and a window into the block. */
export function syntheticParts(seed: number, name: string, size: number): Buffer[] {
  if (size > MAX_SAMPLE_FILE_BYTES) throw new RangeError(`synthetic file over ${MAX_SAMPLE_FILE_BYTES} bytes: ${name}`)
  const header = Buffer.from(`#colony-sample ${name} ${size}\n`).subarray(0, size)
  const rest = size - header.length
  if (rest <= 0) return [header]
  const block = fillerBlock(seed)
  const offset = hashString(name) % (BLOCK_BYTES - MAX_SAMPLE_FILE_BYTES)
  return [header, block.subarray(offset, offset + rest)]
}

/** Bytes [start, end] (inclusive) of a list of parts, without copying more than needed. */
export function sliceParts(parts: Buffer[], start: number, end: number): Buffer[] {
  const out: Buffer[] = []
  let pos = 0
  for (const p of parts) {
    const from = Math.max(start, pos)
    const to = Math.min(end + 1, pos + p.length)
    if (from < to) out.push(p.subarray(from - pos, to - pos))
    pos += p.length
    if (pos > end) break
  }
  return out
}

/** A stream over parts, in chunks of at most 64 KiB so a slow reader gets backpressure. */
export function streamParts(parts: Buffer[]): Readable {
  const chunks: Buffer[] = []
  for (const p of parts) for (let i = 0; i < p.length; i += 65536) chunks.push(p.subarray(i, i + 65536))
  return Readable.from(chunks, { objectMode: false })
}
