// A byte rate from a growing total, recomputed at most once per window so that frequent polls stay cheap and steady.

/** Milliseconds on a monotonic-enough clock; tests pass their own. */
export type Clock = () => number

export class RateMeter {
  readonly #windowMs: number
  readonly #now: Clock
  #at: number
  #total = 0
  #value = 0

  /**
   * @param windowMs shortest interval between two recomputations, ms (default 1000)
   * @param now the clock (default Date.now)
   */
  constructor(windowMs = 1000, now: Clock = Date.now) {
    this.#windowMs = windowMs
    this.#now = now
    this.#at = now()
  }

  /** Bytes per second as of the last full window, given the total so far. */
  sample(total: number): number {
    const now = this.#now()
    if (now - this.#at >= this.#windowMs) {
      this.#value = ((total - this.#total) * 1000) / (now - this.#at)
      this.#at = now
      this.#total = total
    }
    return this.#value
  }
}
