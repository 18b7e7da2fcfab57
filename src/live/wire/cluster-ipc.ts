// The messages between `colony live serve`'s cluster primary and its workers (node:cluster IPC, JSON).
// Both sides always run the same code, so these names carry no compatibility constraint.
//
// Every message has `live: 1` (other cluster messages are ignored) and a `kind`:
//
// | kind             | direction        | fields                                  | meaning                                                     |
// |------------------|------------------|-----------------------------------------|-------------------------------------------------------------|
// | publish          | worker → primary | requests: PublishRequest[]              | the publishes of one event-loop turn                        |
// | watch            | worker → primary | requestId, topic                        | the worker has viewers of topic; answered once routed       |
// | unwatch          | worker → primary | topic                                   | the worker has no more viewers of topic                     |
// | viewer-counts    | worker → primary | counts: [topic, viewers][]              | the worker's latest viewer counts                           |
// | viewer-count     | worker → primary | requestId, topic                        | asks the service-wide viewer count of topic                 |
// | replay           | worker → primary | requestId, topic, afterId               | asks the history after afterId                              |
// | events           | primary → worker | events: LiveEvent[], published?         | events of watched topics, and answers to `publish` requests |
// | answer           | primary → worker | requestId, ok, value / message          | the answer to watch, viewer-count or replay                 |
// | ready            | worker → primary | port                                    | the worker listens                                          |
// | shutdown         | primary → worker | —                                       | drain and exit                                              |
// | metrics-request  | worker → primary | requestId                               | a scrape landed on this worker: gather every worker         |
// | metrics-collect  | primary → worker | roundId                                 | send your series for this round                             |
// | metrics-part     | worker → primary | roundId, metrics                        | one worker's series (prom-client JSON)                      |
// | metrics-answer   | primary → worker | requestId, text                         | the summed exposition text for the scrape                   |
import type { LiveEvent, PublishInput } from '../types.ts'

/** One publish call of a worker within a `publish` batch. */
export type PublishRequest = { requestId: number; topic: string; inputs: PublishInput[] }

/** The ids the primary gave one PublishRequest's inputs, in order; null for an input dropped as a duplicate. */
export type PublishAnswer = { requestId: number; ids: (number | null)[] }

/** What a worker's transport sends the primary. */
export type TransportRequest =
  | { live: 1; kind: 'publish'; requests: PublishRequest[] }
  | { live: 1; kind: 'watch'; requestId: number; topic: string }
  | { live: 1; kind: 'unwatch'; topic: string }
  | { live: 1; kind: 'viewer-counts'; counts: [string, number][] }
  | { live: 1; kind: 'viewer-count'; requestId: number; topic: string }
  | { live: 1; kind: 'replay'; requestId: number; topic: string; afterId: number }

/** What the primary's relay sends a worker's transport. */
export type TransportReply =
  /** Everything for one worker in one event-loop turn: events of its topics and answers to its publishes. */
  | { live: 1; kind: 'events'; events: LiveEvent[]; published?: PublishAnswer[] }
  | { live: 1; kind: 'answer'; requestId: number; ok: true; value: unknown }
  | { live: 1; kind: 'answer'; requestId: number; ok: false; message: string }

/** Start-up and shutdown between the primary and a worker process. */
export type LifecycleMessage =
  | { live: 1; kind: 'ready'; port: number }
  | { live: 1; kind: 'shutdown' }

/** A service-wide /metrics scrape (the primary sums every worker's series). */
export type MetricsMessage =
  | { live: 1; kind: 'metrics-request'; requestId: number }
  | { live: 1; kind: 'metrics-collect'; roundId: number }
  | { live: 1; kind: 'metrics-part'; roundId: number; metrics: object[] }
  | { live: 1; kind: 'metrics-answer'; requestId: number; text: string }

export type ClusterMessage = TransportRequest | TransportReply | LifecycleMessage | MetricsMessage

/** Whether an IPC message is one of the live subsystem's (its `kind` still has to be checked). */
export function isClusterMessage(m: unknown): m is ClusterMessage {
  return typeof m === 'object' && m !== null && (m as { live?: unknown }).live === 1 && typeof (m as { kind?: unknown }).kind === 'string'
}

/** Narrows an IPC message to the given kinds, or undefined when it is anything else. */
export function clusterMessageOf<K extends ClusterMessage['kind']>(m: unknown, ...kinds: K[]): Extract<ClusterMessage, { kind: K }> | undefined {
  return isClusterMessage(m) && (kinds as string[]).includes(m.kind) ? m as Extract<ClusterMessage, { kind: K }> : undefined
}
