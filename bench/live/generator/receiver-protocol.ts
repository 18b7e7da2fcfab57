// Messages between the benchmark coordinator and its receiver processes (child_process.fork IPC).

/** What one receiver process opens. Connection g (global index) watches topic g % paths.length. */
export type ReceiverConfig = {
  host: string
  port: number
  /** Request path per topic index. */
  paths: string[]
  /** Extra request header lines, each ending in \r\n. */
  headers: string
  /** Global index of this process's first connection. */
  firstIndex: number
  connections: number
  /** Local addresses to bind, used round-robin (127.x.y.z: each gives ~28k ephemeral ports towards one server port). */
  sourceAddresses: string[]
  /** New connections per second for this process. */
  connectRate: number
  /** Connects in flight at most (keeps the server's accept backlog from overflowing). */
  maxPending: number
}

export type ReceiverCounters = {
  /** Connections that got a 200 and are still open. */
  open: number
  /** Connect attempts not yet answered. */
  pending: number
  /** Connects refused, timed out, or answered with a non-200 status. */
  failed: number
  /** Connections that were open and then closed by the peer. */
  dropped: number
  /** Failure reasons → count (errno codes, `http_429`, `closed`). */
  errors: Record<string, number>
  /** SSE events (frames with an id). */
  events: number
  /** Events without a likes count (each stands for one delivery). */
  plain: number
  /** Sum of the likes counts of coalesced frames. */
  likes: number
  /** Body bytes received. */
  bytes: number
  /** Socket reads that carried data. */
  reads: number
}

export type ParentMessage =
  | { type: 'start'; config: ReceiverConfig }
  | { type: 'snapshot'; id: number; resetHistogram: boolean }
  | { type: 'stop' }

export type ChildMessage =
  | { type: 'progress'; counters: ReceiverCounters }
  | { type: 'snapshot'; id: number; counters: ReceiverCounters; histogram: number[]; eventLoopUtilization: number }
  | { type: 'stopped' }
