// The agent's REST API (see docs/swarm.md): downloads, objects, torrents, plus /healthz and /metrics.
import { readFile } from 'node:fs/promises'
import path from 'node:path'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { ColonyError } from '../../shared/errors.ts'
import { handleOpsRequest, hasBearerToken, readBody, sendError, sendJson } from '../../shared/http-ops.ts'
import type { Logger } from '../../shared/logger.ts'
import { Counter } from '../../shared/metrics.ts'
import type { Agent } from '../agent/agent.ts'
import { assertJsonBody, assertSameOrigin, createHostCheck } from './guard.ts'
import { StartQuota, type StartQuotaOptions } from './quota.ts'
import type { Download } from '../agent/download.ts'
import { SwarmError } from '../errors.ts'
import { streamObject } from './object-stream.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { DATA_LAYOUT, parseDownloadRequest, type AgentHealth, type DownloadList, type DownloadRemoved, type DownloadStarted } from '../wire-format.ts'

export type AgentApiOptions = {
  /** Bearer token for mutating calls; undefined = open (the API binds loopback by default). */
  token: string | undefined
  log: Logger
  /** The API's bound address (the Host check compares against it). */
  address: () => AddressInfo
  /** Extra Host names the API answers to (--api-allowed-host); "*" = any. */
  allowedHosts: string[]
  /** Per-client limits on starting downloads. */
  quota: StartQuotaOptions
}

export type AgentApiHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>

function requireToken(req: IncomingMessage, options: AgentApiOptions): void {
  if (options.token !== undefined && !hasBearerToken(req, options.token)) {
    throw new SwarmError('SWARM_UNAUTHORIZED', 'this call needs Authorization: Bearer <token>')
  }
}

function urlParam(u: URL): string {
  const v = u.searchParams.get('url')
  if (!v) throw new SwarmError('SWARM_BAD_REQUEST', 'missing ?url=')
  return v
}

const running = (d: Download | undefined): d is Download => d !== undefined && !d.terminal && !d.completedAt

/** The client's address, with an IPv4-mapped IPv6 address written as IPv4. */
function clientAddress(req: IncomingMessage): string {
  return (req.socket.remoteAddress ?? 'unknown').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, '')
}

/** The API's request handler: Host, Origin and Content-Type checks, then the routes; errors answer as JSON. */
export function createAgentApi(agent: Agent, options: AgentApiOptions): AgentApiHandler {
  const checkHost = createHostCheck({ address: options.address, allowedHosts: options.allowedHosts })
  const quota = new StartQuota(options.quota)
  const errors = new Counter({ name: 'colony_swarm_api_errors_total', help: 'API requests answered with an error, by code', labelNames: ['code'], registers: [agent.registry] })

  /**
   * Starts (or finds) the download of url for this request. Asking for a URL that already has a running download
   * is free; anything else is charged to the client's start quota.
   */
  const start = async (req: IncomingMessage, url: string, sha256: string | undefined): Promise<Download> => {
    if (running(agent.findByUrl(url))) return agent.startDownload(url, sha256)
    const slot = quota.take(clientAddress(req), (id) => running(agent.getDownload(id)))
    try {
      const d = await agent.startDownload(url, sha256)
      slot.commit(d.id)
      return d
    } catch (err) {
      slot.release()
      throw err
    }
  }

  return async (req, res) => {
    try {
      checkHost(req)
      assertSameOrigin(req)
      assertJsonBody(req)
      await route(req, res, agent, options, start)
    } catch (err) {
      if (!(err instanceof SwarmError)) options.log.debug({ err: String(err) }, 'request failed')
      errors.inc({ code: err instanceof ColonyError ? err.code : 'COLONY_INTERNAL' })
      const retryAfter = err instanceof ColonyError ? err.details.retryAfterSeconds : undefined
      if (typeof retryAfter === 'number' && !res.headersSent) res.setHeader('retry-after', String(retryAfter))
      sendError(res, err)
    }
  }
}

type Start = (req: IncomingMessage, url: string, sha256: string | undefined) => Promise<Download>

async function route(req: IncomingMessage, res: ServerResponse, agent: Agent, options: AgentApiOptions, start: Start): Promise<void> {
  if (await handleOpsRequest(req, res, {
    registry: agent.registry,
    health: (): AgentHealth => ({ agentId: agent.agentId, torrentPort: agent.torrentPort, engine: agent.engine, index: agent.index.kind, downloads: agent.listDownloads().length }),
  })) return
  const u = new URL(req.url ?? '/', 'http://agent')
  const parts = u.pathname.split('/').filter(Boolean)
  const method = req.method ?? 'GET'

  if (parts[0] !== 'v1') throw new SwarmError('SWARM_NOT_FOUND', `no route ${method} ${u.pathname}`)

  if (parts[1] === 'downloads' && parts.length === 2) {
    if (method === 'GET') { sendJson(res, 200, { downloads: agent.listDownloads() } satisfies DownloadList); return }
    if (method === 'POST') {
      requireToken(req, options)
      const body = parseDownloadRequest((await readBody(req, SWARM_DEFAULTS.api.maxBodyBytes)).toString('utf8'))
      const d = await start(req, body.url, body.sha256)
      sendJson(res, 202, { id: d.id, download: d.info() } satisfies DownloadStarted)
      return
    }
  }
  if (parts[1] === 'downloads' && parts.length === 3) {
    const id = parts[2] as string
    if (method === 'GET') {
      const d = agent.getDownload(id)
      if (!d) throw new SwarmError('SWARM_NOT_FOUND', `no download ${id}`)
      sendJson(res, 200, d.info())
      return
    }
    if (method === 'DELETE') {
      requireToken(req, options)
      if (!(await agent.removeDownload(id))) throw new SwarmError('SWARM_NOT_FOUND', `no download ${id}`)
      sendJson(res, 200, { id, removed: true } satisfies DownloadRemoved)
      return
    }
  }
  if (parts[1] === 'objects' && parts.length === 2 && (method === 'GET' || method === 'HEAD')) {
    const url = urlParam(u)
    let d = agent.findByUrl(url)
    if (!d || d.state === 'failed' || d.state === 'cancelled') {
      // Pulling an object the agent does not have starts a download: that is a mutating call.
      requireToken(req, options)
      d = await start(req, url, u.searchParams.get('sha256') ?? undefined)
    }
    if (d.state === 'failed' && d.error) throw d.error
    await streamObject(req, res, d)
    return
  }
  if (parts[1] === 'torrents' && parts.length === 2 && method === 'GET') {
    const d = agent.findByUrl(urlParam(u))
    if (!d?.dir) throw new SwarmError('SWARM_NOT_FOUND', 'no torrent for that URL on this agent (POST /v1/downloads first)')
    let torrent: Buffer
    try { torrent = await readFile(path.join(d.dir, DATA_LAYOUT.torrentFile)) } catch {
      throw new SwarmError('SWARM_NOT_FOUND', `the torrent for that URL is not known yet (state ${d.state})`)
    }
    res.writeHead(200, { 'content-type': 'application/x-bittorrent', 'content-length': torrent.length, 'content-disposition': `attachment; filename="${d.info().name ?? 'object'}.torrent"` })
    res.end(torrent)
    return
  }
  throw new SwarmError('SWARM_NOT_FOUND', `no route ${method} ${u.pathname}`)
}
