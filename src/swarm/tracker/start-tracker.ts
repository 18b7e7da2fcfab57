// A BitTorrent tracker (HTTP + UDP announce/scrape) with colony's /healthz and /metrics on the HTTP port.
import dgram from 'node:dgram'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import net from 'node:net'
import TrackerServer, { type AnnounceParams } from 'bittorrent-tracker/server'
import { ColonyError } from '../../shared/errors.ts'
import { handleOpsRequest, listen, sendJson } from '../../shared/http-ops.ts'
import { createSilentLogger, type Logger } from '../../shared/logger.ts'
import { Counter, Gauge, createMetricsRegistry, type Registry } from '../../shared/metrics.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { useLeechersForSeeders } from './peer-selection.ts'

export type TrackerOptions = {
  /** Address both the HTTP and the UDP tracker bind to. @defaultValue SWARM_DEFAULTS.tracker.host ('127.0.0.1') */
  host?: string
  /** HTTP port (announce, scrape, /healthz, /metrics); 0 picks a free one. @defaultValue SWARM_DEFAULTS.tracker.port (0) */
  port?: number
  /** UDP port; `undefined` tries the HTTP port's number and falls back to a free one, `false` turns UDP off. @defaultValue undefined */
  udpPort?: number | false
  /** Re-announce interval told to clients, ms. Short, because a datacenter swarm lives minutes, not days. @defaultValue SWARM_DEFAULTS.tracker.intervalMs (30 s) */
  intervalMs?: number
  /** Pino logger. @defaultValue a silent logger */
  logger?: Logger
  /** Registry for /metrics. @defaultValue a fresh registry with process metrics */
  registry?: Registry
}

export type TrackerStats = {
  torrents: number
  seeders: number
  leechers: number
  announces: number
}

export type Tracker = {
  /** http://host:port — base of /healthz and /metrics. */
  url: string
  /** http://host:port/announce */
  httpAnnounceUrl: string
  /** udp://host:port, or undefined when UDP is off. */
  udpAnnounceUrl: string | undefined
  /** Every announce URL this tracker answers, for a torrent's announce-list. */
  announceUrls: string[]
  port: number
  udpPort: number | undefined
  registry: Registry
  stats: () => TrackerStats
  /** Stops both listeners and drops open connections; safe to call twice. */
  close: () => Promise<void>
}

const EVENTS = ['start', 'update', 'complete', 'stop', 'paused'] as const

function collectStats(server: TrackerServer, announces: number): TrackerStats {
  let torrents = 0
  let seeders = 0
  let leechers = 0
  for (const swarm of Object.values(server.torrents)) {
    if (!swarm) continue
    torrents++
    seeders += swarm.complete
    leechers += swarm.incomplete
  }
  return { torrents, seeders, leechers, announces }
}

function formatHost(host: string): string {
  return net.isIPv6(host) ? `[${host}]` : host
}

async function bindUdp(host: string, port: number, onMessage: (msg: Buffer, rinfo: dgram.RemoteInfo) => void): Promise<dgram.Socket> {
  const socket = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' })
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject)
    socket.bind(port, host, () => { socket.off('error', reject); resolve() })
  })
  socket.on('message', onMessage)
  return socket
}

/**
 * Starts a tracker. bittorrent-tracker's Server does the protocol; colony owns the sockets so that the
 * ops routes share the HTTP port with announce/scrape (no race with the library's own request handler)
 * and UDP binds exactly the host asked for (the library always opens a udp6 socket too).
 */
export async function startTracker(options: TrackerOptions = {}): Promise<Tracker> {
  const host = options.host ?? SWARM_DEFAULTS.tracker.host
  const logger = options.logger ?? createSilentLogger()
  const intervalMs = options.intervalMs ?? SWARM_DEFAULTS.tracker.intervalMs
  const server = new TrackerServer({
    interval: intervalMs, http: false, udp: false, ws: false, stats: false, trustProxy: false,
    // A peer that misses three announces is gone; the library's 20 min default would hand out dead peers.
    peersCacheTtl: Math.max(3 * intervalMs, 60_000),
  })
  useLeechersForSeeders(server)
  const registry = options.registry ?? createMetricsRegistry()
  let announces = 0

  const announceCounter = new Counter({
    name: 'colony_swarm_tracker_announces_total', help: 'Announces answered, by event and transport',
    labelNames: ['event', 'transport'] as const, registers: [registry],
  })
  const warnings = new Counter({ name: 'colony_swarm_tracker_rejected_total', help: 'Malformed or refused tracker requests', registers: [registry] })
  new Gauge({
    name: 'colony_swarm_tracker_torrents', help: 'Swarms (info hashes) the tracker knows', registers: [registry],
    collect() { this.set(collectStats(server, announces).torrents) },
  })
  new Gauge({
    name: 'colony_swarm_tracker_peers', help: 'Peers in all swarms, by state', labelNames: ['state'] as const, registers: [registry],
    collect() {
      const s = collectStats(server, announces)
      this.set({ state: 'seeder' }, s.seeders)
      this.set({ state: 'leecher' }, s.leechers)
    },
  })

  for (const event of EVENTS) {
    server.on(event, (_addr: string, params: AnnounceParams | undefined) => {
      announces++
      announceCounter.inc({ event, transport: params?.type ?? 'unknown' })
      logger.debug({ event, transport: params?.type, infoHash: params?.info_hash, left: params?.left }, 'announce')
    })
  }
  server.on('warning', (err: Error) => {
    warnings.inc()
    logger.debug({ err: err.message }, 'tracker request rejected')
  })
  server.on('error', (err: Error) => { logger.error({ err: err.message }, 'tracker error') })

  const health = (): Record<string, unknown> => ({ ...collectStats(server, announces) })
  const http = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      try {
        if (await handleOpsRequest(req, res, { registry, health })) return
        const path = (req.url ?? '/').split('?')[0]
        if (req.method === 'GET' && (path === '/announce' || path === '/scrape')) { server.onHttpRequest(req, res); return }
        sendJson(res, 404, { error: { code: 'SWARM_TRACKER_NOT_FOUND', message: 'the tracker answers /announce, /scrape, /healthz and /metrics' } })
      } catch (err) {
        logger.warn({ err: (err as Error).message }, 'tracker http request failed')
        if (!res.headersSent) sendJson(res, 500, { error: { code: 'COLONY_INTERNAL', message: 'internal error' } })
        else res.destroy()
      }
    })()
  })
  http.keepAliveTimeout = 5_000

  const wantedPort = options.port ?? SWARM_DEFAULTS.tracker.port
  let url: string
  try {
    url = await listen(http, { host, port: wantedPort })
  } catch (err) {
    server.close()
    throw new ColonyError('SWARM_TRACKER_LISTEN', `tracker cannot listen on ${formatHost(host)}:${wantedPort}: ${(err as Error).message}`, { cause: err, details: { host, port: options.port } })
  }
  const port = Number(new URL(url).port)

  let udp: dgram.Socket | undefined
  if (options.udpPort !== false) {
    const onMessage = (msg: Buffer, rinfo: dgram.RemoteInfo): void => { server.onUdpRequest(msg, rinfo) }
    const wanted = options.udpPort ?? port
    try {
      udp = await bindUdp(host, wanted, onMessage)
    } catch (err) {
      if (options.udpPort !== undefined) {
        http.closeAllConnections()
        await new Promise<void>((r) => http.close(() => r()))
        server.close()
        throw new ColonyError('SWARM_TRACKER_LISTEN', `tracker cannot bind UDP ${formatHost(host)}:${wanted}: ${(err as Error).message}`, { cause: err, details: { host, udpPort: wanted } })
      }
      udp = await bindUdp(host, 0, onMessage)
    }
    udp.on('error', (err) => { logger.warn({ err: err.message }, 'tracker udp socket error') })
    // The library answers UDP through these fields (udp4 or udp6 by the sender's family).
    if (net.isIPv6(host)) server.udp6 = udp
    else server.udp4 = udp
  }
  const udpPort = udp?.address().port
  const httpAnnounceUrl = `${url}/announce`
  const udpAnnounceUrl = udpPort === undefined ? undefined : `udp://${formatHost(host)}:${udpPort}`
  logger.info({ http: httpAnnounceUrl, udp: udpAnnounceUrl, intervalMs }, 'tracker listening')

  let closing: Promise<void> | undefined
  const close = (): Promise<void> => {
    closing ??= (async () => {
      http.closeAllConnections()
      await new Promise<void>((r) => http.close(() => r()))
      // server.close() closes the UDP socket we handed it.
      await new Promise<void>((r) => server.close(() => r()))
      logger.info({ http: httpAnnounceUrl }, 'tracker closed')
    })()
    return closing
  }

  return {
    url, httpAnnounceUrl, udpAnnounceUrl,
    announceUrls: udpAnnounceUrl ? [httpAnnounceUrl, udpAnnounceUrl] : [httpAnnounceUrl],
    port, udpPort, registry,
    stats: () => collectStats(server, announces),
    close,
  }
}
