// The HAVE batch period of the native engine: how it grows with the peers, and where it ends (shared instants).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HaveLog } from '../../../src/swarm/engines/native/have-log.ts'
import { HAVE_MAX_DELAY_CAP_MS, HAVE_MAX_DELAY_MS, haveBatchPeriodMs, untilPeriodEnd } from '../../../src/swarm/engines/native/torrent-types.ts'

test('the HAVE batch period doubles with the peers, up to the cap', () => {
  assert.equal(haveBatchPeriodMs(0), HAVE_MAX_DELAY_MS)
  assert.equal(haveBatchPeriodMs(16), HAVE_MAX_DELAY_MS)
  assert.equal(haveBatchPeriodMs(17), 2 * HAVE_MAX_DELAY_MS)
  assert.equal(haveBatchPeriodMs(31), 2 * HAVE_MAX_DELAY_MS)
  assert.equal(haveBatchPeriodMs(33), 4 * HAVE_MAX_DELAY_MS)
  assert.equal(haveBatchPeriodMs(10_000), HAVE_MAX_DELAY_CAP_MS)
  // Every period is the base period times a power of two: their ends coincide.
  for (const peers of [1, 20, 40, 500]) {
    const ms = haveBatchPeriodMs(peers)
    assert.equal(Math.log2(ms / HAVE_MAX_DELAY_MS) % 1, 0, `${ms} ms for ${peers} peers`)
  }
})

test('a batch goes at the end of the period it started in, the same instant for every torrent', () => {
  assert.equal(untilPeriodEnd(1_000_000, 250), 250)
  assert.equal(untilPeriodEnd(1_000_001, 250), 249)
  assert.equal(untilPeriodEnd(1_000_249, 250), 1)
  // A 500 ms period ends on a 250 ms period's end.
  assert.equal((1_000_100 + untilPeriodEnd(1_000_100, 500)) % 250, 0)
})

test('HaveLog flushes once per period, at the period end of its wall clock', async () => {
  let now = 10_120
  const log = new HaveLog(8, () => 250, () => now)
  const flushed: number[] = []
  const start = performance.now()
  const done = new Promise<void>((resolve) => {
    const flush = (): void => { flushed.push(log.count); log.cancel(); resolve() }
    log.add(1, flush)
    now += 10
    log.add(2, flush) // the timer of the first add stands
  })
  await done
  // 10_120 → the period ends at 10_250: 130 ms after the first add (timers may fire a little late, never early).
  assert.ok(performance.now() - start >= 125, `flushed after ${performance.now() - start} ms`)
  assert.deepEqual(flushed, [2])
})
