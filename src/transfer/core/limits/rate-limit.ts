// Rate limiting without a transport: a token bucket in its GCRA form (one number per limit, the "theoretical arrival
// time" TAT: when the bucket would be full again). Taking `amount` moves TAT on by amount/rate; the caller waits until
// TAT - burst/rate, so any interval lets through at most rate × its length + burst. A caller that would overdraw still
// gets its amount (a chunk already read), and the debt delays whoever comes next: reservations, in arrival order.
//
// Where TAT lives is what differs: a SharedArrayBuffer cell updated with compare-and-swap (every copy thread of one
// process: SharedPacer), or Redis (every worker of a cluster: LeasePacer over a script, taking chunks of tokens).
import { TRANSFER_DEFAULTS } from '../../defaults.ts'
import { performance } from 'node:perf_hooks'

/** Paces one quantity (bytes, or requests) against a rate. */
export interface Pacer {
  /**
   * Reserves `amount`, going into debt if need be (a body chunk already read); resolves to the ms to wait before
   * using it (0 = now). Synchronous when it can be.
   */
  reserve(amount: number): number | Promise<number>
  /**
   * Takes `amount` (at most the burst) only if it is allowed now: 0 when taken, else the ms until it may be (nothing
   * taken; ask again then). A caller whose timer fired late (a busy thread) competes again instead of going out
   * together with others that were due earlier.
   */
  tryTake(amount: number): number | Promise<number>
}

/** Epoch ms with sub-ms precision; tests inject their own. */
export type Clock = () => number

/**
 * Wall-clock epoch ms, monotonic within a thread. Each thread's origin is its own start, so threads agree to well
 * under a millisecond.
 */
export const wallClock: Clock = () => performance.timeOrigin + performance.now()

/** Bytes or requests per second at a time (epoch ms); 0 = no limit. */
export type RateFn = (ms: number) => number

const LIMITS = TRANSFER_DEFAULTS.limits

/** Burst allowed above the rate for byte limits: a tenth of a second's worth, at least one 64 KiB read. */
export const byteBurst = (rate: number): number => Math.max(LIMITS.minByteBurst, rate * LIMITS.byteBurstMs / 1000)

/** Burst for request limits: one request (requests are then at least 1/rate apart, after an idle spell too). */
export const requestBurst = (): number => LIMITS.requestBurst

/**
 * One GCRA step, in µs: the new TAT and how long the caller waits. `tat` in the past (an idle bucket) counts as now,
 * so idleness never accumulates more than the burst.
 */
export function gcraStep(tat: number, now: number, amount: number, rate: number, burst: number): { tat: number; waitUs: number } {
  const next = Math.max(tat, now) + Math.ceil(amount * 1e6 / rate)
  return { tat: next, waitUs: Math.max(0, next - now - Math.floor(burst * 1e6 / rate)) }
}

/** One GCRA conformance test, in µs: the new TAT when `amount` is allowed now, else the unchanged TAT and the wait. */
export function gcraTry(tat: number, now: number, amount: number, rate: number, burst: number): { tat: number; waitUs: number } {
  const step = gcraStep(tat, now, amount, rate, burst)
  return step.waitUs > 0 ? { tat, waitUs: step.waitUs } : step
}

/** A rate function evaluated at most once per TRANSFER_DEFAULTS.limits.scheduleCheckMs (a timetable changes by minutes). */
export function cachedRate(fn: RateFn, checkMs: number = LIMITS.scheduleCheckMs): RateFn {
  let rate = 0
  let until = -Infinity
  return (ms) => {
    if (ms >= until || ms < until - checkMs) { rate = fn(ms); until = ms + checkMs }
    return rate
  }
}

/**
 * A bucket whose TAT is a 64-bit cell of a SharedArrayBuffer: every thread holding the buffer shares the limit. A
 * reservation is one compare-and-swap loop, no lock and no message to another thread.
 */
export class SharedPacer implements Pacer {
  readonly #cell: BigInt64Array
  readonly #rate: RateFn
  readonly #burst: (rate: number) => number
  readonly #clock: Clock

  /** `index`: which 8-byte cell of `buffer` holds this limit's TAT. */
  constructor(buffer: SharedArrayBuffer, index: number, rate: RateFn, burst: (rate: number) => number, clock: Clock = wallClock) {
    this.#cell = new BigInt64Array(buffer, index * 8, 1)
    this.#rate = rate
    this.#burst = burst
    this.#clock = clock
  }

  reserve(amount: number): number {
    return this.#update(amount, gcraStep)
  }

  tryTake(amount: number): number {
    return this.#update(amount, gcraTry)
  }

  #update(amount: number, step: typeof gcraStep): number {
    const ms = this.#clock()
    const rate = this.#rate(ms)
    if (rate <= 0) return 0
    const now = Math.floor(ms * 1000)
    for (;;) {
      const seen = Atomics.load(this.#cell, 0)
      const next = step(Number(seen), now, amount, rate, this.#burst(rate))
      if (next.tat === Number(seen) || Atomics.compareExchange(this.#cell, 0, seen, BigInt(next.tat)) === seen) return next.waitUs / 1000
    }
  }
}

/** Reserves `amount` at `rate` with `burst` in a bucket shared elsewhere; resolves to the ms to wait. */
export type ReserveFn = (amount: number, rate: number, burst: number) => Promise<number>

/**
 * A local pacer drawing on a remote bucket (Redis) in chunks: a chunk (TRANSFER_DEFAULTS.limits.leaseMs worth of the
 * rate, at least what is asked) is reserved in one round trip and spent locally, so round trips stay near
 * 1000/leaseMs a second per process whatever the number of reads. One reservation is in flight at a time; callers
 * arriving meanwhile queue behind it.
 */
export class LeasePacer implements Pacer {
  readonly #reserve: ReserveFn
  readonly #rate: RateFn
  readonly #burst: (rate: number) => number
  readonly #clock: Clock
  readonly #min: number
  #left = 0
  #readyAt = 0
  #busy: Promise<unknown> = Promise.resolve()

  /** `min`: the smallest chunk (1 for requests). */
  constructor(reserve: ReserveFn, rate: RateFn, burst: (rate: number) => number, min: number, clock: Clock = wallClock) {
    this.#reserve = reserve
    this.#rate = rate
    this.#burst = burst
    this.#min = min
    this.#clock = clock
  }

  reserve(amount: number): number | Promise<number> {
    return this.#use(amount, true)
  }

  tryTake(amount: number): number | Promise<number> {
    return this.#use(amount, false)
  }

  /** Spends local tokens when there are enough (`always`: even before they are due, returning the wait); else leases more. */
  #use(amount: number, always: boolean): number | Promise<number> {
    const now = this.#clock()
    if (this.#rate(now) <= 0) return 0
    if (this.#left >= amount) {
      const wait = Math.max(0, this.#readyAt - now)
      if (always || wait === 0) this.#left -= amount
      return wait
    }
    const next = this.#busy.then(() => this.#lease(amount)).then(() => this.#use(amount, always))
    this.#busy = next.catch(() => undefined)
    return next
  }

  /** Leases a chunk unless enough tokens came in while this caller queued. */
  async #lease(amount: number): Promise<void> {
    const rate = this.#rate(this.#clock())
    if (rate <= 0 || this.#left >= amount) return
    const chunk = Math.max(amount - this.#left, this.#min, Math.floor(rate * LIMITS.leaseMs / 1000))
    const wait = await this.#reserve(chunk, rate, this.#burst(rate))
    this.#left += chunk
    this.#readyAt = Math.max(this.#readyAt, this.#clock() + wait)
  }
}
