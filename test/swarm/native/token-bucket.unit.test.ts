// The token bucket against an injected clock: the burst, the refill at the rate, the wait it announces.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TokenBucket } from '../../../src/swarm/token-bucket.ts'

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000
  return { now: () => t, advance: (ms) => { t += ms } }
}

test('token bucket: the burst at once, then nothing beyond the rate; waitMs says when', () => {
  const c = clock()
  const b = new TokenBucket({ rate: 1000, burst: 100, now: c.now })
  assert.equal(b.tryTake(100), true, 'a full bucket gives its burst')
  assert.equal(b.tryTake(50), false, 'then nothing')
  assert.equal(b.waitMs(50), 50, '50 bytes at 1000 B/s: 50 ms')
  c.advance(49)
  assert.equal(b.tryTake(50), false, 'one millisecond short')
  assert.equal(b.waitMs(50), 1)
  c.advance(1)
  assert.equal(b.tryTake(50), true, 'refilled at the rate')
  c.advance(10_000)
  assert.equal(b.tryTake(100), true, 'an idle spell refills up to the burst only')
  assert.equal(b.tryTake(1), false)
})

test('token bucket: a request above the burst goes once the bucket is full; rate 0 is no limit', () => {
  const c = clock()
  const b = new TokenBucket({ rate: 1000, burst: 100, now: c.now })
  assert.equal(b.tryTake(500), true, 'a full bucket lets a large request through, into debt')
  assert.equal(b.waitMs(100), 500, 'the debt of 400 and a full burst: 500 ms')
  c.advance(500)
  assert.equal(b.tryTake(100), true)
  assert.equal(new TokenBucket({ rate: 0, now: c.now }).tryTake(1e12), true)
  assert.equal(new TokenBucket({ rate: 0, now: c.now }).waitMs(1e12), 0)
})
