// The event model and the one port every dispatcher adapter implements.

/** What a publisher sends: a type (SSE `event:` name) and any JSON value. */
export type PublishInput = {
  type: string
  /** JSON text (already serialised, single line). */
  data: string
  /** Publish time in ms since epoch; stamped by the accepting node when absent. */
  ts?: number
  /** Globally unique id of the event in its home DC; present on events forwarded between DCs (dedupe key). */
  origin?: string
}

/** An event after sequencing: `id` is monotonic and gap-free per topic within one service (one DC). */
export type LiveEvent = {
  topic: string
  id: number
  type: string
  data: string
  ts: number
  origin?: string
}

/** Result of asking history for the events after a client's Last-Event-ID. */
export type ReplayResult =
  | { kind: 'events'; events: LiveEvent[] }
  /** The gap is older than the history (or from another epoch): the client must resync from `latestId`. */
  | { kind: 'reset'; latestId: number }

/**
 * The dispatcher side seen from a frontend node. Embedded (one process), cluster (primary relays between
 * workers) and Redis (any number of nodes) implement it; the frontend hub never knows which one it talks to.
 */
export interface LiveTransport {
  /** Stable id of this node in the routing table. */
  readonly nodeId: string
  /** Starts delivery: `sink` receives, in id order per topic, events of topics this node watches. */
  start(sink: (events: LiveEvent[]) => void): Promise<void>
  /** Sequences, stores in history and routes to every node watching `topic`; returns the accepted events (duplicates by origin omitted). */
  publish(topic: string, inputs: PublishInput[]): Promise<LiveEvent[]>
  /** This node has its first viewer of `topic`; resolves once routing includes it. */
  watch(topic: string): Promise<void>
  /** This node has no more viewers of `topic`. */
  unwatch(topic: string): void
  /** Latest local viewer counts, pushed periodically and on change. */
  reportViewers(counts: ReadonlyMap<string, number>): void
  /** Viewers of `topic` across all live nodes. */
  viewerCount(topic: string): Promise<number>
  /** Events after `afterId` from the shared history. */
  replay(topic: string, afterId: number): Promise<ReplayResult>
  close(): Promise<void>
}
