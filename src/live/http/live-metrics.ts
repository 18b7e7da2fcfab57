import { Counter, Gauge, createMetricsRegistry, type Registry } from '../../shared/metrics.ts'
import type { ConnectionGuard } from './connection-guard.ts'
import type { HubStats } from '../core/hub-state.ts'
import type { PeerForwarder, PeerForwarderStats } from '../transports/peer-forwarder.ts'

/** Counters the server bumps directly (rare events); hot-path numbers are read from HubStats at scrape time. */
export type LiveMetrics = {
  registry: Registry
  published: Counter
  refused: Counter<'code'>
}

/** Hot-path counters live as plain numbers in the hub; a scrape turns them into Prometheus series. */
export function createLiveMetrics(stats: HubStats, forwarders: () => readonly PeerForwarder[], guard: ConnectionGuard, registry = createMetricsRegistry()): LiveMetrics {
  const gauge = (name: string, help: string, read: () => number): void => {
    new Gauge({ name, help, registers: [registry], collect() { this.set(read()) } })
  }
  const monotonic = (name: string, help: string, read: () => number): void => {
    let seen = 0
    new Counter({ name, help, registers: [registry], collect() { const v = read(); if (v > seen) { this.inc(v - seen); seen = v } } })
  }
  gauge('colony_live_connections', 'Open SSE connections on this process', () => stats.connections)
  gauge('colony_live_topics', 'Topics with viewers (or in their idle grace) on this process', () => stats.topics)
  monotonic('colony_live_received_total', 'Events this process received from the dispatcher (only topics it has viewers of)', () => stats.received)
  monotonic('colony_live_deliveries_total', 'Events written to connections (one event to one viewer = 1)', () => stats.deliveries)
  monotonic('colony_live_writes_total', 'Socket writes (batched chunks)', () => stats.writes)
  monotonic('colony_live_frames_total', 'Distinct frames encoded (each written to all viewers of its topic)', () => stats.frames)
  monotonic('colony_live_slow_resyncs_total', 'Slow consumers skipped and resynced from history', () => stats.slowResyncs)
  monotonic('colony_live_slow_disconnects_total', 'Slow consumers disconnected', () => stats.slowDisconnects)
  monotonic('colony_live_resets_total', 'Reset events sent (gap older than history)', () => stats.resets)
  monotonic('colony_live_gaps_total', 'Id gaps seen from the transport (each filled from the shared history when it still holds the events)', () => stats.gaps)
  const peers = (key: keyof PeerForwarderStats) => (): number => forwarders().reduce((s, f) => s + f.stats[key], 0)
  gauge('colony_live_peer_queued', 'Events waiting to be forwarded to peer DCs', peers('queued'))
  gauge('colony_live_peer_queued_bytes', 'Bytes of events waiting to be forwarded to peer DCs', peers('queuedBytes'))
  monotonic('colony_live_peer_dropped_total', 'Events lost for a peer DC: queue over its bounds, or still queued at shutdown', peers('dropped'))
  monotonic('colony_live_peer_refused_total', 'Events a peer DC refused even alone (over its body limit, or invalid there)', peers('refused'))
  monotonic('colony_live_peer_failures_total', 'Forward POSTs that failed (peer down, timeout, 5xx, 429, 401…) and were retried', peers('failures'))
  monotonic('colony_live_peer_sent_total', 'Events forwarded to peer DCs', peers('sent'))
  gauge('colony_live_pending_connections', 'Connections on this process that are not streams (request head, body or idle keep-alive)', () => guard.pending)
  const closesSeen = { head: 0, body: 0, idle: 0 }
  new Counter({
    name: 'colony_live_deadline_closes_total', help: 'Connections closed by an absolute deadline, by phase (head, body, idle)', labelNames: ['phase'] as const, registers: [registry],
    collect() {
      for (const phase of ['head', 'body', 'idle'] as const) {
        const v = guard.closes[phase]
        if (v > closesSeen[phase]) { this.inc({ phase }, v - closesSeen[phase]); closesSeen[phase] = v }
      }
    },
  })
  return {
    registry,
    published: new Counter({ name: 'colony_live_published_total', help: 'Events accepted for publishing on this process', registers: [registry] }),
    refused: new Counter({ name: 'colony_live_refused_total', help: 'Requests refused, by error code', labelNames: ['code'] as const, registers: [registry] }),
  }
}
