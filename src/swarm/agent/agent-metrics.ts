// The agent's Prometheus metrics: download states and bytes (read from the live downloads at each scrape), bans,
// finished downloads, and what the native engine reports about the peers it closes.
import { createMetricsRegistry, Counter, Gauge, type Registry } from '../../shared/metrics.ts'
import type { PeerEvents } from '../engines/native/peer-limits.ts'
import type { Download, DownloadInfo } from './download.ts'

export type AgentMetrics = {
  registry: Registry
  /** A peer was banned for bad data. */
  banned: () => void
  /** A download reached a final state. */
  finished: (result: 'ok' | 'failed') => void
  /** A follower went back to the origin (no peer served it within the deadline). */
  backToSource: (reason: string) => void
  /** Bytes back-to-source fetches took from the origin. */
  backToSourceBytes: (n: number) => void
  /** The engine's report of peers it refused or closed. */
  peerEvents: PeerEvents
}

export function createAgentMetrics(downloads: ReadonlyMap<string, Download>): AgentMetrics {
  const registry = createMetricsRegistry()
  const protocolErrors = new Counter({ name: 'colony_swarm_peer_protocol_errors_total', help: 'peer connections closed for breaking the BitTorrent protocol (native engine)', labelNames: ['reason'], registers: [registry] })
  const peerDrops = new Counter({ name: 'colony_swarm_peer_dropped_total', help: 'peer connections refused or closed by the per-peer limits (native engine)', labelNames: ['reason'], registers: [registry] })
  const bans = new Counter({ name: 'colony_swarm_banned_peers_total', help: 'peers banned for sending data that failed verification', registers: [registry] })
  const finished = new Counter({ name: 'colony_swarm_downloads_finished_total', help: 'downloads that reached a final state', labelNames: ['result'], registers: [registry] })
  const b2s = new Counter({ name: 'colony_swarm_back_to_source_total', help: 'downloads that went back to the origin because no peer served them in time', labelNames: ['reason'], registers: [registry] })
  const b2sBytes = new Counter({ name: 'colony_swarm_back_to_source_bytes_total', help: 'bytes back-to-source fetches took from the origin', registers: [registry] })
  const sum = (f: (d: DownloadInfo) => number): number => [...downloads.values()].reduce((n, d) => n + f(d.info()), 0)
  new Gauge({ name: 'colony_swarm_origin_bytes', help: 'bytes fetched from origins by live downloads', registers: [registry], collect() { this.set(sum((d) => d.bytes.fromOrigin)) } })
  new Gauge({ name: 'colony_swarm_peer_bytes', help: 'bytes received from peers by live downloads', registers: [registry], collect() { this.set(sum((d) => d.bytes.fromPeers)) } })
  new Gauge({ name: 'colony_swarm_uploaded_bytes', help: 'bytes uploaded to peers by live downloads', registers: [registry], collect() { this.set(sum((d) => d.bytes.uploaded)) } })
  new Gauge({
    name: 'colony_swarm_downloads', help: 'downloads by state', labelNames: ['state'], registers: [registry],
    collect() {
      this.reset()
      for (const d of downloads.values()) this.inc({ state: d.state })
    },
  })
  return {
    registry,
    banned: () => bans.inc(),
    finished: (result) => finished.inc({ result }),
    backToSource: (reason) => b2s.inc({ reason }),
    backToSourceBytes: (n) => b2sBytes.inc(n),
    peerEvents: { protocolError: (reason) => protocolErrors.inc({ reason }), dropped: (reason) => peerDrops.inc({ reason }) },
  }
}
