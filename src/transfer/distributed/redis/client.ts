// ioredis set up to ride out a Redis restart: commands queue while disconnected
// (maxRetriesPerRequest: null) and the client reconnects forever with a capped backoff.
import { Redis, type RedisOptions } from 'ioredis'
import { defineScripts, type ScriptedRedis } from './scripts.ts'

export type CreateRedisOptions = {
  /** Connection name shown in CLIENT LIST. @defaultValue 'colony-transfer' */
  name?: string
  /** Extra ioredis options (tests). @defaultValue {} */
  extra?: RedisOptions
}

export function createRedis(url: string, options: CreateRedisOptions = {}): ScriptedRedis {
  const redis = new Redis(url, {
    connectionName: options.name ?? 'colony-transfer',
    maxRetriesPerRequest: null,
    enableOfflineQueue: true,
    retryStrategy: (times) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
    reconnectOnError: (err) => /READONLY|LOADING/.test(err.message) ? 2 : false,
    ...options.extra,
  })
  // ioredis emits 'error' on every failed reconnect; without a listener Node would crash the worker.
  redis.on('error', () => {})
  return defineScripts(redis)
}

/** A duplicate connection for blocking reads (XREADGROUP BLOCK holds its connection). */
export function duplicateRedis(redis: ScriptedRedis, name: string): ScriptedRedis {
  const dup = redis.duplicate({ connectionName: name })
  dup.on('error', () => {})
  return defineScripts(dup)
}

/** Closes without waiting on a dead server. */
export async function closeRedis(redis: Redis): Promise<void> {
  try {
    await Promise.race([redis.quit(), new Promise((r) => setTimeout(r, 1000))])
  } catch { /* already gone */ }
  redis.disconnect()
}
