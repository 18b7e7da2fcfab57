/** A counting semaphore: at most `max` tasks run at once across every caller sharing it. */
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

  /** Waits for a slot; pair with release(). */
  acquire(): Promise<void> {
    if (this.tryAcquire()) return Promise.resolve()
    // release() hands its slot straight to the first waiter (the count stays as it is).
    return new Promise<void>((resolve) => this.#waiting.push(resolve))
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
