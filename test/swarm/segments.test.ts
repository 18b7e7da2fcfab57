// The segment layout: a smaller first segment, the rest of one size, and a name that carries the layout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { layoutFromPart, parsePartName, partName, segmentAt, segmentLayout, segmentLength, segmentStart } from '../../src/swarm/segments.ts'

const MiB = 1024 * 1024

test('segmentLayout: a quarter-size first segment, whole pieces, the segments tile the object', () => {
  const length = 128_000_000
  const l = segmentLayout(length, 128 * 1024, 32 * MiB)
  assert.deepEqual(l, { size: 32 * MiB, head: 8 * MiB, count: 5, length })
  let pos = 0
  for (let k = 0; k < l.count; k++) {
    assert.equal(segmentStart(l, k), pos)
    assert.equal(segmentAt(l, pos), k)
    assert.equal(segmentAt(l, pos + segmentLength(l, k) - 1), k, `the last byte of segment ${k} is in it`)
    pos += segmentLength(l, k)
  }
  assert.equal(pos, length)
  // No larger than one segment: published whole, no head.
  assert.deepEqual(segmentLayout(32 * MiB, 128 * 1024, 32 * MiB), { size: 32 * MiB, head: 32 * MiB, count: 1, length: 32 * MiB })
  // The head is never below one piece.
  assert.equal(segmentLayout(10 * MiB, 4 * MiB, 4 * MiB).head, 4 * MiB)
})

test('a follower recovers the layout from any one segment name; inconsistent names are refused', () => {
  const length = 100 * MiB + 12345
  const l = segmentLayout(length, 64 * 1024, 16 * MiB)
  for (let k = 0; k < l.count; k++) {
    const named = parsePartName(partName('object.bin', k, l))
    assert.ok(named)
    assert.equal(named.base, 'object.bin')
    assert.deepEqual(layoutFromPart(length, named, segmentLength(l, k)), l)
  }
  const named = parsePartName(partName('object.bin', 1, l))
  assert.ok(named)
  assert.equal(layoutFromPart(length, named, segmentLength(l, 1) - 1), undefined, 'a segment of the wrong length')
  assert.equal(layoutFromPart(length + 64 * MiB, named, segmentLength(l, 1)), undefined, 'a count that does not fit the object')
  assert.equal(parsePartName('object.bin.part-5-of-5-4-8'), undefined, 'part beyond the count')
  assert.equal(parsePartName('object.bin.part-0-of-3-16-8'), undefined, 'a first segment larger than the others')
  assert.equal(parsePartName('object.bin.part-0-of-3'), undefined, 'no layout in the name')
})
