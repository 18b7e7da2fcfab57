// When the hub writes a topic's queued frames: at the end of the turn, or held for the batch window when that
// merges enough events. Driven by a manual clock, so every decision is checked at an exact time.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { FlushScheduler, type Schedulable, type SchedulerClock } from '../../src/live/core/flush-scheduler.ts'

const WINDOW = 60

/** Time moves only when told; timers and end-of-turn callbacks run only when told. */
class ManualClock implements SchedulerClock {
  time = 1_000
  #timers: { at: number; fn: () => void; live: boolean }[] = []
  #immediates: (() => void)[] = []
  now(): number { return this.time }
  wallNow(): number { return 1_700_000_000_000 + this.time }
  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { at: this.time + ms, fn, live: true }
    this.#timers.push(timer)
    return timer
  }
  clearTimeout(handle: unknown): void { (handle as { live: boolean }).live = false }
  setImmediate(fn: () => void): void { this.#immediates.push(fn) }
  /** Ends the current event-loop turn. */
  endTurn(): void {
    const run = this.#immediates
    this.#immediates = []
    for (const fn of run) fn()
  }
  /** Moves time forward, firing the timers due on the way in order. */
  advance(ms: number): void {
    const until = this.time + ms
    for (;;) {
      const next = this.#timers.filter((t) => t.live && t.at <= until).sort((a, b) => a.at - b.at)[0]
      if (!next) break
      this.time = next.at
      next.live = false
      next.fn()
    }
    this.time = until
  }
}

type Topic = Schedulable & { name: string }

function setup(): { clock: ManualClock; scheduler: FlushScheduler<Topic>; written: string[]; topic: (name: string, gap: number, viewers: number) => Topic } {
  const clock = new ManualClock()
  const written: string[] = []
  const scheduler = new FlushScheduler<Topic>(WINDOW, (t) => { t.due = 0; written.push(`${t.name}@${clock.time}`) }, clock)
  return { clock, scheduler, written, topic: (name, gap, viewers) => ({ name, due: 0, gap, conns: { size: viewers } }) }
}

test('a topic whose arrival gap is unknown, too long or too rarely worth it is written at the end of the turn', () => {
  const { clock, scheduler, written, topic } = setup()
  scheduler.schedule(topic('first-event', 0, 1_000), clock.now(), true)
  scheduler.schedule(topic('sparse', WINDOW, 1_000), clock.now(), true)
  // 1 viewer, an event every 20 ms: holding would save 50 writes/s, under the 100 that pays for the latency.
  scheduler.schedule(topic('few-viewers', 20, 1), clock.now(), true)
  assert.deepEqual(written, [])
  clock.endTurn()
  assert.deepEqual(written, ['first-event@1000', 'sparse@1000', 'few-viewers@1000'])
})

test('a busy topic is held for the window, then written once however many events joined it', () => {
  const { clock, scheduler, written, topic } = setup()
  const busy = topic('busy', 5, 10)
  scheduler.schedule(busy, clock.now(), true)
  clock.endTurn()
  assert.deepEqual(written, [], 'held past the end of the turn')
  clock.advance(30)
  // More events queue while held: the topic is already due, nothing new is scheduled.
  scheduler.schedule(busy, clock.now(), true)
  clock.endTurn()
  clock.advance(WINDOW - 31)
  assert.deepEqual(written, [], 'still held 1 ms before the window ends')
  clock.advance(1)
  assert.deepEqual(written, ['busy@1060'])
})

test('a hold ends at once when the next event is not expected before the hold would end', () => {
  const { clock, scheduler, written, topic } = setup()
  const slowing = topic('slowing', 5, 10)
  scheduler.schedule(slowing, clock.now(), true)
  clock.advance(20)
  // Its events now come 50 ms apart: the next is due after the hold ends (1020 + 50 > 1060), waiting merges nothing.
  slowing.gap = 50
  scheduler.schedule(slowing, clock.now(), true)
  clock.endTurn()
  assert.deepEqual(written, ['slowing@1020'])
  clock.advance(WINDOW)
  assert.deepEqual(written, ['slowing@1020'], 'not written a second time when the window ends')
})

test('a frame that already waited (mayHold false) is never held; flushAll writes everything; a forgotten topic is not written', () => {
  const { clock, scheduler, written, topic } = setup()
  scheduler.schedule(topic('aggregate', 5, 10), clock.now(), false)
  clock.endTurn()
  assert.deepEqual(written, ['aggregate@1000'])
  const held = topic('held', 5, 10)
  const gone = topic('gone', 5, 10)
  scheduler.schedule(held, clock.now(), true)
  scheduler.schedule(gone, clock.now(), true)
  scheduler.schedule(topic('soon', 0, 1), clock.now(), true)
  scheduler.forget(gone)
  scheduler.flushAll()
  assert.deepEqual(written, ['aggregate@1000', 'held@1000', 'soon@1000'])
  clock.endTurn()
  clock.advance(WINDOW)
  assert.equal(written.length, 3, 'nothing is written twice')
})
