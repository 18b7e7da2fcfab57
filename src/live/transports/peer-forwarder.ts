// Multi-DC: locally published events are POSTed to each peer DC from a bounded queue that never blocks publishing.
// Batches are capped by events and by bytes (under the peer's body limit); a batch the peer refuses as a whole
// (413 too large, 400 invalid) is split in halves and resent, so an event is refused only for what it is itself.
// undici's fetch, not the one bundled in Node: a peer that closes while a body is held must not crash the node.
import { fetch } from 'undici'
import { computeBackoff, delay, parseRetryAfter } from '../../shared/backoff.ts'
import type { Logger } from '../../shared/logger.ts'
import { LIVE_DEFAULTS, withDefaults } from '../defaults.ts'
import { DC_HEADER, forwardedBody, forwardedBodyBytes, forwardedEventJson } from '../wire/peer-dc.ts'
import type { LiveEvent } from '../types.ts'

/** Options of one peer-DC forwarder. */
export type PeerForwarderOptions = {
  /** Base URL of the peer DC's live service (any node). */
  url: string
  /** Name of this DC, sent as `x-colony-dc` so the peer knows the events are forwarded (and never re-forwards). */
  dc: string
  /** Bearer token for the peer's publish API. */
  token: string
  /** Events waiting beyond this are dropped oldest-first (and counted). @defaultValue LIVE_DEFAULTS.peers.maxQueued */
  maxQueued?: number
  /** Bytes of events waiting beyond this are dropped oldest-first (and counted). @defaultValue LIVE_DEFAULTS.peers.maxQueuedBytes */
  maxQueuedBytes?: number
  /** Events per POST. @defaultValue LIVE_DEFAULTS.peers.batchSize */
  batchSize?: number
  /**
   * Bytes per POST body; keep it under the peer's body limit (a single larger event still travels alone).
   * Lowered to half a refused body whenever the peer answers 413 to a batch. @defaultValue LIVE_DEFAULTS.peers.maxBatchBytes
   */
  maxBatchBytes?: number
  /** One POST may take this long before it is retried. @defaultValue LIVE_DEFAULTS.peers.timeoutMs */
  timeoutMs?: number
  /** @defaultValue undefined */
  logger?: Logger
}

type Item = { topic: string; json: string; bytes: number }

export type PeerForwarderStats = {
  /** Events waiting (queued or in flight). */
  queued: number
  queuedBytes: number
  sent: number
  /** Events lost without the peer seeing them: queue over its bounds, or still waiting at shutdown. */
  dropped: number
  /** Events the peer refused even alone (larger than its body limit, or invalid there). */
  refused: number
  /** POSTs that failed (peer down, timeout, 5xx, 429, 401…) and were retried. */
  failures: number
}

/** A failure that retrying may cure; `retryAfterMs` is the peer's Retry-After. */
class PeerUnavailable extends Error {
  readonly retryAfterMs: number | undefined
  constructor(message: string, retryAfterMs?: number) {
    super(message)
    this.retryAfterMs = retryAfterMs
  }
}

/** Statuses that refuse the batch's content: retrying it unchanged cannot succeed, a smaller part may. */
const REFUSES_CONTENT = new Set([400, 413, 422])
const MIN_BATCH_BYTES = 1_024

export class PeerForwarder {
  readonly #o: Required<Omit<PeerForwarderOptions, 'logger'>> & { logger?: Logger }
  #queue: Item[] = []
  /** The batch being delivered, oldest first; delivered or refused events leave it from the front. */
  #pending: Item[] = []
  #batchBytes: number
  #wake: (() => void) | undefined
  #closed = false
  readonly #abort = new AbortController()
  readonly #loop: Promise<void>
  readonly stats: PeerForwarderStats = { queued: 0, queuedBytes: 0, sent: 0, dropped: 0, refused: 0, failures: 0 }

  constructor(options: PeerForwarderOptions) {
    const { maxQueued, maxQueuedBytes, batchSize, maxBatchBytes, timeoutMs } = LIVE_DEFAULTS.peers
    const bounds = withDefaults<Required<Pick<PeerForwarderOptions, 'maxQueued' | 'maxQueuedBytes' | 'batchSize' | 'maxBatchBytes' | 'timeoutMs'>>>({ maxQueued, maxQueuedBytes, batchSize, maxBatchBytes, timeoutMs }, options)
    this.#o = { ...bounds, url: options.url.replace(/\/+$/, ''), dc: options.dc, token: options.token, logger: options.logger }
    this.#batchBytes = this.#o.maxBatchBytes
    this.#loop = this.#run()
  }

  /** Never waits: a dead peer costs memory up to maxQueued / maxQueuedBytes, never local latency. */
  enqueue(events: readonly LiveEvent[]): void {
    if (this.#closed) return
    for (const ev of events) {
      if (!ev.origin) continue
      const json = forwardedEventJson({ type: ev.type, data: ev.data, ts: ev.ts, origin: ev.origin })
      const bytes = Buffer.byteLength(json)
      this.#queue.push({ topic: ev.topic, json, bytes })
      this.stats.queuedBytes += bytes
    }
    this.#trim()
    this.stats.queued = this.#queue.length + this.#pending.length
    this.#wake?.()
  }

  /** Drops the oldest waiting events (never the batch in flight) until both bounds hold. */
  #trim(): void {
    let over = this.#queue.length + this.#pending.length - this.#o.maxQueued
    let n = 0
    let freed = 0
    while (n < this.#queue.length && (over > 0 || this.stats.queuedBytes - freed > this.#o.maxQueuedBytes)) {
      freed += (this.#queue[n] as Item).bytes
      n++
      over--
    }
    if (n === 0) return
    this.#queue.splice(0, n)
    this.stats.queuedBytes -= freed
    this.stats.dropped += n
    this.#o.logger?.warn({ peer: this.#o.url, dropped: n }, 'live peer DC queue full; oldest events dropped')
  }

  async #run(): Promise<void> {
    let attempt = 0
    while (!this.#closed) {
      if (this.#pending.length === 0) {
        if (this.#queue.length === 0) {
          await new Promise<void>((r) => { this.#wake = r })
          this.#wake = undefined
          continue
        }
        this.#pending = this.#takeBatch()
      }
      try {
        await this.#deliver(this.#pending.slice())
        attempt = 0
      } catch (err) {
        if (this.#closed) break
        this.stats.failures++
        this.#o.logger?.warn({ peer: this.#o.url, err: (err as Error).message, queued: this.stats.queued }, 'live peer DC forward failed; retrying')
        const backoff = computeBackoff(attempt++, { baseMs: LIVE_DEFAULTS.peers.retryBaseMs, maxMs: LIVE_DEFAULTS.peers.retryMaxMs })
        const asked = err instanceof PeerUnavailable ? Math.min(err.retryAfterMs ?? 0, LIVE_DEFAULTS.peers.retryAfterCapMs) : 0
        try { await delay(Math.max(backoff, asked), this.#abort.signal) } catch { break }
      }
    }
  }

  /** The head topic's oldest events, in order, within the event and byte caps (the first one always fits). */
  #takeBatch(): Item[] {
    const topic = (this.#queue[0] as Item).topic
    const batch: Item[] = []
    let bytes = 0
    for (const it of this.#queue) {
      if (it.topic !== topic) continue
      if (batch.length > 0 && forwardedBodyBytes(batch.length + 1, bytes + it.bytes) > this.#batchBytes) break
      batch.push(it)
      bytes += it.bytes
      if (batch.length >= this.#o.batchSize) break
    }
    const taken = new Set(batch)
    this.#queue = this.#queue.filter((it) => !taken.has(it))
    return batch
  }

  /**
   * Sends `items` (the front of #pending) in order, halving whatever the peer refuses as a whole; throws on a
   * failure worth retrying, leaving what is still undelivered in #pending.
   */
  async #deliver(items: Item[]): Promise<void> {
    const bytes = forwardedBodyBytes(items.length, items.reduce((s, it) => s + it.bytes, 0))
    const status = await this.#post(items)
    if (status === 0) { this.#settle(items.length, 'sent'); return }
    const topic = (items[0] as Item).topic
    if (items.length === 1) {
      this.#o.logger?.error({ peer: this.#o.url, topic, status, bytes }, 'live peer DC refused an event on its own; it cannot be delivered there')
      this.#settle(1, 'refused')
      return
    }
    if (status === 413 && bytes / 2 < this.#batchBytes) {
      this.#batchBytes = Math.max(MIN_BATCH_BYTES, Math.floor(bytes / 2))
      this.#o.logger?.warn({ peer: this.#o.url, refusedBytes: bytes, batchBytes: this.#batchBytes }, 'live peer DC refused a batch as too large; sending smaller batches')
    }
    const half = Math.ceil(items.length / 2)
    await this.#deliver(items.slice(0, half))
    await this.#deliver(items.slice(half))
  }

  #settle(n: number, outcome: 'sent' | 'refused'): void {
    const done = this.#pending.splice(0, n)
    this.stats.queuedBytes -= done.reduce((s, it) => s + it.bytes, 0)
    this.stats[outcome] += done.length
    this.stats.queued = this.#queue.length + this.#pending.length
  }

  /** 0 when the peer accepted the batch, the status when it refused its content; throws when worth retrying. */
  async #post(items: Item[]): Promise<number> {
    const topic = (items[0] as Item).topic
    const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#o.timeoutMs)])
    const res = await fetch(`${this.#o.url}/v1/topics/${encodeURIComponent(topic)}/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${this.#o.token}`, [DC_HEADER]: this.#o.dc },
      body: forwardedBody(items.map((it) => it.json)),
      signal,
    })
    await res.arrayBuffer()
    if (res.ok) return 0
    if (REFUSES_CONTENT.has(res.status)) return res.status
    // Down, overloaded, rate-limited or misconfigured (401/403/404): the events wait in the bounded queue.
    throw new PeerUnavailable(`peer answered ${res.status}`, parseRetryAfter(res.headers.get('retry-after')))
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#abort.abort()
    this.#wake?.()
    await this.#loop
    const left = this.#queue.length + this.#pending.length
    if (left === 0) return
    this.stats.dropped += left
    this.#queue = []
    this.#pending = []
    this.stats.queued = 0
    this.stats.queuedBytes = 0
    this.#o.logger?.warn({ peer: this.#o.url, dropped: left }, 'live peer DC forwarder closed with events still queued')
  }
}
