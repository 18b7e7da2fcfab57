// Distributed mode: Redis holds per-topic sequence + history and the topic → node routing table (with expiry).
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import type { Logger } from '../../../shared/logger.ts'
import { LIVE_DEFAULTS } from '../../defaults.ts'
import { LiveError } from '../../errors.ts'
import type { LiveEvent, LiveTransport, PublishInput, ReplayResult } from '../../types.ts'

/** Options of the Redis dispatcher adapter. */
export type RedisTransportOptions = {
  /** redis://host:port/db */
  url: string
  /** Key and channel prefix; lets several services share one Redis. @defaultValue LIVE_DEFAULTS.redis.prefix */
  prefix?: string
  /** Id of this node in the routing table. @defaultValue hostname-pid-random */
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

// One atomic step per publish batch: dedupe, sequence, append to history, route to the live watchers.
// Atomicity is what keeps ids gap-free and delivery in id order across any number of dispatchers.
// KEYS[4] holds the byte total of the history list; a list without it (written before it existed) is summed once.
const PUBLISH_LUA = `
local now = tonumber(ARGV[1])
local histMax = tonumber(ARGV[2])
local histTtl = tonumber(ARGV[3])
local dedupeTtl = tonumber(ARGV[4])
local seenPrefix = ARGV[5]
local chanPrefix = ARGV[6]
local topic = ARGV[7]
local n = tonumber(ARGV[8])
local histBytes = tonumber(ARGV[9])
if redis.call('EXISTS', KEYS[4]) == 0 then
  local sum = 0
  for _, old in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do sum = sum + #old end
  redis.call('SET', KEYS[4], sum)
end
local added = 0
local evs = {}
for i = 0, n - 1 do
  local b = 10 + i * 4
  local origin = ARGV[b + 3]
  local fresh = true
  if origin ~= '' then
    fresh = redis.call('SET', seenPrefix .. origin, '1', 'NX', 'PX', dedupeTtl)
  end
  if fresh then
    local id = redis.call('INCR', KEYS[1])
    local ev = { topic = topic, id = id, type = ARGV[b], data = ARGV[b + 1], ts = tonumber(ARGV[b + 2]) }
    if origin ~= '' then ev.origin = origin end
    local text = cjson.encode(ev)
    redis.call('RPUSH', KEYS[2], text)
    added = added + #text
    evs[#evs + 1] = text
  end
end
if #evs > 0 then
  local total = redis.call('INCRBY', KEYS[4], added)
  local len = redis.call('LLEN', KEYS[2])
  while len > 1 and (len > histMax or total > histBytes) do
    total = redis.call('DECRBY', KEYS[4], #redis.call('LPOP', KEYS[2]))
    len = len - 1
  end
  redis.call('PEXPIRE', KEYS[2], histTtl)
  redis.call('PEXPIRE', KEYS[4], histTtl)
  redis.call('PEXPIRE', KEYS[1], histTtl)
  local payload = '[' .. table.concat(evs, ',') .. ']'
  local nodes = redis.call('ZRANGEBYSCORE', KEYS[3], now, '+inf')
  for _, node in ipairs(nodes) do redis.call('PUBLISH', chanPrefix .. node, payload) end
end
return evs
`

const VIEWERS_LUA = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[1])
local alive = redis.call('ZRANGE', KEYS[1], 0, -1)
if #alive == 0 then return 0 end
local counts = redis.call('HMGET', KEYS[2], unpack(alive))
local sum = 0
for _, c in ipairs(counts) do if c then sum = sum + tonumber(c) end end
return sum
`

type LiveRedis = Redis & {
  livePublish(seq: string, hist: string, nodes: string, histBytes: string, ...argv: (string | number)[]): Promise<string[]>
  liveViewers(nodes: string, viewers: string, now: number): Promise<number>
}

export class RedisTransport implements LiveTransport {
  readonly nodeId: string
  readonly #cmd: LiveRedis
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
    this.#cmd = new Redis(options.url, common) as LiveRedis
    this.#sub = new Redis(options.url, { ...common, enableAutoPipelining: false })
    this.#cmd.defineCommand('livePublish', { numberOfKeys: 4, lua: PUBLISH_LUA })
    this.#cmd.defineCommand('liveViewers', { numberOfKeys: 2, lua: VIEWERS_LUA })
    for (const r of [this.#cmd, this.#sub]) r.on('error', (err: Error) => this.#log?.warn({ err: err.message }, 'live redis error'))
  }

  #k(topic: string, kind: string): string { return `${this.#p}t:${topic}:${kind}` }
  get #channel(): string { return `${this.#p}n:${this.nodeId}` }

  async start(sink: (events: LiveEvent[]) => void): Promise<void> {
    await Promise.all([this.#cmd.connect(), this.#sub.connect()])
    this.#sub.on('message', (_channel: string, payload: string) => {
      let events: LiveEvent[]
      try { events = JSON.parse(payload) as LiveEvent[] } catch { return }
      sink(events)
    })
    await this.#sub.subscribe(this.#channel)
    // Resubscription after a reconnect is ioredis' job; re-registering our topics is ours.
    this.#sub.on('ready', () => { void this.#refresh() })
    this.#refreshTimer = setInterval(() => { void this.#refresh() }, Math.max(250, Math.floor(this.#ttl / 3)))
    this.#refreshTimer.unref()
  }

  async publish(topic: string, inputs: PublishInput[]): Promise<LiveEvent[]> {
    const now = Date.now()
    const argv: (string | number)[] = [now, this.#historySize, this.#historyTtl, this.#dedupeTtl, `${this.#p}seen:`, `${this.#p}n:`, topic, inputs.length, this.#historyBytes]
    for (const i of inputs) argv.push(i.type, i.data, i.ts ?? now, i.origin ?? '')
    let texts: string[]
    try {
      texts = await this.#cmd.livePublish(this.#k(topic, 'seq'), this.#k(topic, 'hist'), this.#k(topic, 'nodes'), this.#k(topic, 'histbytes'), ...argv)
    } catch (err) {
      throw new LiveError('LIVE_TRANSPORT', `redis publish failed: ${(err as Error).message}`, { cause: err })
    }
    return texts.map((t) => JSON.parse(t) as LiveEvent)
  }

  async watch(topic: string): Promise<void> {
    this.#watched.add(topic)
    const key = this.#k(topic, 'nodes')
    await this.#cmd.multi().zadd(key, Date.now() + this.#ttl, this.nodeId).pexpire(key, this.#ttl * 3).exec()
  }

  unwatch(topic: string): void {
    this.#watched.delete(topic)
    this.#cmd.multi().zrem(this.#k(topic, 'nodes'), this.nodeId).hdel(this.#k(topic, 'viewers'), this.nodeId).exec()
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
      const key = this.#k(topic, 'viewers')
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
      const key = this.#k(topic, 'nodes')
      m.zadd(key, until, this.nodeId).pexpire(key, this.#ttl * 3)
    }
    try { await m.exec() } catch (err) { this.#log?.warn({ err: String(err) }, 'live routing refresh failed') }
    await this.#writeCounts()
  }

  async viewerCount(topic: string): Promise<number> {
    return Number(await this.#cmd.liveViewers(this.#k(topic, 'nodes'), this.#k(topic, 'viewers'), Date.now()))
  }

  async replay(topic: string, afterId: number): Promise<ReplayResult> {
    const texts = await this.#cmd.lrange(this.#k(topic, 'hist'), 0, -1)
    const events = texts.map((t) => JSON.parse(t) as LiveEvent)
    const first = events[0]
    const last = events.at(-1)
    if (!first || !last) {
      const seq = Number(await this.#cmd.get(this.#k(topic, 'seq')) ?? 0)
      return afterId === seq ? { kind: 'events', events: [] } : { kind: 'reset', latestId: seq }
    }
    if (afterId > last.id || afterId < first.id - 1) return { kind: 'reset', latestId: last.id }
    return { kind: 'events', events: events.filter((e) => e.id > afterId) }
  }

  async close(): Promise<void> {
    if (this.#refreshTimer) clearInterval(this.#refreshTimer)
    if (this.#watched.size > 0) {
      const m = this.#cmd.multi()
      for (const topic of this.#watched) m.zrem(this.#k(topic, 'nodes'), this.nodeId).hdel(this.#k(topic, 'viewers'), this.nodeId)
      await m.exec().catch(() => undefined)
    }
    this.#sub.disconnect()
    await this.#cmd.quit().catch(() => undefined)
  }
}
