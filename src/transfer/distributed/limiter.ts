/** A counting semaphore: at most `max` tasks run at once across every caller sharing it. */
export class Limiter {
  readonly #max: number
  #active = 0
  readonly #waiting: Array<() => void> = []

  constructor(max: number) {
    this.#max = Math.max(1, max)
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.#max) await new Promise<void>((resolve) => this.#waiting.push(resolve))
    this.#active++
    try {
      return await task()
    } finally {
      this.#active--
      this.#waiting.shift()?.()
    }
  }
}

/** Runs `fn` over items with at most `limiter`'s concurrency, keeping order in the result. */
export async function mapLimited<T, R>(items: T[], limiter: Limiter, fn: (item: T) => Promise<R>): Promise<R[]> {
  return Promise.all(items.map((item) => limiter.run(() => fn(item))))
}
