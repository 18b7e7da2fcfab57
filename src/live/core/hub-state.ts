// The frontend hub's options, its counters, and the state it keeps per topic and per viewer connection.
import type { TopicHistory } from './topic-history.ts'
import type { LiveEvent } from '../types.ts'
import type { ViewerSocket } from './viewer-socket.ts'

export type SlowConsumerPolicy = 'resync' | 'disconnect'

/** Options of the frontend hub. */
export type HubOptions = {
  /** Events kept per watched topic for fast local Last-Event-ID replay. @defaultValue LIVE_DEFAULTS.hub.historySize */
  historySize?: number
  /** Bytes of events kept per topic (here, in the dispatcher and in Redis); the newest event is kept even alone over it. @defaultValue LIVE_DEFAULTS.hub.historyBytes */
  historyBytes?: number
  /**
   * Longest a topic's events are held so that several share one write per connection (a write costs ~10 µs of
   * CPU whatever its size). Adaptive: a topic is held only while its events arrive closer together than this
   * (so the hold merges them) and often enough across its viewers to matter (≥ 100 writes/s saved); otherwise
   * its events are written at the end of the event-loop turn they arrived in. A hold ends early when the next
   * event is not expected before it would end. @defaultValue LIVE_DEFAULTS.hub.batchWindowMs */
  batchWindowMs?: number
  /** A comment is written to a connection idle this long. @defaultValue LIVE_DEFAULTS.hub.heartbeatMs */
  heartbeatMs?: number
  /** `retry:` sent on connect (client reconnection delay). @defaultValue LIVE_DEFAULTS.hub.retryMs */
  retryMs?: number
  /** Unsent bytes a connection may hold before it counts as a slow consumer. @defaultValue LIVE_DEFAULTS.hub.maxBufferBytes */
  maxBufferBytes?: number
  /** What happens to a slow consumer. @defaultValue LIVE_DEFAULTS.hub.slowConsumer */
  slowConsumer?: SlowConsumerPolicy
  /** A lagging connection that has not drained after this long is closed. @defaultValue LIVE_DEFAULTS.hub.slowTimeoutMs */
  slowTimeoutMs?: number
  /** Event type → aggregation window in ms (`like` → 250). @defaultValue LIVE_DEFAULTS.hub.coalesce (like → 250) */
  coalesce?: ReadonlyMap<string, number>
  /** A topic without viewers is unwatched after this long (absorbs reconnect churn). @defaultValue LIVE_DEFAULTS.hub.idleTopicMs */
  idleTopicMs?: number
}

/** One viewer. Kept small on purpose: 100k of these live in a few worker processes. */
export type Conn = {
  socket: ViewerSocket
  topic: TopicState
  lastId: number
  lastWrite: number
  /** 0 = healthy; otherwise when it started lagging (resync pending on drain). */
  lagSince: number
  /**
   * Events up to this id reached the connection with its replay (or predate it), so queued copies of them are
   * not written again — a pub/sub copy may arrive after the shared history was read. 0 once past it.
   */
  skipTo: number
  onClose: (() => void) | undefined
}

type Accumulator = { count: number }

export type TopicState = {
  name: string
  conns: Set<Conn>
  history: TopicHistory
  queue: Buffer[]
  /** The id each queued frame carries (a coalesced frame: the last id it covers). */
  queueIds: number[]
  frames: number
  /** When the queued frames are written (ms, performance.now()); 0 = nothing scheduled. */
  due: number
  /** Moving average of the time between arrivals of plain events (ms); 0 = unknown. */
  gap: number
  lastArrival: number
  /** The ingest call that last touched this topic (arrivals are counted once per call, not per event). */
  turn: number
  acc: Map<string, Accumulator> | undefined
  watched: Promise<void> | undefined
  emptySince: number
  /** Subscribes still awaiting routing/replay: the topic must not be swept from under them. */
  attaching: number
  /** Events held back, in arrival order, while a gap in ids is filled from the shared history. */
  held: LiveEvent[] | undefined
}

export type HubStats = {
  connections: number
  /** Events that arrived from the dispatcher for topics with local viewers. */
  received: number
  topics: number
  deliveries: number
  frames: number
  writes: number
  slowResyncs: number
  slowDisconnects: number
  resets: number
  gaps: number
}
