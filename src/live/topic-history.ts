import type { LiveEvent, ReplayResult } from './types.ts'

/**
 * A bounded ring of one topic's most recent events. `validFrom` is the first id this ring saw without a gap
 * since it started; asking for anything before it answers "reset" rather than silently skipping events.
 */
export class TopicHistory {
  readonly #ring: (LiveEvent | undefined)[]
  #start = 0
  #size = 0
  #validFrom = 0
  #lastId = 0

  constructor(capacity: number) {
    this.#ring = new Array<LiveEvent | undefined>(Math.max(1, capacity))
  }

  get capacity(): number { return this.#ring.length }

  get lastId(): number { return this.#lastId }
  get size(): number { return this.#size }

  /** Appends in id order; a jump in ids (a lost message) restarts the contiguous window. */
  push(ev: LiveEvent): void {
    if (ev.id <= this.#lastId) return
    if (this.#lastId !== 0 && ev.id !== this.#lastId + 1) { this.#start = 0; this.#size = 0; this.#validFrom = ev.id }
    if (this.#size === 0) this.#validFrom = ev.id
    const cap = this.#ring.length
    if (this.#size < cap) {
      this.#ring[(this.#start + this.#size) % cap] = ev
      this.#size++
    } else {
      this.#ring[this.#start] = ev
      this.#start = (this.#start + 1) % cap
      this.#validFrom = ev.id - cap + 1
    }
    this.#lastId = ev.id
  }

  /** Events with id > afterId, or reset when the window no longer reaches back that far. */
  since(afterId: number): ReplayResult {
    if (afterId === this.#lastId) return { kind: 'events', events: [] }
    if (afterId > this.#lastId || this.#size === 0 || afterId < this.#validFrom - 1) return { kind: 'reset', latestId: this.#lastId }
    const out: LiveEvent[] = []
    const cap = this.#ring.length
    for (let i = 0; i < this.#size; i++) {
      const ev = this.#ring[(this.#start + i) % cap]
      if (ev && ev.id > afterId) out.push(ev)
    }
    return { kind: 'events', events: out }
  }

  /** True when a replay after `afterId` can be answered from this ring alone. */
  covers(afterId: number): boolean {
    return this.#size > 0 && afterId >= this.#validFrom - 1 && afterId <= this.#lastId
  }
}
