// The per-host daemon: one BitTorrent engine, the index, the downloads, and the REST API in front of them.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { HostAllowList } from '../../shared/allow-host.ts'
import { listen } from '../../shared/http-ops.ts'
import { createSilentLogger, type Logger } from '../../shared/logger.ts'
import { createMetricsRegistry, Counter, Gauge, type Registry } from '../../shared/metrics.ts'
import { AGENT_API_DEFAULTS, createAgentApi } from '../api/agent-api.ts'
import { Download, type DownloadContext, type DownloadInfo } from './download.ts'
import { startAria2Engine } from '../engines/aria2/engine.ts'
import type { EngineKind, EngineOptions, SwarmEngine } from '../engines/engine.ts'
import { SwarmError } from '../errors.ts'
import { createMemoryIndex } from '../index-store/memory-index.ts'
import { probeOrigin, warmUpOriginClient } from '../origin/origin.ts'
import type { PeerLimits } from '../engines/native/peer-limits.ts'
import type { SwarmIndex } from '../index-store/swarm-index.ts'
import { startNativeEngine } from '../engines/native/engine.ts'

export type AgentOptions = {
  /** Directory for objects, torrents and download records; survives restarts (resume). */
  dataDir: string
  /** Hosts whose URLs may be fetched ("cdn.example.com", "*.example.com", "host:port"). Empty allows nothing. @defaultValue [] */
  allowHosts?: string[]
  /** The index. @defaultValue a private in-memory index (single host) */
  index?: SwarmIndex
  /** Tracker announce URLs, written into torrents this agent creates and added to every torrent it joins. @defaultValue [] */
  trackers?: string[]
  /** API bind address. @defaultValue '127.0.0.1' */
  apiHost?: string
  /** API port; 0 picks a free one. @defaultValue 0 */
  apiPort?: number
  /**
   * Host names the API answers to besides its bind address ("name", "name:port", "*.domain"; "*" = any Host).
   * The bind address itself, `localhost` on a loopback bind, and any IP literal on a wildcard bind always pass.
   * @defaultValue []
   */
  apiAllowedHosts?: string[]
  /** Downloads one client address may have running that it started through the API; 0 = no limit. @defaultValue 32 */
  apiMaxActive?: number
  /** Download starts per second per client address through the API; 0 = no limit. @defaultValue 5 */
  apiStartRate?: number
  /** Download starts one client address may make at once. @defaultValue 20 */
  apiStartBurst?: number
  /**
   * BitTorrent engine: 'native' is colony's own in the agent's process (super-seeding leader, no choking; the
   * fastest in docs/benchmarks/swarm.md, and nothing to install); 'aria2' drives one aria2c child process over
   * JSON-RPC (fails with SWARM_ENGINE_MISSING without aria2c).
   * @defaultValue 'native'
   */
  engine?: EngineKind
  /** BitTorrent TCP listen port; 0 picks a free one. @defaultValue 0 */
  listenPort?: number
  /**
   * Address the BitTorrent listener binds (native engine only): one interface of a cluster host. Peers must be able
   * to reach it. @defaultValue all interfaces
   */
  peerHost?: string
  /** What one remote peer may hold: idle timeout, per-IP cap, encrypted-handshake rate (native engine). @defaultValue PEER_LIMIT_DEFAULTS */
  peerLimits?: Partial<PeerLimits>
  /** Upload cap in bytes/s for all torrents; 0 = none. @defaultValue 0 */
  uploadLimit?: number
  /** Download cap in bytes/s (peers and origin); 0 = none. @defaultValue 0 */
  downloadLimit?: number
  /**
   * Objects larger than this are fetched in segments of this size (rounded up to whole pieces); each segment's
   * torrent is published as soon as it is hashed so peers start before the origin fetch ends. The native engine
   * starts a torrent at once, so smaller segments cut the lag behind the leader until their CPU per torrent
   * catches up (16 MiB beat 32 MiB by ~1 s at 16 agents × 128 MB; 8 MiB lost); aria2 needs 2–3 s per new
   * torrent. @defaultValue 16 MiB with the native engine, 32 MiB with aria2
   */
  segmentSize?: number
  /** How long a finished object keeps seeding. @defaultValue 3_600_000 (1 h) */
  seedTimeMs?: number
  /** Stop seeding earlier once uploaded ≥ ratio × size; 0 = time only. @defaultValue 0 */
  seedRatio?: number
  /** Bearer token required for mutating calls (POST, DELETE, and GET /v1/objects that starts a download). @defaultValue none */
  token?: string
  /** Consecutive origin failures before the leader gives up. @defaultValue 5 */
  originRetries?: number
  /** Origin retry backoff base in ms. @defaultValue 200 */
  backoffBaseMs?: number
  /** Identity in elections and logs. @defaultValue `${hostname}-${pid}-${random}` */
  agentId?: string
  /** Resume the downloads recorded in dataDir. @defaultValue true */
  resume?: boolean
  /** @defaultValue a silent logger */
  logger?: Logger
}

export type Agent = {
  /** API base URL, e.g. http://127.0.0.1:7480 */
  url: string
  agentId: string
  /** BitTorrent TCP port. */
  torrentPort: number
  /** Which engine moves the bytes. */
  engine: EngineKind
  index: SwarmIndex
  registry: Registry
  /**
   * Starts a download of url, or returns the one running. A finished one is revalidated at the origin:
   * same version → returned; changed → replaced by a new download (new key, new torrent).
   */
  startDownload(url: string, sha256?: string): Promise<Download>
  getDownload(id: string): Download | undefined
  findByUrl(url: string): Download | undefined
  listDownloads(): DownloadInfo[]
  removeDownload(id: string): Promise<boolean>
  /** Stops API, engine and (if the agent created it) the index. Data stays on disk. */
  close(): Promise<void>
}

/** The download id: stable per URL on an agent, so a repeated POST finds the running download. */
export function downloadIdOf(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16)
}

const SHA256 = /^[0-9a-f]{64}$/i

export async function startAgent(options: AgentOptions): Promise<Agent> {
  const log = options.logger ?? createSilentLogger()
  const dataDir = path.resolve(options.dataDir)
  const recordsDir = path.join(dataDir, 'downloads')
  await mkdir(recordsDir, { recursive: true })
  const agentId = options.agentId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const ownIndex = !options.index
  const index = options.index ?? createMemoryIndex()
  const allow = new HostAllowList(options.allowHosts ?? [])

  const kind = options.engine ?? 'native'
  if (options.peerHost !== undefined && kind !== 'native') throw new SwarmError('SWARM_BAD_REQUEST', `peerHost needs the native engine (this agent runs ${kind})`)
  const registry = createMetricsRegistry()
  const protocolErrors = new Counter({ name: 'colony_swarm_peer_protocol_errors_total', help: 'peer connections closed for breaking the BitTorrent protocol (native engine)', labelNames: ['reason'], registers: [registry] })
  const peerDrops = new Counter({ name: 'colony_swarm_peer_dropped_total', help: 'peer connections refused or closed by the per-peer limits (native engine)', labelNames: ['reason'], registers: [registry] })
  const engineOptions: EngineOptions = {
    listenPort: options.listenPort ?? 0, uploadLimit: options.uploadLimit ?? 0, downloadLimit: options.downloadLimit ?? 0,
    dataDir, log,
    ...(options.peerHost === undefined ? {} : { peerHost: options.peerHost }),
    ...(options.peerLimits ? { peerLimits: options.peerLimits } : {}),
    peerEvents: { protocolError: (reason) => protocolErrors.inc({ reason }), dropped: (reason) => peerDrops.inc({ reason }) },
  }
  const engine: SwarmEngine = kind === 'aria2' ? await startAria2Engine(engineOptions) : await startNativeEngine(engineOptions)
  const torrentPort = engine.port

  const downloads = new Map<string, Download>()
  const bans = new Counter({ name: 'colony_swarm_banned_peers_total', help: 'peers banned for sending data that failed verification', registers: [registry] })
  const finished = new Counter({ name: 'colony_swarm_downloads_finished_total', help: 'downloads that reached a final state', labelNames: ['result'], registers: [registry] })
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

  const ctx: DownloadContext = {
    engine, index, allow, dataDir, agentId, log,
    trackers: options.trackers ?? [],
    downloadLimit: options.downloadLimit ?? 0,
    seedTimeMs: options.seedTimeMs ?? 3_600_000,
    seedRatio: options.seedRatio ?? 0,
    segmentSize: options.segmentSize ?? (engine.kind === 'native' ? 16 : 32) * 1024 * 1024,
    // aria2 gained from a tapered tail (session 6); the native engine does not (session 11, docs/benchmarks/swarm.md).
    segmentTaper: engine.kind === 'native' ? 0 : 2,
    originRetries: options.originRetries ?? 5,
    backoffBaseMs: options.backoffBaseMs ?? 200,
    onBan: () => bans.inc(),
  }

  const recordPath = (id: string): string => path.join(recordsDir, `${id}.json`)

  const launch = (url: string, sha256: string | undefined, id: string): Download => {
    const d = new Download(ctx, id, url, sha256)
    downloads.set(id, d)
    d.on('state', (s) => {
      if (s === 'failed' || s === 'seeding') finished.inc({ result: s === 'failed' ? 'failed' : 'ok' })
    })
    d.start()
    void writeFile(recordPath(id), JSON.stringify({ id, url, sha256, createdAt: d.createdAt.toISOString() }))
      .catch((err: unknown) => log.warn({ err: String(err) }, 'cannot record download'))
    return d
  }

  const startDownload = async (url: string, sha256?: string): Promise<Download> => {
    let u: URL
    try { u = new URL(url) } catch { throw new SwarmError('SWARM_BAD_REQUEST', `not a URL: ${JSON.stringify(url)}`) }
    allow.assert(u)
    if (sha256 !== undefined && !SHA256.test(sha256)) throw new SwarmError('SWARM_BAD_REQUEST', 'sha256 must be 64 hex characters')
    const id = downloadIdOf(u.href)
    const existing = downloads.get(id)
    if (existing && !existing.terminal && !existing.completedAt) return existing
    if (existing?.completedAt && existing.probe && existing.state !== 'cancelled') {
      // A finished object is revalidated: the same version is returned as is, a changed one gets a new torrent.
      const probe = await probeOrigin(u.href, allow)
      if (probe.key === existing.probe.key) {
        const actual = existing.info().sha256
        if (sha256 && actual && actual !== sha256.toLowerCase()) {
          throw new SwarmError('SWARM_SHA256_MISMATCH', `sha256 of ${u.href} is ${actual}, expected ${sha256.toLowerCase()}`, { details: { url: u.href, actual, expected: sha256 } })
        }
        if (existing.state !== 'failed') return existing
      } else {
        log.info({ id, url: u.href, oldKey: existing.probe.key, newKey: probe.key }, 'object changed at the origin; fetching the new version')
        await existing.cancel(true)
      }
    }
    return launch(u.href, sha256, id)
  }

  if (options.resume ?? true) {
    for (const f of await readdir(recordsDir)) {
      if (!f.endsWith('.json')) continue
      try {
        const rec = JSON.parse(await readFile(path.join(recordsDir, f), 'utf8')) as { id: string; url: string; sha256?: string }
        const u = new URL(rec.url)
        if (!allow.allows(u)) { log.warn({ url: rec.url }, 'not resuming a download whose host is no longer allowed'); continue }
        log.info({ id: rec.id, url: rec.url }, 'resuming download')
        launch(u.href, rec.sha256, rec.id)
      } catch (err) {
        log.warn({ file: f, err: String(err) }, 'skipping unreadable download record')
      }
    }
  }

  const agent: Agent = {
    url: '', agentId, torrentPort, engine: engine.kind, index, registry,
    startDownload,
    getDownload: (id) => downloads.get(id),
    findByUrl: (url) => {
      let href: string
      try { href = new URL(url).href } catch { return undefined }
      return downloads.get(downloadIdOf(href))
    },
    listDownloads: () => [...downloads.values()].map((d) => d.info()),
    removeDownload: async (id) => {
      const d = downloads.get(id)
      if (!d) return false
      downloads.delete(id)
      await rm(recordPath(id), { force: true })
      await d.cancel(true)
      return true
    },
    close: async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      for (const d of downloads.values()) await d.cancel(false).catch(() => undefined)
      await engine.close()
      if (ownIndex) await index.close()
    },
  }

  const handle = createAgentApi(agent, {
    token: options.token, log, address: () => server.address() as AddressInfo, allowedHosts: options.apiAllowedHosts ?? [],
    quota: {
      maxActive: options.apiMaxActive ?? AGENT_API_DEFAULTS.maxActivePerClient,
      rate: options.apiStartRate ?? AGENT_API_DEFAULTS.startRate,
      burst: options.apiStartBurst ?? AGENT_API_DEFAULTS.startBurst,
    },
  })
  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      log.error({ err: String(err) }, 'request handler failed')
      if (!res.headersSent) res.writeHead(500)
      res.end()
    })
  })
  agent.url = await listen(server, { host: options.apiHost ?? '127.0.0.1', port: options.apiPort ?? 0 })
  // Loaded now rather than by the first download, which every agent of a fleet tends to get at the same moment.
  await Promise.all([index.warmUp?.(agentId), warmUpOriginClient(`${agent.url}/healthz`)])
  log.info({ api: agent.url, engine: engine.kind, torrentPort, agentId, index: index.kind, trackers: ctx.trackers }, 'swarm agent listening')
  return agent
}
