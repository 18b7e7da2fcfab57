// One in-flight budget for all of an agent's torrents: pieces beyond it wait until one ends.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { setImmediate as tick } from 'node:timers/promises'
import { InFlightBudget } from '../../../../src/swarm/engines/native/pieces/in-flight-budget.ts'

test('pieces beyond the budget wait, and bytes given back wake each waiter once', async () => {
  const budget = new InFlightBudget(1000)
  assert.ok(budget.tryTake(600))
  assert.ok(budget.tryTake(400))
  assert.equal(budget.tryTake(1), false, 'full')
  let woken = 0
  const wake = (): void => { woken++ }
  budget.wait(wake)
  budget.wait(wake)
  budget.give(400)
  budget.give(600)
  assert.equal(woken, 0, 'not from inside the handler that gave the bytes back')
  await tick()
  assert.equal(woken, 1, 'one wake-up for two pieces, and the same waiter once')
  assert.equal(budget.bytes, 0)
  budget.give(10)
  await tick()
  assert.equal(woken, 1, 'a waiter runs once')
})

test('one piece larger than the budget still starts when nothing is in flight', () => {
  const budget = new InFlightBudget(100)
  assert.ok(budget.tryTake(4096))
  assert.equal(budget.tryTake(1), false)
})
