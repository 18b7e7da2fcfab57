// A byte rate from a growing total, recomputed at most once per window so that frequent polls stay cheap and steady.

export class RateMeter {
  #at = Date.now()
  #total = 0
  #value = 0
  readonly #windowMs: number

  /** @param windowMs shortest interval between two recomputations, ms (default 1000) */
  constructor(windowMs = 1000) { this.#windowMs = windowMs }

  /** Bytes per second as of the last full window, given the total so far. */
  sample(total: number): number {
    const now = Date.now()
    if (now - this.#at >= this.#windowMs) {
      this.#value = ((total - this.#total) * 1000) / (now - this.#at)
      this.#at = now
      this.#total = total
    }
    return this.#value
  }
}
