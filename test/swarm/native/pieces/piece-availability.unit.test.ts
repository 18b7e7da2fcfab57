import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { PieceAvailability, type AnnouncingPeer } from '../../../../src/swarm/engines/native/pieces/piece-availability.ts'

const peer = (): AnnouncingPeer => ({ pieceCount: 0 })
const has = (...set: number[]) => (i: number): boolean => set.includes(i)

describe('piece availability', () => {
  test('a peer counts once per piece, however often and in whatever order it announces it', () => {
    const a = new PieceAvailability(10)
    const p = peer()
    a.replace(p, has(1, 2, 3))
    assert.equal(a.add(p, 2), false)
    assert.equal(a.add(p, 4), true)
    // A second BITFIELD replaces the first: pieces it repeats are not counted twice, pieces it drops are uncounted.
    a.replace(p, has(2, 3, 4, 9))
    assert.deepEqual([...a.counts], [0, 0, 1, 1, 1, 0, 0, 0, 0, 1])
    assert.equal(p.pieceCount, 4)
  })

  test('peers add up, and a peer that leaves takes exactly its own counts with it', () => {
    const a = new PieceAvailability(4)
    const p = peer()
    const q = peer()
    a.replace(p, has(0, 1))
    a.add(q, 1)
    a.add(q, 3)
    assert.deepEqual([...a.counts], [1, 2, 0, 1])
    a.remove(p)
    a.remove(p)
    assert.deepEqual([...a.counts], [0, 1, 0, 1])
    assert.equal(p.pieceCount, 0)
    assert.equal(q.pieceCount, 2)
  })

  test('pieces outside the torrent are ignored', () => {
    const a = new PieceAvailability(3)
    const p = peer()
    assert.equal(a.add(p, 3), false)
    assert.equal(a.add(p, -1), false)
    assert.equal(p.pieceCount, 0)
  })
})
