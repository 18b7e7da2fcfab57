// Every default of the live subsystem in one place: the library options fall back to these, and
// `colony live serve --help` prints them. Durations are milliseconds, sizes bytes, rates per second.
import type { HubOptions } from './core/hub-state.ts'
import type { SequencerOptions } from './core/sequencer.ts'
import type { LiveServerOptions } from './http/live-server.ts'
import type { PeerForwarderOptions } from './transports/peer-forwarder.ts'
import type { RedisTransportOptions } from './transports/redis/redis-transport.ts'

/** What each group must cover: the option types it is the default of, so a renamed option fails to compile. */
type LiveDefaults = {
  server: Required<Pick<LiveServerOptions, 'host' | 'port' | 'reusePort' | 'role' | 'maxBodyBytes' | 'maxBatch' | 'maxHeaderBytes'>> & {
    corsOrigins: readonly string[]; peerBatchShare: number; tokenRequestMaxBytes: number; maxHeadersCount: number; closeGraceMs: number
  }
  limits: Required<Pick<LiveServerOptions, 'maxConnectionsPerIp' | 'maxPendingPerIp' | 'connectionRate' | 'publishRate' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'keepAliveMs' | 'viewerRate' | 'viewerMaxTtlMs'>>
  hub: Required<Omit<HubOptions, 'coalesce'>> & { coalesce: readonly (readonly [string, number])[]; drainSpreadMs: number }
  sequencer: Required<Pick<SequencerOptions, 'dedupeTtlMs' | 'maxIdleTopics'>>
  redis: Required<Pick<RedisTransportOptions, 'prefix' | 'nodeTtlMs' | 'historySize' | 'historyTtlMs'>>
  peers: Required<Pick<PeerForwarderOptions, 'maxQueued' | 'maxQueuedBytes' | 'batchSize' | 'maxBatchBytes' | 'timeoutMs'>> & {
    retryBaseMs: number; retryMaxMs: number; retryAfterCapMs: number
  }
  cluster: {
    capacity: number; maxWorkers: number; semiSpaceMb: number; graceMs: number; killAfterGraceMs: number
    restartBaseMs: number; restartMaxMs: number; requestTimeoutMs: number; metricsTimeoutMs: number; metricsFallbackMs: number
  }
  client: { reconnectMs: number }
  cli: { port: number; nodeUrl: string; tokenTtlMs: number; tokenTypes: readonly string[]; pageTopic: string; pageTokenTtlMs: number }
}

export const LIVE_DEFAULTS = {
  /** One node's HTTP face (startLiveServer, `colony live serve`). */
  server: {
    /** Address to bind. */
    host: '127.0.0.1',
    /** 0 picks a free port (the CLI listens on cli.port). */
    port: 0,
    /** SO_REUSEPORT, so sibling processes share the port. */
    reusePort: false,
    /** Viewer streams and publishes on the same node. */
    role: 'both',
    /** Allowed CORS origins; '*' allows any. */
    corsOrigins: ['*'],
    /** Largest publish body (256 KiB). */
    maxBodyBytes: 262_144,
    /** Share of maxBodyBytes one forwarded POST to a peer DC may fill. */
    peerBatchShare: 0.75,
    /** Events in one publish request. */
    maxBatch: 1000,
    /** Largest request head (request line + headers); larger ones are answered 431. */
    maxHeaderBytes: 8_192,
    /** Headers one request may carry. */
    maxHeadersCount: 50,
    /** Largest body of a POST /v1/tokens request. */
    tokenRequestMaxBytes: 4_096,
    /** Time viewers get to leave on close() before their sockets are destroyed. */
    closeGraceMs: 2_000,
  },
  /** Per-client limits and absolute deadlines of a node (each has a `colony live serve` flag). */
  limits: {
    /** Open SSE streams per client address, per process; 0 = unlimited. */
    maxConnectionsPerIp: 1000,
    /** Connections per client address that are not streams (head, body or idle keep-alive), per process. */
    maxPendingPerIp: 256,
    /** New SSE connections per second per process; 0 = unlimited. */
    connectionRate: 0,
    /** Published events per second per client address, per process (burst: one second's worth). */
    publishRate: 1000,
    /** A request head must be complete this long after the connection opened (or its first byte). */
    headersTimeoutMs: 10_000,
    /** A request body must be complete this long after its head. */
    bodyTimeoutMs: 15_000,
    /** Idle time allowed between requests on a kept-alive connection. */
    keepAliveMs: 5_000,
    /** Events per second one viewer token may publish (burst: twice that); 0 = unlimited. */
    viewerRate: 5,
    /** Longest lifetime a viewer token may be issued or accepted with (24 h). */
    viewerMaxTtlMs: 86_400_000,
  },
  /** The frontend hub: batching, heartbeats, slow consumers, coalescing, local history. */
  hub: {
    /** Events kept per watched topic (here and in the embedded dispatcher) for Last-Event-ID replay. */
    historySize: 500,
    /** Bytes of events kept per topic (1 MiB); the newest event is kept even alone over it. */
    historyBytes: 1_048_576,
    /** Longest a busy topic's events are held so several share one write per viewer. */
    batchWindowMs: 60,
    /** A comment is written to a connection idle this long. */
    heartbeatMs: 15_000,
    /** `retry:` sent on connect (client reconnection delay). */
    retryMs: 2_000,
    /** Unsent bytes a connection may hold before it is a slow consumer (256 KiB). */
    maxBufferBytes: 262_144,
    /** A slow consumer is skipped and resynced from history when it drains. */
    slowConsumer: 'resync',
    /** A lagging connection that has not drained after this long is closed. */
    slowTimeoutMs: 30_000,
    /** Event types aggregated per window, [type, windowMs]: likes every 250 ms. */
    coalesce: [['like', 250]],
    /** A topic without viewers is unwatched after this long (absorbs reconnect churn). */
    idleTopicMs: 5_000,
    /** On drain, viewers' reconnect delays are spread over this long. */
    drainSpreadMs: 2_000,
  },
  /** The embedded dispatcher (one process, or the cluster primary). */
  sequencer: {
    /** How long an origin id is remembered to drop a duplicate forwarded from a peer DC (10 min). */
    dedupeTtlMs: 600_000,
    /** Topics remembered without watchers before the oldest are forgotten. */
    maxIdleTopics: 10_000,
  },
  /** The Redis dispatcher (`--redis`); its dedupe window is sequencer.dedupeTtlMs, its history bytes hub.historyBytes. */
  redis: {
    /** Key and channel prefix; lets several services share one Redis. */
    prefix: 'colony:live:',
    /** A node that stops refreshing drops out of routing after this long. */
    nodeTtlMs: 10_000,
    /** Events kept per topic in Redis when the hub's history size is not passed. */
    historySize: 1000,
    /** Idle topic history (and sequence) expire after this long (24 h). */
    historyTtlMs: 86_400_000,
  },
  /** Forwarding to peer DCs (`--peer-dc`). */
  peers: {
    /** Events waiting for one peer beyond this are dropped oldest-first (and counted). */
    maxQueued: 100_000,
    /** Bytes waiting for one peer beyond this are dropped oldest-first (64 MiB). */
    maxQueuedBytes: 67_108_864,
    /** Events per forwarded POST. */
    batchSize: 500,
    /** Body bytes per forwarded POST when startLiveServer does not size it from its body limit. */
    maxBatchBytes: 196_608,
    /** One forwarded POST may take this long before it is retried. */
    timeoutMs: 5_000,
    /** First retry delay of a failed forward (doubling, jittered). */
    retryBaseMs: 200,
    /** Longest retry delay of a failed forward. */
    retryMaxMs: 10_000,
    /** Longest Retry-After of a peer that is honoured. */
    retryAfterCapMs: 30_000,
  },
  /** `colony live serve`'s processes: the cluster primary and its workers. */
  cluster: {
    /** Connections to plan for; sizes the default worker count. */
    capacity: 100_000,
    /** Most worker processes. */
    maxWorkers: 256,
    /** V8 young-generation semi-space per worker, MB (0 = V8's default). */
    semiSpaceMb: 4,
    /** Drain time on shutdown. */
    graceMs: 2_000,
    /** Workers still running this long after their drain time are killed. */
    killAfterGraceMs: 5_000,
    /** First delay before a dead worker is replaced (doubling, jittered, per restart). */
    restartBaseMs: 200,
    /** Longest delay before a dead worker is replaced. */
    restartMaxMs: 10_000,
    /** A worker's request to the primary (watch, replay, publish) fails after this long. */
    requestTimeoutMs: 10_000,
    /** The primary answers a /metrics round with what arrived within this long. */
    metricsTimeoutMs: 2_000,
    /** Without the primary's answer in this long, a worker serves its own series. */
    metricsFallbackMs: 3_000,
  },
  /** subscribeLive / publishLive. */
  client: {
    /** Reconnect delay when the server sent no `retry:`. */
    reconnectMs: 1_000,
  },
  /** The `colony live` commands. */
  cli: {
    /** Port `colony live serve` listens on. */
    port: 8080,
    /** Node `colony live publish` / `subscribe` talk to. */
    nodeUrl: 'http://127.0.0.1:8080',
    /** Lifetime of a token from `colony live token` (1 h). */
    tokenTtlMs: 3_600_000,
    /** Event types of a token from `colony live token`. */
    tokenTypes: ['like', 'comment'],
    /** Topic of the page link `colony live serve` prints. */
    pageTopic: 'demo',
    /** Lifetime of the viewer token in that link (1 h). */
    pageTokenTtlMs: 3_600_000,
  },
} as const satisfies LiveDefaults

/**
 * The fields of `defaults`, each taken from `options` when set there (not undefined or null). Only the keys of
 * `defaults` are read, so a wider options object (a whole LiveServerOptions) gives just the group asked for.
 */
export function withDefaults<T extends object>(defaults: T, options: Partial<T>): T {
  const out: Record<string, unknown> = { ...(defaults as Record<string, unknown>) }
  const given = options as Record<string, unknown>
  for (const key of Object.keys(out)) {
    const value = given[key]
    if (value !== undefined && value !== null) out[key] = value
  }
  return out as T
}
