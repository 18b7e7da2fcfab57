import type { JobQueue } from '../core/ports.ts'

/**
 * The embedded JobQueue: a deque. Retries go to the front so a class that hit a transient error finishes
 * with its siblings instead of behind every newer class.
 */
export class MemoryJobQueue<T> implements JobQueue<T> {
  // Two stacks make a deque with O(1) push/pushFront/shift without a ring buffer.
  #front: T[] = []
  #back: T[] = []
  #backHead = 0
  #closed = false
  #waiters: Array<() => void> = []

  get length(): number {
    return this.#front.length + this.#back.length - this.#backHead
  }

  async push(items: T[]): Promise<void> {
    for (const it of items) this.#back.push(it)
    this.#wake()
  }

  async pushFront(items: T[]): Promise<void> {
    for (let i = items.length - 1; i >= 0; i--) this.#front.push(items[i] as T)
    this.#wake()
  }

  /** Synchronous take for the engine's hot loop. */
  takeNow(max: number): T[] {
    const out: T[] = []
    while (out.length < max && this.#front.length > 0) out.push(this.#front.pop() as T)
    while (out.length < max && this.#backHead < this.#back.length) out.push(this.#back[this.#backHead++] as T)
    if (this.#backHead > 4096 && this.#backHead * 2 > this.#back.length) {
      this.#back = this.#back.slice(this.#backHead)
      this.#backHead = 0
    }
    return out
  }

  async take(max: number, signal?: AbortSignal): Promise<T[]> {
    for (;;) {
      const got = this.takeNow(max)
      if (got.length > 0 || this.#closed) return got
      if (signal?.aborted) return []
      await new Promise<void>((resolve) => {
        const done = (): void => { signal?.removeEventListener('abort', done); resolve() }
        this.#waiters.push(done)
        signal?.addEventListener('abort', done, { once: true })
      })
    }
  }

  async size(): Promise<number> {
    return this.length
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#wake()
  }

  #wake(): void {
    const w = this.#waiters
    this.#waiters = []
    for (const f of w) f()
  }
}
