import type { LiveEvent, ReplayResult } from '../types.ts'

/** Bytes one event is counted as in a history: its text fields plus a fixed allowance for the object. */
export function historyBytesOf(ev: LiveEvent): number {
  return ev.data.length + ev.type.length + 64
}

/**
 * A bounded ring of one topic's most recent events, by count and by bytes (`historyBytesOf`; the newest event
 * is kept even alone over the byte bound). `validFrom` is the first id this ring saw without a gap since it
 * started; asking for anything before it answers "reset" rather than silently skipping events.
 */
export class TopicHistory {
  readonly #ring: (LiveEvent | undefined)[]
  readonly #maxBytes: number
  #start = 0
  #size = 0
  #bytes = 0
  #validFrom = 0
  #lastId = 0

  constructor(capacity: number, maxBytes = Number.POSITIVE_INFINITY) {
    this.#ring = new Array<LiveEvent | undefined>(Math.max(1, capacity))
    this.#maxBytes = maxBytes
  }

  get capacity(): number { return this.#ring.length }

  get lastId(): number { return this.#lastId }
  get size(): number { return this.#size }
  get bytes(): number { return this.#bytes }

  /** Appends in id order; a jump in ids (a lost message) restarts the contiguous window. */
  push(ev: LiveEvent): void {
    if (ev.id <= this.#lastId) return
    if (this.#lastId !== 0 && ev.id !== this.#lastId + 1) this.#clear()
    if (this.#size === 0) this.#validFrom = ev.id
    const cap = this.#ring.length
    if (this.#size === cap) this.#dropOldest()
    this.#ring[(this.#start + this.#size) % cap] = ev
    this.#size++
    this.#bytes += historyBytesOf(ev)
    while (this.#size > 1 && this.#bytes > this.#maxBytes) this.#dropOldest()
    this.#lastId = ev.id
  }

  #dropOldest(): void {
    const cap = this.#ring.length
    const old = this.#ring[this.#start] as LiveEvent
    this.#ring[this.#start] = undefined
    this.#bytes -= historyBytesOf(old)
    this.#start = (this.#start + 1) % cap
    this.#size--
    this.#validFrom = old.id + 1
  }

  #clear(): void {
    this.#ring.fill(undefined)
    this.#start = 0
    this.#size = 0
    this.#bytes = 0
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
