// A token bucket of bytes (or starts): the native engine's --upload-limit / --download-limit, one bucket per
// direction shared by every connection and torrent so the cap holds for the agent as a whole (what aria2's overall
// limits do), and the REST API's per-client start rate.
import { performance } from 'node:perf_hooks'

export type TokenBucketOptions = {
  /** Bytes per second; 0 = no limit. */
  rate: number
  /** Most bytes that may go at once after an idle spell. @defaultValue max(64 KiB, rate / 20) */
  burst?: number
  /** The clock, in milliseconds (tests pass their own). @defaultValue performance.now */
  now?: () => number
}

export class TokenBucket {
  readonly rate: number
  readonly #burst: number
  #tokens: number
  #at: number
  readonly #now: () => number

  constructor(options: TokenBucketOptions) {
    this.rate = options.rate
    this.#burst = options.burst ?? Math.max(64 * 1024, options.rate / 20)
    this.#tokens = this.#burst
    this.#now = options.now ?? (() => performance.now())
    this.#at = this.#now()
  }

  #refill(): void {
    const now = this.#now()
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) * this.rate) / 1000)
    this.#at = now
  }

  /** Takes `n` bytes if they are there now. A request larger than the burst goes once the bucket is full. */
  tryTake(n: number): boolean {
    if (this.rate <= 0) return true
    this.#refill()
    if (this.#tokens >= Math.min(n, this.#burst)) {
      this.#tokens -= n
      return true
    }
    return false
  }

  /** Milliseconds until `tryTake(n)` can succeed (at least 1). */
  waitMs(n: number): number {
    if (this.rate <= 0) return 0
    this.#refill()
    const need = Math.min(n, this.#burst) - this.#tokens
    return Math.max(1, Math.ceil((need * 1000) / this.rate))
  }
}
