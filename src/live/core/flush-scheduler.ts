// When a topic's queued frames are written: at the end of this event-loop turn, or held for a batch window
// when that merges enough events into one write per viewer (a write costs ~10 µs of CPU whatever its size).
import { performance } from 'node:perf_hooks'

/** What the scheduler reads and sets on a topic. */
export type Schedulable = {
  /** When the topic is to be written (performance.now() ms); 0 = nothing scheduled. The writer resets it. */
  due: number
  /** Smoothed time between the topic's arrivals (ms); 0 = unknown. */
  gap: number
  conns: { readonly size: number }
}

/** A topic is held for batching only if that saves at least this many socket writes per second. */
const MIN_SAVED_WRITES_PER_S = 100

/** The time and timers the scheduler runs on; tests pass a manual one. */
export type SchedulerClock = {
  /** Monotonic milliseconds: the `due` times and the `now` given to schedule(). */
  now(): number
  /** Wall-clock milliseconds passed to the writer. */
  wallNow(): number
  setTimeout(fn: () => void, ms: number): unknown
  clearTimeout(handle: unknown): void
  /** Runs `fn` at the end of this event-loop turn. */
  setImmediate(fn: () => void): void
}

export const SYSTEM_CLOCK: SchedulerClock = {
  now: () => performance.now(),
  wallNow: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
  setImmediate: (fn) => { setImmediate(fn) },
}

export class FlushScheduler<T extends Schedulable> {
  /** Topics to write at the end of this event-loop turn. */
  readonly #soon = new Set<T>()
  /** Topics held for batching, in order of their `due` time (every hold is the same length). */
  readonly #holding = new Set<T>()
  #soonScheduled = false
  #timer: unknown
  readonly #windowMs: number
  readonly #write: (t: T, now: number) => void
  readonly #clock: SchedulerClock

  /** `write` writes a topic's queue and sets its `due` back to 0; it is given the wall-clock time. */
  constructor(windowMs: number, write: (t: T, now: number) => void, clock: SchedulerClock = SYSTEM_CLOCK) {
    this.#windowMs = windowMs
    this.#write = write
    this.#clock = clock
  }

  /**
   * Decides when a topic's queue is written, when its first frame is queued: after the batch window if the
   * topic's events come often enough for the window to merge several into one write per viewer, else at the
   * end of this event-loop turn (holding would add latency and save nothing).
   */
  schedule(t: T, now: number, mayHold: boolean): void {
    if (t.due !== 0) {
      // Held, and the next event is not expected before the hold ends: waiting longer merges nothing more.
      if (t.due > now && this.#holding.has(t) && now + t.gap > t.due) {
        this.#holding.delete(t)
        t.due = now
        this.#soonAdd(t)
      }
      return
    }
    const w = this.#windowMs
    const hold = mayHold && w > 0 && t.gap > 0 && t.gap < w && (t.conns.size * 1000) / t.gap >= MIN_SAVED_WRITES_PER_S
    if (hold) {
      t.due = now + w
      this.#holding.add(t)
      if (this.#timer === undefined) this.#armTimer(t.due, now)
      return
    }
    t.due = now
    this.#soonAdd(t)
  }

  #soonAdd(t: T): void {
    this.#soon.add(t)
    if (!this.#soonScheduled) {
      this.#soonScheduled = true
      this.#clock.setImmediate(() => this.#flushSoon())
    }
  }

  #armTimer(due: number, now: number): void {
    this.#timer = this.#clock.setTimeout(() => this.#flushHeld(), Math.max(1, Math.ceil(due - now)))
  }

  #flushSoon(): void {
    this.#soonScheduled = false
    const now = this.#clock.wallNow()
    for (const t of this.#soon) this.#write(t, now)
    this.#soon.clear()
  }

  /** Writes every held topic that is due (the set is in due order), then re-arms for the next one. */
  #flushHeld(): void {
    this.#timer = undefined
    const at = this.#clock.now()
    const now = this.#clock.wallNow()
    for (const t of this.#holding) {
      // setTimeout has 1 ms granularity: anything due within it goes now rather than in another timer.
      if (t.due > at + 1) { this.#armTimer(t.due, at); return }
      this.#holding.delete(t)
      this.#write(t, now)
    }
  }

  /** Writes everything queued now (drain). */
  flushAll(): void {
    if (this.#timer !== undefined) { this.#clock.clearTimeout(this.#timer); this.#timer = undefined }
    const now = this.#clock.wallNow()
    for (const t of this.#holding) this.#write(t, now)
    this.#holding.clear()
    for (const t of this.#soon) this.#write(t, now)
    this.#soon.clear()
  }

  /** A topic that is gone is not written. */
  forget(t: T): void {
    this.#soon.delete(t)
    this.#holding.delete(t)
  }

  close(): void {
    if (this.#timer !== undefined) this.#clock.clearTimeout(this.#timer)
    this.#timer = undefined
  }
}
