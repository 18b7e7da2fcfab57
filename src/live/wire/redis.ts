// What the Redis transport keeps in Redis and sends through it. Nodes of different versions may share one
// Redis during a rolling upgrade, so these names and shapes are a compatibility contract: change them only
// together with a migration.
//
// Keys (`p` is the prefix, LIVE_DEFAULTS.redis.prefix unless configured):
//
// | key / channel             | type    | holds                                                                      |
// |---------------------------|---------|----------------------------------------------------------------------------|
// | p t:<topic>:seq           | string  | the last id given in the topic (INCR)                                      |
// | p t:<topic>:hist          | list    | the topic's recent events, oldest first, each a RedisEvent as JSON         |
// | p t:<topic>:histbytes     | string  | the summed lengths of the hist entries (bounds the list by bytes)          |
// | p t:<topic>:nodes         | zset    | node id → routing expiry (ms since epoch); nodes that receive the topic    |
// | p t:<topic>:viewers       | hash    | node id → that node's viewer count of the topic                            |
// | p seen:<origin>           | string  | '1' while an origin id is remembered (drops events a peer DC sends twice)  |
// | p n:<nodeId> (channel)    | pub/sub | one message per publish batch: a JSON array of the RedisEvents for a node  |
//
// Every key of a topic expires when the topic is idle (LIVE_DEFAULTS.redis.historyTtlMs; routing entries
// after three node TTLs), so nothing in Redis outlives its use.
import type { LiveEvent } from '../types.ts'

/**
 * One event as stored in history and sent on a node channel: `{"topic","id","type","data","ts","origin"?}`,
 * written by lua/publish.lua (cjson). `data` is the event's JSON text, carried as a JSON string.
 */
export type RedisEvent = LiveEvent

/** The keys of one topic. */
export type TopicKeys = { seq: string; history: string; historyBytes: string; nodes: string; viewers: string }

export function topicKeys(prefix: string, topic: string): TopicKeys {
  const k = (kind: string): string => `${prefix}t:${topic}:${kind}`
  return { seq: k('seq'), history: k('hist'), historyBytes: k('histbytes'), nodes: k('nodes'), viewers: k('viewers') }
}

/** Prefix of the origin-id keys; the script appends the origin. */
export function seenKeyPrefix(prefix: string): string {
  return `${prefix}seen:`
}

/** Prefix of the node channels; the script appends the node id. */
export function nodeChannelPrefix(prefix: string): string {
  return `${prefix}n:`
}

/** The channel a node receives its topics' events on. */
export function nodeChannel(prefix: string, nodeId: string): string {
  return `${nodeChannelPrefix(prefix)}${nodeId}`
}

/** One history entry (or one element of a channel message). */
export function decodeRedisEvent(text: string): RedisEvent {
  return JSON.parse(text) as RedisEvent
}

/** A channel message; undefined when it is not a JSON array (a message from elsewhere is dropped, never thrown). */
export function decodeChannelMessage(payload: string): RedisEvent[] | undefined {
  try {
    const events: unknown = JSON.parse(payload)
    return Array.isArray(events) ? events as RedisEvent[] : undefined
  } catch { return undefined }
}
