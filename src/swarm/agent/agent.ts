// The per-host daemon: one BitTorrent engine, the index, the downloads, and the REST API in front of them.
// It composes them; what each does lives in its own folder (engines/, index-store/, api/) behind an interface.
import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { HostAllowList } from '../../shared/allow-host.ts'
import { createSilentLogger } from '../../shared/logger.ts'
import { serveAgentApi, type ApiServer } from '../api/serve.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import type { EngineOptions } from '../engines/engine.ts'
import { startEngine } from '../engines/start-engine.ts'
import { SwarmError } from '../errors.ts'
import { createMemoryIndex } from '../index-store/memory-index.ts'
import { probeOrigin } from '../origin/probe.ts'
import { DATA_LAYOUT, type DownloadRecord } from '../wire-format.ts'
import { createAgentMetrics } from './agent-metrics.ts'
import type { Agent, AgentOptions } from './agent-types.ts'
import { Download, type DownloadContext } from './download.ts'
import { Limiter } from '../../shared/limiter.ts'

export type { Agent, AgentOptions } from './agent-types.ts'

/** The download id: stable per URL on an agent, so a repeated POST finds the running download. */
export function downloadIdOf(url: string): string {
  return createHash('sha256').update(url).digest('hex').slice(0, 16)
}

const SHA256 = /^[0-9a-f]{64}$/i

export async function startAgent(options: AgentOptions): Promise<Agent> {
  const log = options.logger ?? createSilentLogger()
  const dataDir = path.resolve(options.dataDir)
  const recordsDir = path.join(dataDir, DATA_LAYOUT.recordsDir)
  await mkdir(recordsDir, { recursive: true })
  const agentId = options.agentId ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`
  const ownIndex = !options.index
  const index = options.index ?? createMemoryIndex()
  const allow = new HostAllowList(options.allowHosts ?? [])

  const kind = options.engine ?? SWARM_DEFAULTS.agent.engine
  const downloads = new Map<string, Download>()
  const metrics = createAgentMetrics(downloads)
  const engineOptions: EngineOptions = {
    listenPort: options.listenPort ?? SWARM_DEFAULTS.agent.listenPort,
    uploadLimit: options.uploadLimit ?? SWARM_DEFAULTS.agent.uploadLimit,
    downloadLimit: options.downloadLimit ?? SWARM_DEFAULTS.agent.downloadLimit,
    dataDir, log,
    ...(options.peerHost === undefined ? {} : { peerHost: options.peerHost }),
    ...(options.peerLimits ? { peerLimits: options.peerLimits } : {}),
    peerEvents: metrics.peerEvents,
  }
  const engine = await startEngine(kind, engineOptions)
  const torrentPort = engine.port

  const ctx: DownloadContext = {
    engine, index, allow, dataDir, agentId, log,
    trackers: options.trackers ?? [],
    downloadLimit: engineOptions.downloadLimit,
    seedTimeMs: options.seedTimeMs ?? SWARM_DEFAULTS.agent.seedTimeMs,
    seedRatio: options.seedRatio ?? SWARM_DEFAULTS.agent.seedRatio,
    segmentSize: options.segmentSize ?? SWARM_DEFAULTS.agent.segmentSize[engine.kind],
    // A tapered tail helps aria2 and not the native engine (docs/benchmarks/swarm.md).
    segmentTaper: SWARM_DEFAULTS.agent.segmentTaper[engine.kind],
    segmentSeconds: options.segmentSeconds ?? SWARM_DEFAULTS.agent.segmentSeconds,
    originRetries: options.originRetries ?? SWARM_DEFAULTS.origin.retries,
    backoffBaseMs: options.backoffBaseMs ?? SWARM_DEFAULTS.origin.backoffBaseMs,
    onBan: () => metrics.banned(),
    advertise: engine.peerId === undefined ? undefined
      : { address: joinHostPort(advertisedHost(options.advertiseHost ?? SWARM_DEFAULTS.agent.advertiseHost, options.peerHost), torrentPort), peerId: engine.peerId },
    backToSource: {
      enabled: options.backToSource ?? SWARM_DEFAULTS.backToSource.enabled,
      stallMs: options.stallTimeoutMs ?? SWARM_DEFAULTS.backToSource.stallMs,
      deadlineMs: options.swarmDeadlineMs ?? SWARM_DEFAULTS.backToSource.deadlineMs,
      slots: new Limiter(options.backToSourceMax ?? SWARM_DEFAULTS.backToSource.maxConcurrent),
      started: (reason) => metrics.backToSource(reason),
      bytes: (n) => metrics.backToSourceBytes(n),
    },
  }

  const recordPath = (id: string): string => path.join(recordsDir, `${id}.json`)

  const launch = (url: string, sha256: string | undefined, id: string): Download => {
    const d = new Download(ctx, id, url, sha256)
    downloads.set(id, d)
    d.on('state', (s) => {
      if (s === 'failed' || s === 'seeding') metrics.finished(s === 'failed' ? 'failed' : 'ok')
    })
    d.start()
    const record: DownloadRecord = { id, url, ...(sha256 === undefined ? {} : { sha256 }), createdAt: d.createdAt.toISOString() }
    void writeFile(recordPath(id), JSON.stringify(record))
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
        const actual = sha256 ? await existing.sha256().catch(() => undefined) : undefined
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

  if (options.resume ?? SWARM_DEFAULTS.agent.resume) {
    for (const f of await readdir(recordsDir)) {
      if (!f.endsWith('.json')) continue
      try {
        const rec = JSON.parse(await readFile(path.join(recordsDir, f), 'utf8')) as DownloadRecord
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
    url: '', agentId, torrentPort, engine: engine.kind, index, registry: metrics.registry,
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
      await api.close()
      for (const d of downloads.values()) await d.cancel(false).catch(() => undefined)
      await engine.close()
      if (ownIndex) await index.close()
    },
  }

  const api: ApiServer = await serveAgentApi(agent, {
    host: options.apiHost ?? SWARM_DEFAULTS.agent.apiHost, port: options.apiPort ?? SWARM_DEFAULTS.agent.apiPort,
    token: options.token, log, allowedHosts: options.apiAllowedHosts ?? [],
    quota: {
      maxActive: options.apiMaxActive ?? SWARM_DEFAULTS.api.maxActivePerClient,
      rate: options.apiStartRate ?? SWARM_DEFAULTS.api.startRate,
      burst: options.apiStartBurst ?? SWARM_DEFAULTS.api.startBurst,
    },
  })
  agent.url = api.url
  // Loaded now rather than by the first download, which every agent of a fleet tends to get at the same moment. The
  // origin's body client (undici, WebAssembly) is not: only the agent that becomes the leader ever uses it (~30 ms
  // of CPU the first time).
  await index.warmUp?.(agentId)
  log.info({ api: agent.url, engine: engine.kind, torrentPort, agentId, index: index.kind, trackers: ctx.trackers }, 'swarm agent listening')
  return agent
}

/** The host other agents dial: the one given, else a peer host naming one interface, else the first non-loopback IPv4. */
export function advertisedHost(given: string, peerHost: string | undefined): string {
  if (given) return given
  if (peerHost && peerHost !== '0.0.0.0' && peerHost !== '::') return peerHost
  for (const list of Object.values(os.networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address
  }
  return '127.0.0.1'
}

function joinHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
