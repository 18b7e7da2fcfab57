// A counting semaphore, for every part of colony that bounds work in flight (copy batches, paced source requests,
// back-to-source fetches).

/** At most `max` tasks run at once across every caller sharing it; waiters are served in order. */
export class Limiter {
  readonly #max: number
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor(max: number) {
    this.#max = Math.max(1, max)
  }

  /** Takes a slot if one is free now (no promise); pair with release(). */
  tryAcquire(): boolean {
    if (this.#active >= this.#max) return false
    this.#active++
    return true
  }

  /** Waits for a slot, in order; pair with release(). An abort while waiting leaves the queue and rejects with its reason. */
  acquire(signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return Promise.reject(signal.reason as Error)
    if (this.tryAcquire()) return Promise.resolve()
    // release() hands its slot straight to the first waiter (the count stays as it is).
    if (!signal) return new Promise<void>((resolve) => this.#waiting.push(resolve))
    return new Promise<void>((resolve, reject) => {
      const go = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
      const onAbort = (): void => {
        const i = this.#waiting.indexOf(go)
        if (i >= 0) this.#waiting.splice(i, 1)
        reject(signal.reason as Error)
      }
      this.#waiting.push(go)
      signal.addEventListener('abort', onAbort, { once: true })
    })
  }

  /** acquire(), resolving with the slot's release: calling it more than once releases once. */
  async hold(signal?: AbortSignal): Promise<() => void> {
    await this.acquire(signal)
    let held = true
    return () => { if (held) { held = false; this.release() } }
  }

  release(): void {
    const next = this.#waiting.shift()
    if (next) next()
    else this.#active--
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    await this.acquire()
    try {
      return await task()
    } finally {
      this.release()
    }
  }
}

/** Runs `fn` over items with at most `limiter`'s concurrency, keeping order in the result. */
export async function mapLimited<T, R>(items: T[], limiter: Limiter, fn: (item: T) => Promise<R>): Promise<R[]> {
  return Promise.all(items.map((item) => limiter.run(() => fn(item))))
}
