// Multi-DC: locally published events are POSTed to each peer DC from a bounded queue that never blocks publishing.
import { computeBackoff, delay } from '../shared/backoff.ts'
import type { Logger } from '../shared/logger.ts'
import type { LiveEvent } from './types.ts'

/** Options of one peer-DC forwarder. */
export type PeerForwarderOptions = {
  /** Base URL of the peer DC's live service (any node). */
  url: string
  /** Name of this DC, sent as `x-colony-dc` so the peer knows the events are forwarded (and never re-forwards). */
  dc: string
  /** Bearer token for the peer's publish API. */
  token: string
  /** Events waiting beyond this are dropped oldest-first (and counted). @defaultValue 100_000 */
  maxQueued?: number
  /** Events per POST. @defaultValue 500 */
  batchSize?: number
  /** One POST may take this long before it is retried. @defaultValue 5_000 */
  timeoutMs?: number
  /** @defaultValue undefined */
  logger?: Logger
}

type Item = { topic: string; type: string; data: string; ts: number; origin: string }

export type PeerForwarderStats = { queued: number; sent: number; dropped: number; failures: number }

export class PeerForwarder {
  readonly #o: Required<Omit<PeerForwarderOptions, 'logger'>> & { logger?: Logger }
  #queue: Item[] = []
  #wake: (() => void) | undefined
  #closed = false
  readonly #abort = new AbortController()
  readonly #loop: Promise<void>
  readonly stats: PeerForwarderStats = { queued: 0, sent: 0, dropped: 0, failures: 0 }

  constructor(options: PeerForwarderOptions) {
    this.#o = { maxQueued: 100_000, batchSize: 500, timeoutMs: 5_000, ...options, url: options.url.replace(/\/+$/, '') }
    this.#loop = this.#run()
  }

  /** Never waits: a dead peer costs memory up to maxQueued, never local latency. */
  enqueue(events: readonly LiveEvent[]): void {
    if (this.#closed) return
    for (const ev of events) {
      if (!ev.origin) continue
      this.#queue.push({ topic: ev.topic, type: ev.type, data: ev.data, ts: ev.ts, origin: ev.origin })
    }
    const over = this.#queue.length - this.#o.maxQueued
    if (over > 0) { this.#queue.splice(0, over); this.stats.dropped += over }
    this.stats.queued = this.#queue.length
    this.#wake?.()
  }

  async #run(): Promise<void> {
    let attempt = 0
    while (!this.#closed) {
      if (this.#queue.length === 0) {
        await new Promise<void>((r) => { this.#wake = r })
        this.#wake = undefined
        continue
      }
      // One topic per POST (the public publish API); take the head topic's events in order.
      const topic = (this.#queue[0] as Item).topic
      const batch: Item[] = []
      for (const it of this.#queue) {
        if (it.topic !== topic) continue
        batch.push(it)
        if (batch.length >= this.#o.batchSize) break
      }
      try {
        const outcome = await this.#post(topic, batch)
        const done = new Set(batch)
        this.#queue = this.#queue.filter((it) => !done.has(it))
        if (outcome === 'sent') this.stats.sent += batch.length
        else this.stats.dropped += batch.length
        this.stats.queued = this.#queue.length
        attempt = 0
      } catch (err) {
        this.stats.failures++
        if (this.#closed) break
        this.#o.logger?.warn({ peer: this.#o.url, err: (err as Error).message, queued: this.#queue.length }, 'live peer DC forward failed; retrying')
        try { await delay(computeBackoff(attempt++, { baseMs: 200, maxMs: 10_000 }), this.#abort.signal) } catch { break }
      }
    }
  }

  async #post(topic: string, batch: Item[]): Promise<'sent' | 'refused'> {
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.timeoutMs)])
    const res = await fetch(`${this.#o.url}/v1/topics/${encodeURIComponent(topic)}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#o.token}`, 'x-colony-dc': this.#o.dc },
      body: JSON.stringify({ events: batch.map((b) => ({ type: b.type, data: JSON.parse(b.data) as unknown, ts: b.ts, origin: b.origin })) }),
      signal,
    })
    await res.arrayBuffer()
    // A 4xx other than 429 will not get better by retrying: drop the batch rather than wedge the queue.
    if (res.status >= 400 && res.status < 500 && res.status !== 429) {
      this.#o.logger?.error({ peer: this.#o.url, status: res.status }, 'live peer DC refused events; dropped')
      return 'refused'
    }
    if (!res.ok) throw new Error(`peer answered ${res.status}`)
    return 'sent'
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#abort.abort()
    this.#wake?.()
    await this.#loop
  }
}
