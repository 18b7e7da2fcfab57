// The Redis transport's Lua scripts, read once when this module loads, and a typed call for each: the
// scripts' positional KEYS/ARGV layout lives here and nowhere else.
import { readFileSync } from 'node:fs'
import type { Redis } from 'ioredis'
import type { TopicKeys } from '../../wire/redis.ts'

const PUBLISH_LUA = readFileSync(new URL('./lua/publish.lua', import.meta.url), 'utf8')
const VIEWER_COUNT_LUA = readFileSync(new URL('./lua/viewer-count.lua', import.meta.url), 'utf8')

/** One event to sequence; `origin` set on events forwarded between DCs (the dedupe key). */
export type ScriptEvent = { type: string; data: string; ts: number; origin?: string }

export type PublishScriptInput = {
  keys: TopicKeys
  topic: string
  events: readonly ScriptEvent[]
  /** Routing entries that expire before this (ms since epoch) receive nothing. */
  now: number
  historySize: number
  historyBytes: number
  historyTtlMs: number
  dedupeTtlMs: number
  /** Prefix of the origin-id keys (wire/redis.ts seenKeyPrefix). */
  seenKeyPrefix: string
  /** Prefix of the node channels (wire/redis.ts nodeChannelPrefix). */
  channelPrefix: string
}

export type ViewerCountInput = { keys: TopicKeys; now: number }

/** The scripts bound to one connection. */
export type LiveScripts = {
  /** Sequences, stores and routes `events`; resolves the stored JSON of each accepted one (duplicates left out). */
  publishEvents(input: PublishScriptInput): Promise<string[]>
  /** Viewers of a topic across the nodes still routed; prunes expired routing entries. */
  countViewers(input: ViewerCountInput): Promise<number>
}

type ScriptedRedis = Redis & {
  livePublish(seq: string, history: string, nodes: string, historyBytes: string, ...argv: (string | number)[]): Promise<string[]>
  liveViewerCount(nodes: string, viewers: string, now: number): Promise<number | string>
}

/** Registers the scripts on `redis` (ioredis sends EVALSHA, loading a script on first use). */
export function liveScripts(redis: Redis): LiveScripts {
  redis.defineCommand('livePublish', { numberOfKeys: 4, lua: PUBLISH_LUA })
  redis.defineCommand('liveViewerCount', { numberOfKeys: 2, lua: VIEWER_COUNT_LUA })
  const r = redis as ScriptedRedis
  return {
    publishEvents(i) {
      const argv: (string | number)[] = [i.now, i.historySize, i.historyTtlMs, i.dedupeTtlMs, i.seenKeyPrefix, i.channelPrefix, i.topic, i.events.length, i.historyBytes]
      for (const e of i.events) argv.push(e.type, e.data, e.ts, e.origin ?? '')
      return r.livePublish(i.keys.seq, i.keys.history, i.keys.nodes, i.keys.historyBytes, ...argv)
    },
    async countViewers(i) {
      return Number(await r.liveViewerCount(i.keys.nodes, i.keys.viewers, i.now))
    },
  }
}
