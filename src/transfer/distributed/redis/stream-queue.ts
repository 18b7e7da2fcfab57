// Redis Streams as an at-least-once work queue with crash recovery: XREADGROUP hands an entry to one
// consumer and keeps it in the group's pending list until it is settled (XACK+XDEL, in the role's
// settle script). A consumer keeps its in-flight entries fresh (XCLAIM JUSTID resets idle time);
// anything idle longer than `claimIdleMs` belongs to a dead worker and is taken over with XAUTOCLAIM.
import type { Logger } from '../../../shared/logger.ts'
import { delay } from '../../../shared/backoff.ts'
import { takeEntries, type ScriptedRedis, type StreamEntries } from './scripts.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

/** One queue entry: a JSON job under field "j". */
export type StreamEntry<T> = { stream: string; id: string; job: T; claimed: boolean }

type RawEntries = Array<[string, string[] | null]>

export async function ensureGroup(redis: ScriptedRedis, stream: string, group: string): Promise<void> {
  try {
    await redis.xgroup('CREATE', stream, group, '0', 'MKSTREAM')
  } catch (err) {
    if (!/BUSYGROUP/.test((err as Error).message)) throw err
  }
}

function parseEntries<T>(stream: string, raw: RawEntries, claimed: boolean, log: Logger): Array<StreamEntry<T>> {
  const out: Array<StreamEntry<T>> = []
  for (const [id, fields] of raw) {
    if (!fields) continue // deleted while pending
    const i = fields.indexOf('j')
    try {
      out.push({ stream, id, job: JSON.parse(fields[i + 1] ?? 'null') as T, claimed })
    } catch {
      log.warn({ stream, id }, 'dropping a queue entry that is not JSON')
    }
  }
  return out
}

export type StreamConsumerOptions = {
  redis: ScriptedRedis
  /** A connection of its own: XREADGROUP BLOCK holds it. */
  blocking: ScriptedRedis
  /** Streams in priority order: an earlier stream is always drained before a later one is read. */
  streams: string[]
  group: string
  consumer: string
  log: Logger
  /** Idle time after which a pending entry is taken from its (presumed dead) owner. @defaultValue TRANSFER_DEFAULTS.distributed.claimIdleMs */
  claimIdleMs?: number
  /** How long one blocking read waits. @defaultValue TRANSFER_DEFAULTS.distributed.queueBlockMs */
  blockMs?: number
}

/** Reads, reclaims and heartbeats entries for one consumer of one group. */
export class StreamConsumer<T> {
  readonly options: StreamConsumerOptions
  readonly inFlight = new Map<string, Set<string>>()
  #lastClaim = 0
  #lastBeat = 0

  constructor(options: StreamConsumerOptions) {
    this.options = options
    for (const s of options.streams) this.inFlight.set(s, new Set())
  }

  get claimIdleMs(): number { return this.options.claimIdleMs ?? TRANSFER_DEFAULTS.distributed.claimIdleMs }

  async init(): Promise<void> {
    for (const s of this.options.streams) await ensureGroup(this.options.redis, s, this.options.group)
  }

  /** Up to `max` entries: reclaimed ones first, then by stream priority; blocks briefly when idle. */
  async take(max: number): Promise<Array<StreamEntry<T>>> {
    const { redis, blocking, group, consumer, streams, log } = this.options
    await this.#heartbeat()
    const out: Array<StreamEntry<T>> = []
    if (Date.now() - this.#lastClaim > Math.min(2000, this.claimIdleMs / 2)) {
      this.#lastClaim = Date.now()
      for (const s of streams) {
        if (out.length >= max) break
        const res = await redis.xautoclaim(s, group, consumer, this.claimIdleMs, '0-0', 'COUNT', max - out.length) as [string, RawEntries, string[]?]
        const got = parseEntries<T>(s, res[1], true, log)
        if (got.length) log.info({ stream: s, count: got.length }, 'reclaimed entries from a stalled consumer')
        out.push(...got)
      }
    }
    if (out.length < max) {
      // Every stream in priority order in one non-blocking round trip; only when there was nothing at all, block on
      // the lowest-priority stream (an entry arriving meanwhile on another is read at the next turn, blockMs later).
      let res: StreamEntries | null = null
      try {
        res = await takeEntries(redis, { streams, group, consumer, count: max - out.length })
      } catch (err) {
        if (!/NOGROUP/.test((err as Error).message)) throw err
        for (const s of streams) await ensureGroup(redis, s, group)
      }
      for (const [s, entries] of res ?? []) out.push(...parseEntries<T>(s, entries, false, log))
      if (out.length === 0) {
        const s = streams[streams.length - 1] as string
        try {
          res = await (blocking.xreadgroup as (...a: unknown[]) => Promise<StreamEntries | null>)('GROUP', group, consumer, 'COUNT', max, 'BLOCK', this.options.blockMs ?? TRANSFER_DEFAULTS.distributed.queueBlockMs, 'STREAMS', s, '>')
          for (const [, entries] of res ?? []) out.push(...parseEntries<T>(s, entries, false, log))
        } catch (err) {
          if (!/NOGROUP/.test((err as Error).message)) throw err
          await ensureGroup(redis, s, group)
        }
      }
    }
    for (const e of out) this.inFlight.get(e.stream)?.add(e.id)
    return out
  }

  /** Forget an entry locally once settled (or abandoned to be reclaimed). */
  release(entry: StreamEntry<T>): void {
    this.inFlight.get(entry.stream)?.delete(entry.id)
  }

  /** Resets idle time of everything we hold so nobody reclaims it from a live worker. */
  async #heartbeat(force = false): Promise<void> {
    if (!force && Date.now() - this.#lastBeat < this.claimIdleMs / 3) return
    this.#lastBeat = Date.now()
    for (const [s, ids] of this.inFlight) {
      if (ids.size === 0) continue
      await this.options.redis.xclaim(s, this.options.group, this.options.consumer, 0, ...ids, 'JUSTID')
    }
  }

  /** Heartbeat loop for long handlers: call it while waiting so entries stay ours. */
  async keepAlive(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      try { await this.#heartbeat(true) } catch (err) { this.options.log.warn({ err }, 'heartbeat failed') }
      try { await delay(this.claimIdleMs / 3, signal) } catch { return }
    }
  }
}

/** Acks and deletes an entry (roles with richer settle scripts do it inside them). */
export async function ackEntry(redis: ScriptedRedis, stream: string, group: string, id: string): Promise<void> {
  await redis.multi().xack(stream, group, id).xdel(stream, id).exec()
}
