// The choice within a range asked for first (a download's wanted bytes): the first usable piece, and when the
// range is done with.
import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { pickInRange, RANGE_HELD } from '../../../../src/swarm/engines/native/pieces/piece-picker.ts'

describe('pickInRange', () => {
  const held = new Set([2, 3])
  const busy = new Set([4])
  const usable = (i: number): boolean => !held.has(i) && !busy.has(i)
  test('the first usable piece of the range', () => {
    assert.equal(pickInRange(2, 6, usable, (i) => held.has(i)), 5)
  })
  test('none usable now, some not held: -1 (the range stays wanted)', () => {
    assert.equal(pickInRange(2, 4, usable, (i) => held.has(i)), -1)
  })
  test('every piece held: RANGE_HELD', () => {
    assert.equal(pickInRange(2, 3, usable, (i) => held.has(i)), RANGE_HELD)
  })
})
