// The loop every consuming role shares: keep up to `slots` entries in flight, reclaim from dead
// consumers, heartbeat what we hold, never throw (Redis down → log, back off, keep going).
import { delay } from '../../../shared/backoff.ts'
import { StreamConsumer, type StreamConsumerOptions, type StreamEntry } from '../redis/stream-queue.ts'
import { TRANSFER_DEFAULTS } from '../../defaults.ts'

/** The stream consumer's connections and names, plus what the loop itself needs. */
export type RoleLoopOptions<T> = Pick<StreamConsumerOptions, 'redis' | 'blocking' | 'streams' | 'group' | 'consumer' | 'log'> & {
  /** Entries handled at once. */
  slots: number
  claimIdleMs: number
  signal: AbortSignal
  /** Settles the entry itself (atomically with its effects); a throw leaves it pending for a reclaim. */
  handle: (entry: StreamEntry<T>, consumer: StreamConsumer<T>) => Promise<void>
  /** Called once per loop turn (timers: watch re-scans, aggregation). @defaultValue none */
  tick?: () => Promise<void>
}

export async function runRoleLoop<T>(options: RoleLoopOptions<T>): Promise<void> {
  const { log, signal } = options
  const consumer = new StreamConsumer<T>({
    redis: options.redis, blocking: options.blocking, streams: options.streams, group: options.group,
    consumer: options.consumer, log, claimIdleMs: options.claimIdleMs, blockMs: TRANSFER_DEFAULTS.distributed.queueBlockMs,
  })
  const running = new Set<Promise<void>>()
  const beat = new AbortController()
  const keepAlive = consumer.keepAlive(beat.signal)
  let initialised = false
  while (!signal.aborted) {
    try {
      if (!initialised) { await consumer.init(); initialised = true }
      if (options.tick) await options.tick()
      const free = options.slots - running.size
      if (free <= 0) { await Promise.race(running); continue }
      const entries = await consumer.take(free)
      for (const entry of entries) {
        const p: Promise<void> = options.handle(entry, consumer)
          .catch((err: unknown) => { log.warn({ err, stream: entry.stream, id: entry.id }, 'job left pending for a retry by any worker') })
          .finally(() => { consumer.release(entry); running.delete(p) })
        running.add(p)
      }
    } catch (err) {
      if (signal.aborted) break
      log.warn({ err: (err as Error).message }, 'queue read failed; retrying')
      try { await delay(500, signal) } catch { break }
    }
  }
  await Promise.allSettled(running)
  beat.abort()
  await keepAlive
}
