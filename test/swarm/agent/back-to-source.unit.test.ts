// Back-to-source's pieces: the ranges it asks the origin for, the per-agent slots, the swarm deadline, and the
// index peer values it trusts.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { missingRanges, swarmDeadline } from '../../../src/swarm/agent/back-to-source.ts'
import { Limiter } from '../../../src/shared/limiter.ts'
import { parseIndexPeer } from '../../../src/swarm/wire-format.ts'

test('missingRanges merges runs of missing pieces and cuts the last at the object\'s end', () => {
  const held = new Set([1, 2, 5])
  assert.deepEqual(missingRanges(7 * 10 - 3, 10, (i) => held.has(i)), [[0, 10], [30, 50], [60, 67]])
  assert.deepEqual(missingRanges(25, 10, () => true), [])
  assert.deepEqual(missingRanges(25, 10, () => false), [[0, 25]])
})

test('the back-to-source Limiter lets `max` run at once; the next waits for a release, an aborted wait leaves the queue', async () => {
  const slots = new Limiter(2)
  const ac = new AbortController()
  const a = await slots.hold(ac.signal)
  await slots.hold(ac.signal)
  let third = false
  const waiting = slots.hold(ac.signal).then((r) => { third = true; return r })
  const gone = new AbortController()
  const abandoned = slots.hold(gone.signal)
  gone.abort(new Error('cancelled'))
  await assert.rejects(abandoned, /cancelled/)
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(third, false)
  a()
  a()
  ;(await waiting)()
  assert.equal(third, true)
})

test('swarmDeadline: no progress → stalled; progress past the ceiling → deadline; inactive time is no stall', async () => {
  const stop = new AbortController()
  const t0 = performance.now()
  assert.equal(await swarmDeadline({ stallMs: 100, deadlineMs: 60_000, progress: () => 0, active: () => true, signal: stop.signal }), 'stalled')
  assert.ok(performance.now() - t0 >= 100)
  let n = 0
  assert.equal(await swarmDeadline({ stallMs: 100, deadlineMs: 300, progress: () => n++, active: () => true, signal: stop.signal }), 'deadline')
  let active = false
  setTimeout(() => { active = true }, 250).unref()
  const t1 = performance.now()
  assert.equal(await swarmDeadline({ stallMs: 100, deadlineMs: 60_000, progress: () => 0, active: () => active, signal: stop.signal }), 'stalled')
  assert.ok(performance.now() - t1 >= 300, 'the stall counts from when it became active (one poll early at most)')
  stop.abort()
})

test('parseIndexPeer takes host:port and a 40-hex peer id, nothing else', () => {
  const id = '2d4359303130302d' + 'ab'.repeat(12)
  assert.deepEqual(parseIndexPeer(JSON.stringify({ address: '10.0.0.7:6881', peerId: id })), { address: '10.0.0.7:6881', peerId: id })
  assert.deepEqual(parseIndexPeer(Buffer.from(JSON.stringify({ address: '[fe80::1]:1', peerId: id, extra: 1 }))), { address: '[fe80::1]:1', peerId: id })
  for (const bad of ['', 'null', '[]', '{"address":"10.0.0.7","peerId":"x"}', JSON.stringify({ address: '10.0.0.7:0', peerId: id }),
    JSON.stringify({ address: '10.0.0.7:65536', peerId: id }), JSON.stringify({ address: 'a b:1', peerId: id }),
    JSON.stringify({ address: '10.0.0.7:1', peerId: id.toUpperCase() }), JSON.stringify({ address: 7, peerId: id })]) {
    assert.equal(parseIndexPeer(bad), undefined, bad)
  }
})
