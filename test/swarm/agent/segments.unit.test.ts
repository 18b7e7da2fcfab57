// The segment layout: a smaller first segment, middle segments of one size, a tapered tail, and a name that carries the layout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { layoutForRate, layoutFromPart, segmentAt, SegmentSink, segmentLayout, segmentLength, segmentStart, type SegmentLayout } from '../../../src/swarm/agent/segments.ts'
import { parsePartName, partName } from '../../../src/swarm/wire-format.ts'

const MiB = 1024 * 1024

const assertTiles = (l: SegmentLayout): void => {
  let pos = 0
  for (let k = 0; k < l.count; k++) {
    assert.equal(segmentStart(l, k), pos)
    assert.equal(segmentAt(l, pos), k)
    assert.equal(segmentAt(l, pos + segmentLength(l, k) - 1), k, `the last byte of segment ${k} is in it`)
    assert.ok(segmentLength(l, k) > 0)
    pos += segmentLength(l, k)
  }
  assert.equal(pos, l.length)
}

test('segmentLayout: a quarter-size first segment, whole pieces, a tail halved twice if asked; the segments tile the object', () => {
  const length = 128_000_000
  const l = segmentLayout(length, 128 * 1024, 32 * MiB, 2)
  assert.equal(l.head, 8 * MiB)
  assert.equal(l.size, 32 * MiB)
  assert.equal(l.taper, 2)
  // 8 MiB, 32, 32, the rest of the middle, then the last 32 MiB (from a piece boundary) as 16 + 8 + 8.
  const tail = Math.floor((length - 32 * MiB) / (128 * 1024)) * 128 * 1024
  assert.deepEqual(Array.from({ length: l.count }, (_, k) => segmentLength(l, k)), [8 * MiB, 32 * MiB, 32 * MiB, tail - 72 * MiB, 16 * MiB, 8 * MiB, length - tail - 24 * MiB])
  assertTiles(l)
  for (const [len, piece, size] of [[100 * MiB + 12345, 64 * 1024, 16 * MiB], [3 * MiB, 16 * 1024, MiB], [65 * MiB, 4 * MiB, 16 * MiB], [70 * MiB, 16 * MiB, 16 * MiB]] as const) {
    const t = segmentLayout(len, piece, size, 2)
    assertTiles(t)
    for (const start of t.starts) assert.equal(start % piece, 0, 'segments start on piece boundaries')
  }
  // Pieces as large as the segment: nothing to halve.
  assert.equal(segmentLayout(70 * MiB, 16 * MiB, 16 * MiB, 2).taper, 0)
  // No larger than one segment: published whole, no head.
  assert.deepEqual(segmentLayout(32 * MiB, 128 * 1024, 32 * MiB), { size: 32 * MiB, head: 32 * MiB, taper: 0, count: 1, length: 32 * MiB, starts: [0] })
  // Too small for a middle segment before the tail: no taper, and the layout segments had before tapering
  // (head, then whole segments, the remainder last), so names published by earlier versions still fit.
  const plain = segmentLayout(60 * MiB + 5, 128 * 1024, 32 * MiB, 2)
  assert.equal(plain.taper, 0)
  assert.deepEqual(plain.starts, [0, 8 * MiB, 40 * MiB])
  assert.equal(segmentLength(plain, 2), 20 * MiB + 5)
  // The head is never below one piece.
  assert.equal(segmentLayout(10 * MiB, 4 * MiB, 4 * MiB).head, 4 * MiB)
})

test('a follower recovers the layout from any one segment name; inconsistent names are refused', () => {
  const length = 100 * MiB + 12345
  for (const l of [segmentLayout(length, 64 * 1024, 16 * MiB, 2), segmentLayout(length, 64 * 1024, 16 * MiB)]) {
    for (let k = 0; k < l.count; k++) {
      const named = parsePartName(partName('object.bin', k, l))
      assert.ok(named)
      assert.equal(named.base, 'object.bin')
      assert.deepEqual(layoutFromPart(length, named, segmentLength(l, k), 64 * 1024), l)
  }
  const named = parsePartName(partName('object.bin', 1, l))
  assert.ok(named)
  assert.equal(layoutFromPart(length, named, segmentLength(l, 1) - 1, 64 * 1024), undefined, 'a segment of the wrong length')
  assert.equal(layoutFromPart(length + 64 * MiB, named, segmentLength(l, 1), 64 * 1024), undefined, 'a count that does not fit the object')
  assert.equal(layoutFromPart(length, named, segmentLength(l, 1), 3 * MiB), undefined, 'segments that are not whole pieces')
  }
  assert.equal(parsePartName('object.bin.part-5-of-5-4-8'), undefined, 'part beyond the count')
  assert.equal(parsePartName('object.bin.part-0-of-3-16-8'), undefined, 'a first segment larger than the others')
  assert.equal(parsePartName('object.bin.part-0-of-3'), undefined, 'no layout in the name')
  assert.equal(parsePartName('object.bin.part-0-of-3-4-12-3'), undefined, 'a taper that does not halve the size into whole bytes')
  const tiny = parsePartName('object.bin.part-0-of-3-1-1')
  assert.ok(tiny)
  // Refused before a layout of 4G segments is built (which would exhaust the heap).
  assert.equal(layoutFromPart(4 * 1024 * MiB, tiny, 1, 1), undefined, 'one-byte segments for a 4 GiB object')
  assert.equal(layoutFromPart(4 * 1024 * MiB, { ...tiny, count: 4 * 1024 * MiB }, 1, 1), undefined, 'a count to match')
  const untapered = parsePartName('object.bin.part-1-of-5-8-32')
  assert.equal(untapered?.taper, 0, 'a name without a taper: an untapered layout')
})

test('segmentLayout by default: no taper, the head, whole segments, the remainder last', () => {
  const length = 128_000_000
  const l = segmentLayout(length, 256 * 1024, 16 * MiB)
  assert.equal(l.taper, 0)
  assert.deepEqual(l.starts, [0, 4 * MiB, 20 * MiB, 36 * MiB, 52 * MiB, 68 * MiB, 84 * MiB, 100 * MiB, 116 * MiB])
  assert.equal(segmentLength(l, 8), length - 116 * MiB)
  assertTiles(l)
})

test('layoutForRate: the rest in segments of at least `seconds` of the head\'s rate, never smaller, at most one; names still parse', () => {
  const length = 128_000_000
  const piece = 256 * 1024
  const l = segmentLayout(length, piece, 16 * MiB)
  // The head (4 MiB) in 500 ms: 8 MiB/s, 2 s = 16 MiB, the segment size already: the layout is kept as it is.
  assert.equal(layoutForRate(l, piece, 500, 2), l)
  // Slower than that: never smaller segments.
  assert.equal(layoutForRate(l, piece, 5_000, 2), l)
  // 4 MiB in 250 ms: 16 MiB/s, 2 s = 32 MiB segments after the same head.
  const faster = layoutForRate(l, piece, 250, 2)
  assert.equal(faster.head, l.head)
  assert.equal(faster.size, 32 * MiB)
  assert.deepEqual(faster.starts, [0, 4 * MiB, 36 * MiB, 68 * MiB, 100 * MiB])
  assertTiles(faster)
  // A loopback origin (4 MiB in 10 ms): the rest is one segment, the size rounded up to whole pieces.
  const one = layoutForRate(l, piece, 10, 2)
  assert.equal(one.count, 2)
  assert.deepEqual(one.starts, [0, 4 * MiB])
  assert.equal(one.size % piece, 0)
  assertTiles(one)
  // A follower recovers each of these layouts from the names the leader publishes.
  for (const r of [faster, one]) {
    for (let k = 0; k < r.count; k++) {
      const named = parsePartName(partName('object.bin', k, r))
      assert.ok(named)
      assert.deepEqual(layoutFromPart(length, named, segmentLength(r, k), piece), r)
    }
  }
  // Sizes in whole pieces when the rate gives an odd number of bytes; a tapered layout keeps tapering.
  const odd = layoutForRate(segmentLayout(length, piece, 16 * MiB, 2), piece, 333, 2, 2)
  assert.equal(odd.size % piece, 0)
  assert.equal(odd.taper, 2)
  assertTiles(odd)
  // Nothing to size: one segment, no time measured, or 0 s asked for.
  const whole = segmentLayout(8 * MiB, piece, 16 * MiB)
  assert.equal(layoutForRate(whole, piece, 1, 2), whole)
  assert.equal(layoutForRate(l, piece, 0, 2), l)
  assert.equal(layoutForRate(l, piece, 10, 0), l)
})

test('SegmentSink: the layout afterHead returns cuts the rest; segment files and pieces follow it', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'colony-sink-'))
  try {
    const piece = 64 * 1024
    const length = 3 * MiB + 5
    const before = segmentLayout(length, piece, MiB)
    let after: SegmentLayout | undefined
    const cut: Array<{ part: number; pieces: number }> = []
    const file = path.join(dir, 'object.bin')
    const sink = new SegmentSink({
      layout: before, first: 0, pieceLength: piece,
      placeOf: (k) => ({ file, offset: segmentStart(after ?? before, k), length: segmentLength(after ?? before, k) }),
      afterHead: (l) => { after = layoutForRate(l, piece, 1, 2); return after },
      onSegment: async (part, pieces) => { cut.push({ part, pieces: pieces.length / 20 }) },
    })
    await sink.open()
    const body = Buffer.alloc(length, 7)
    // Odd chunk sizes: the head's boundary falls inside a chunk.
    for (let at = 0; at < length; at += 100_003) await sink.write(body.subarray(at, Math.min(length, at + 100_003)), at)
    await sink.flushed()
    await sink.close()
    assert.ok(after && after.count === 2, 'the rest is one segment')
    assert.deepEqual(cut, [{ part: 0, pieces: before.head / piece }, { part: 1, pieces: Math.ceil((length - before.head) / piece) }])
    assert.deepEqual(await readFile(file), body)
  } finally { await rm(dir, { recursive: true, force: true }) }
})
