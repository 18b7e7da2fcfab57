// Abuse and reconnect-storm guards: plain counters, no timers.

/** A token bucket: `rate` tokens per second, holding at most `burst`. rate 0 means unlimited. */
export class TokenBucket {
  #tokens: number
  #last: number
  readonly #rate: number
  readonly #burst: number

  constructor(rate: number, burst = Math.max(1, rate), now = Date.now()) {
    this.#rate = rate
    this.#burst = burst
    this.#tokens = burst
    this.#last = now
  }

  take(n = 1, now = Date.now()): boolean {
    if (this.#rate <= 0) return true
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#last) / 1000) * this.#rate)
    this.#last = now
    if (this.#tokens < n) return false
    this.#tokens -= n
    return true
  }

  /** Seconds until `n` tokens are available (for Retry-After). */
  waitSeconds(n = 1): number {
    if (this.#rate <= 0) return 0
    return Math.max(1, Math.ceil((n - this.#tokens) / this.#rate))
  }
}

/** Token buckets per key (client IP), forgetting keys that sat idle and full. */
export class KeyedBuckets {
  readonly #buckets = new Map<string, TokenBucket>()
  readonly #rate: number
  readonly #burst: number

  constructor(rate: number, burst?: number) {
    this.#rate = rate
    this.#burst = burst ?? Math.max(1, rate)
  }

  get(key: string): TokenBucket {
    let b = this.#buckets.get(key)
    if (!b) {
      if (this.#buckets.size > 50_000) this.#buckets.clear()
      b = new TokenBucket(this.#rate, this.#burst)
      this.#buckets.set(key, b)
    }
    return b
  }
}

/** Open connections per client IP. */
export class ConnectionCounter {
  readonly #counts = new Map<string, number>()

  count(ip: string): number { return this.#counts.get(ip) ?? 0 }

  add(ip: string): void { this.#counts.set(ip, this.count(ip) + 1) }

  remove(ip: string): void {
    const n = this.count(ip) - 1
    if (n <= 0) this.#counts.delete(ip)
    else this.#counts.set(ip, n)
  }
}
