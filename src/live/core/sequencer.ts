import { LIVE_DEFAULTS } from '../defaults.ts'
import { TopicHistory } from './topic-history.ts'
import type { LiveEvent, PublishInput, ReplayResult } from '../types.ts'

/** Options of the in-memory dispatcher used without Redis. */
export type SequencerOptions = {
  /** Events kept per topic for Last-Event-ID replay. @defaultValue LIVE_DEFAULTS.hub.historySize */
  historySize?: number
  /** Bytes of events kept per topic (see historyBytesOf). @defaultValue LIVE_DEFAULTS.hub.historyBytes */
  historyBytes?: number
  /** How long an origin id is remembered to drop a duplicate forwarded from a peer DC. @defaultValue LIVE_DEFAULTS.sequencer.dedupeTtlMs */
  dedupeTtlMs?: number
  /** Topics remembered without watchers before the oldest are forgotten. @defaultValue LIVE_DEFAULTS.sequencer.maxIdleTopics */
  maxIdleTopics?: number
}

type TopicEntry = { seq: number; history: TopicHistory; watchers: Set<string>; counts: Map<string, number> }

/**
 * The embedded dispatcher: assigns per-topic ids, keeps history, knows which nodes (cluster workers)
 * watch which topic and their viewer counts. One instance lives in the single process or the cluster primary.
 */
export class Sequencer {
  readonly #topics = new Map<string, TopicEntry>()
  readonly #seen = new Map<string, number>()
  readonly #historySize: number
  readonly #historyBytes: number
  readonly #dedupeTtlMs: number
  readonly #maxIdleTopics: number

  constructor(options: SequencerOptions = {}) {
    this.#historySize = options.historySize ?? LIVE_DEFAULTS.hub.historySize
    this.#historyBytes = options.historyBytes ?? LIVE_DEFAULTS.hub.historyBytes
    this.#dedupeTtlMs = options.dedupeTtlMs ?? LIVE_DEFAULTS.sequencer.dedupeTtlMs
    this.#maxIdleTopics = options.maxIdleTopics ?? LIVE_DEFAULTS.sequencer.maxIdleTopics
  }

  #entry(topic: string): TopicEntry {
    let e = this.#topics.get(topic)
    if (!e) {
      e = { seq: 0, history: new TopicHistory(this.#historySize, this.#historyBytes), watchers: new Set(), counts: new Map() }
      this.#topics.set(topic, e)
      if (this.#topics.size > this.#maxIdleTopics) this.#evictIdle()
    }
    return e
  }

  #evictIdle(): void {
    for (const [name, e] of this.#topics) {
      if (this.#topics.size <= this.#maxIdleTopics) break
      if (e.watchers.size === 0) this.#topics.delete(name)
    }
  }

  /** Assigns ids and records history; duplicates (same origin within the TTL) are dropped. */
  publish(topic: string, inputs: PublishInput[], now = Date.now()): LiveEvent[] {
    const e = this.#entry(topic)
    const out: LiveEvent[] = []
    for (const input of inputs) {
      if (input.origin !== undefined) {
        const until = this.#seen.get(input.origin)
        if (until !== undefined && until > now) continue
        this.#seen.set(input.origin, now + this.#dedupeTtlMs)
      }
      const ev: LiveEvent = { topic, id: ++e.seq, type: input.type, data: input.data, ts: input.ts ?? now }
      if (input.origin !== undefined) ev.origin = input.origin
      e.history.push(ev)
      out.push(ev)
    }
    if (this.#seen.size > 100_000) this.#sweepSeen(now)
    return out
  }

  #sweepSeen(now: number): void {
    for (const [k, until] of this.#seen) if (until <= now) this.#seen.delete(k)
  }

  watchers(topic: string): ReadonlySet<string> {
    return this.#topics.get(topic)?.watchers ?? new Set()
  }

  watch(topic: string, node: string): void { this.#entry(topic).watchers.add(node) }

  unwatch(topic: string, node: string): void {
    const e = this.#topics.get(topic)
    if (!e) return
    e.watchers.delete(node)
    e.counts.delete(node)
  }

  /** Forgets a node entirely (a worker that died). */
  dropNode(node: string): void {
    for (const e of this.#topics.values()) { e.watchers.delete(node); e.counts.delete(node) }
  }

  setCounts(node: string, counts: Iterable<[string, number]>): void {
    for (const [topic, n] of counts) {
      const e = this.#topics.get(topic)
      if (!e) continue
      if (n > 0) e.counts.set(node, n)
      else e.counts.delete(node)
    }
  }

  viewerCount(topic: string): number {
    let sum = 0
    for (const n of this.#topics.get(topic)?.counts.values() ?? []) sum += n
    return sum
  }

  replay(topic: string, afterId: number): ReplayResult {
    const e = this.#topics.get(topic)
    if (!e) return afterId === 0 ? { kind: 'events', events: [] } : { kind: 'reset', latestId: 0 }
    return e.history.since(afterId)
  }
}
