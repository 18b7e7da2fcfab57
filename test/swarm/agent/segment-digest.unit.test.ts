// The object's SHA-256 taken segment by segment as the segments complete, in any order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import path from 'node:path'
import { SegmentDigest } from '../../../src/swarm/agent/segment-digest.ts'
import type { FileRange } from '../../../src/swarm/agent/segments.ts'

type Setup = { dir: string; parts: Buffer[]; fileOf: (k: number) => string; placeOf: (k: number) => FileRange; whole: string }

const setup = async (sizes: number[]): Promise<Setup> => {
  const dir = await mkdtemp(path.join(tmpdir(), 'colony-digest-'))
  const parts = sizes.map((n) => randomBytes(n))
  const fileOf = (k: number): string => path.join(dir, `part-${k}`)
  return { dir, parts, fileOf, placeOf: (k) => ({ file: fileOf(k), offset: 0, length: sizes[k] as number }), whole: createHash('sha256').update(Buffer.concat(parts)).digest('hex') }
}

test('segments completing out of order give the SHA-256 of the object in order', async (t) => {
  const s = await setup([5000, 70_000, 1, 4 * 1024 * 1024 + 3])
  t.after(() => rm(s.dir, { recursive: true, force: true }))
  const digest = new SegmentDigest(4, s.placeOf)
  for (const k of [2, 0, 3, 1]) {
    await writeFile(s.fileOf(k), s.parts[k] as Buffer)
    digest.add(k)
  }
  assert.equal(await digest.digest(), s.whole)
  assert.equal(await digest.digest(), s.whole, 'asked twice, the same answer')
})

test('segments in place in one object file: the range of it each one covers, hashed in order', async (t) => {
  const s = await setup([3000, 1, 70_000])
  t.after(() => rm(s.dir, { recursive: true, force: true }))
  const file = path.join(s.dir, 'object')
  await writeFile(file, Buffer.concat(s.parts))
  const starts = [0, 3000, 3001]
  const digest = new SegmentDigest(3, (k) => ({ file, offset: starts[k] as number, length: (s.parts[k] as Buffer).length }))
  for (const k of [1, 2, 0]) digest.add(k)
  assert.equal(await digest.hashed(), 3)
  assert.equal(await digest.digest(), s.whole)
})

test('a segment that cannot be read when it completes: the digest is taken from the files at the end', async (t) => {
  const s = await setup([1000, 2000])
  t.after(() => rm(s.dir, { recursive: true, force: true }))
  const digest = new SegmentDigest(2, s.placeOf)
  digest.add(0) // its file is not there yet
  assert.equal(await digest.hashed(), 0)
  for (const k of [0, 1]) await writeFile(s.fileOf(k), s.parts[k] as Buffer)
  digest.add(1)
  assert.equal(await digest.digest(), s.whole)
})

test('segments dropped for a refetch are hashed once they complete again, with their new bytes', async (t) => {
  const s = await setup([1000, 2000, 3000])
  t.after(() => rm(s.dir, { recursive: true, force: true }))
  const digest = new SegmentDigest(3, s.placeOf)
  await writeFile(s.fileOf(0), s.parts[0] as Buffer)
  await writeFile(s.fileOf(2), Buffer.alloc(3000)) // stale bytes the successor leader will overwrite
  digest.add(2)
  digest.add(0)
  assert.equal(await digest.hashed(), 1)
  digest.drop(1)
  await writeFile(s.fileOf(1), s.parts[1] as Buffer)
  digest.add(1)
  assert.equal(await digest.hashed(), 2, 'segment 2 was dropped: it waits for its new bytes')
  await writeFile(s.fileOf(2), s.parts[2] as Buffer)
  digest.add(2)
  assert.equal(await digest.hashed(), 3)
  assert.equal(await digest.digest(), s.whole)
})
