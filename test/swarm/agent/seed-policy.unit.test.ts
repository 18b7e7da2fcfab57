// When seeding stops, against mocked timers (Date and setTimeout): the seed time, the ratio, and cancelling.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { scheduleSeedStop } from '../../../src/swarm/agent/seed-policy.ts'

type Stop = { uploaded: number; timeUp: boolean; ratioMet: boolean }
type Timers = { tick(ms: number): void }

/** Advances the mocked clock in 1 ms steps, so each timer fires at its time and the ones it sets fire too. */
function advance(timers: Timers, ms: number): void {
  for (let i = 0; i < ms; i++) timers.tick(1)
}

test('seeding stops once the seed time is up, not a tick before', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 0 })
  const stops: Stop[] = []
  scheduleSeedStop({ seedTimeMs: 5000, seedRatio: 0, length: 100, uploaded: () => 0, seeding: () => true, onStop: (why) => stops.push(why) })
  advance(t.mock.timers, 4999)
  assert.equal(stops.length, 0)
  advance(t.mock.timers, 1)
  assert.deepEqual(stops, [{ uploaded: 0, timeUp: true, ratioMet: false }])
  advance(t.mock.timers, 10_000)
  assert.equal(stops.length, 1, 'onStop is called once')
})

test('seeding stops early once uploaded reaches ratio × size', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 0 })
  let uploaded = 0
  const stops: Stop[] = []
  scheduleSeedStop({ seedTimeMs: 3_600_000, seedRatio: 2, length: 100, uploaded: () => uploaded, seeding: () => true, onStop: (why) => stops.push(why) })
  uploaded = 199
  advance(t.mock.timers, 1000)
  assert.equal(stops.length, 0)
  uploaded = 200
  advance(t.mock.timers, 1000)
  assert.deepEqual(stops, [{ uploaded: 200, timeUp: false, ratioMet: true }])
})

test('the checks end when the download leaves seeding, or when cancelled', (t) => {
  t.mock.timers.enable({ apis: ['Date', 'setTimeout'], now: 0 })
  let seeding = true
  const stops: Stop[] = []
  scheduleSeedStop({ seedTimeMs: 2000, seedRatio: 0, length: 1, uploaded: () => 0, seeding: () => seeding, onStop: (why) => stops.push(why) })
  seeding = false
  advance(t.mock.timers, 5000)
  assert.equal(stops.length, 0)
  const cancel = scheduleSeedStop({ seedTimeMs: 2000, seedRatio: 0, length: 1, uploaded: () => 0, seeding: () => true, onStop: (why) => stops.push(why) })
  cancel()
  advance(t.mock.timers, 5000)
  assert.equal(stops.length, 0)
})
