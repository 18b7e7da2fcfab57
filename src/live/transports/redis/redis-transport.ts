// Distributed mode: Redis holds per-topic sequence + history and the topic → node routing table (with expiry).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from '../../../shared/logger.ts'
import { LIVE_DEFAULTS } from '../../defaults.ts'
import { LiveError } from '../../errors.ts'
import type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from '../../types.ts'
import { decodeChannelMessage, decodeRedisEvent, nodeChannel, nodeChannelPrefix, seenKeyPrefix, topicKeys, type TopicKeys } from '../../wire/redis.ts'
import { liveScripts, type LiveScripts } from './scripts.ts'

/** Options of the Redis dispatcher adapter. */
export type RedisTransportOptions = {
  /** redis://host:port/db */
  url: string
  /** Key and channel prefix; lets several services share one Redis. @defaultValue LIVE_DEFAULTS.redis.prefix */
  prefix?: string
  /** Id of this node in the routing table. @defaultValue `<pid>-<8 random hex digits>` */
  nodeId?: string
  /** A node that stops refreshing drops out of routing after this long. @defaultValue LIVE_DEFAULTS.redis.nodeTtlMs */
  nodeTtlMs?: number
  /** Events kept per topic in Redis for Last-Event-ID replay. @defaultValue LIVE_DEFAULTS.redis.historySize */
  historySize?: number
  /** Bytes of event JSON kept per topic in Redis; the newest event is kept even alone over it. @defaultValue LIVE_DEFAULTS.hub.historyBytes */
  historyBytes?: number
  /** Idle topic history (and sequence) expire after this long. @defaultValue LIVE_DEFAULTS.redis.historyTtlMs */
  historyTtlMs?: number
  /** Origin ids remembered to drop events a peer DC delivers twice. @defaultValue LIVE_DEFAULTS.sequencer.dedupeTtlMs */
  dedupeTtlMs?: number
  /** @defaultValue silent */
  logger?: Logger
}

export class RedisTransport implements LiveTransport {
  readonly nodeId: string
  readonly #cmd: Redis
  readonly #scripts: LiveScripts
  readonly #sub: Redis
  readonly #p: string
  readonly #ttl: number
  readonly #historySize: number
  readonly #historyBytes: number
  readonly #historyTtl: number
  readonly #dedupeTtl: number
  readonly #watched = new Set<string>()
  #counts: ReadonlyMap<string, number> = new Map()
  #refreshTimer: NodeJS.Timeout | undefined
  readonly #log: Logger | undefined

  constructor(options: RedisTransportOptions) {
    this.#p = options.prefix ?? LIVE_DEFAULTS.redis.prefix
    this.nodeId = options.nodeId ?? `${process.pid}-${randomBytes(4).toString('hex')}`
    this.#ttl = options.nodeTtlMs ?? LIVE_DEFAULTS.redis.nodeTtlMs
    this.#historySize = options.historySize ?? LIVE_DEFAULTS.redis.historySize
    this.#historyBytes = options.historyBytes ?? LIVE_DEFAULTS.hub.historyBytes
    this.#historyTtl = options.historyTtlMs ?? LIVE_DEFAULTS.redis.historyTtlMs
    this.#dedupeTtl = options.dedupeTtlMs ?? LIVE_DEFAULTS.sequencer.dedupeTtlMs
    this.#log = options.logger
    const common = { maxRetriesPerRequest: 2, enableAutoPipelining: true, lazyConnect: true }
    this.#cmd = new Redis(options.url, common)
    this.#scripts = liveScripts(this.#cmd)
    this.#sub = new Redis(options.url, { ...common, enableAutoPipelining: false })
    for (const r of [this.#cmd, this.#sub]) r.on('error', (err: Error) => this.#log?.warn({ err: err.message }, 'live redis error'))
  }

  #keys(topic: string): TopicKeys { return topicKeys(this.#p, topic) }

  async start(sink: (events: LiveEvent[]) => void): Promise<void> {
    await Promise.all([this.#cmd.connect(), this.#sub.connect()])
    this.#sub.on('message', (_channel: string, payload: string) => {
      const events = decodeChannelMessage(payload)
      if (events) sink(events)
    })
    await this.#sub.subscribe(nodeChannel(this.#p, this.nodeId))
    // Resubscription after a reconnect is ioredis' job; re-registering our topics is ours.
    this.#sub.on('ready', () => { void this.#refresh() })
    this.#refreshTimer = setInterval(() => { void this.#refresh() }, Math.max(250, Math.floor(this.#ttl / 3)))
    this.#refreshTimer.unref()
  }

  async publish(topic: string, inputs: PublishInput[]): Promise<LiveEvent[]> {
    const now = Date.now()
    let texts: string[]
    try {
      texts = await this.#scripts.publishEvents({
        keys: this.#keys(topic), topic, now,
        events: inputs.map((i) => ({ type: i.type, data: i.data, ts: i.ts ?? now, origin: i.origin })),
        historySize: this.#historySize, historyBytes: this.#historyBytes, historyTtlMs: this.#historyTtl, dedupeTtlMs: this.#dedupeTtl,
        seenKeyPrefix: seenKeyPrefix(this.#p), channelPrefix: nodeChannelPrefix(this.#p),
      })
    } catch (err) {
      throw new LiveError('LIVE_TRANSPORT', `redis publish failed: ${(err as Error).message}`, { cause: err })
    }
    return texts.map(decodeRedisEvent)
  }

  async watch(topic: string): Promise<void> {
    this.#watched.add(topic)
    const key = this.#keys(topic).nodes
    await this.#cmd.multi().zadd(key, Date.now() + this.#ttl, this.nodeId).pexpire(key, this.#ttl * 3).exec()
  }

  unwatch(topic: string): void {
    this.#watched.delete(topic)
    const keys = this.#keys(topic)
    this.#cmd.multi().zrem(keys.nodes, this.nodeId).hdel(keys.viewers, this.nodeId).exec()
      .catch((err: unknown) => this.#log?.warn({ err: String(err), topic }, 'live unwatch failed'))
  }

  reportViewers(counts: ReadonlyMap<string, number>): void {
    this.#counts = counts
    void this.#writeCounts()
  }

  async #writeCounts(): Promise<void> {
    if (this.#counts.size === 0) return
    const m = this.#cmd.multi()
    for (const [topic, n] of this.#counts) {
      const key = this.#keys(topic).viewers
      m.hset(key, this.nodeId, n).pexpire(key, this.#ttl * 3)
    }
    try { await m.exec() } catch (err) { this.#log?.warn({ err: String(err) }, 'live viewer count write failed') }
  }

  /** Keeps this node's routing entries alive; a node that stops (killed, partitioned) ages out after nodeTtlMs. */
  async #refresh(): Promise<void> {
    if (this.#watched.size === 0) return
    const until = Date.now() + this.#ttl
    const m = this.#cmd.multi()
    for (const topic of this.#watched) {
      const key = this.#keys(topic).nodes
      m.zadd(key, until, this.nodeId).pexpire(key, this.#ttl * 3)
    }
    try { await m.exec() } catch (err) { this.#log?.warn({ err: String(err) }, 'live routing refresh failed') }
    await this.#writeCounts()
  }

  async viewerCount(topic: string): Promise<number> {
    return this.#scripts.countViewers({ keys: this.#keys(topic), now: Date.now() })
  }

  async replay(topic: string, afterId: number): Promise<ReplayResult> {
    const keys = this.#keys(topic)
    const texts = await this.#cmd.lrange(keys.history, 0, -1)
    const events = texts.map(decodeRedisEvent)
    const first = events[0]
    const last = events.at(-1)
    if (!first || !last) {
      const seq = Number(await this.#cmd.get(keys.seq) ?? 0)
      return afterId === seq ? { kind: 'events', events: [] } : { kind: 'reset', latestId: seq }
    }
    if (afterId > last.id || afterId < first.id - 1) return { kind: 'reset', latestId: last.id }
    return { kind: 'events', events: events.filter((e) => e.id > afterId) }
  }

  async close(): Promise<void> {
    if (this.#refreshTimer) clearInterval(this.#refreshTimer)
    if (this.#watched.size > 0) {
      const m = this.#cmd.multi()
      for (const topic of this.#watched) {
        const keys = this.#keys(topic)
        m.zrem(keys.nodes, this.nodeId).hdel(keys.viewers, this.nodeId)
      }
      await m.exec().catch(() => undefined)
    }
    this.#sub.disconnect()
    await this.#cmd.quit().catch(() => undefined)
  }
}
