// REST client helpers for an agent's API (used by `colony swarm get/status`, the demo and the bench).
import { ColonyError } from '../../shared/errors.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { SwarmError, type SwarmErrorCode } from '../errors.ts'
import type { DownloadInfo, DownloadList, DownloadStarted, ErrorBody } from '../wire-format.ts'

export type AgentClientOptions = {
  /** Agent API base URL. @defaultValue SWARM_DEFAULTS.client.agentUrl ('http://127.0.0.1:7480') */
  agent?: string
  /** Bearer token for mutating calls. @defaultValue none */
  token?: string
  signal?: AbortSignal
}

async function call(path: string, init: RequestInit, options: AgentClientOptions): Promise<Response> {
  const base = (options.agent ?? SWARM_DEFAULTS.client.agentUrl).replace(/\/+$/, '')
  const headers = new Headers(init.headers)
  if (options.token) headers.set('authorization', `Bearer ${options.token}`)
  let res: Response
  for (let attempt = 0; ; attempt++) {
    try {
      res = await fetch(`${base}${path}`, { ...init, headers, ...(options.signal ? { signal: options.signal } : {}) })
      break
    } catch (err) {
      if (options.signal?.aborted) throw err
      // A reused keep-alive socket the agent just closed fails with ECONNRESET: safe to retry reads.
      const idempotent = (init.method ?? 'GET') === 'GET'
      if (!idempotent || attempt >= 2) {
        throw new SwarmError('SWARM_AGENT_UNREACHABLE', `cannot reach the swarm agent at ${base}: ${(err as Error).message}`, { cause: err })
      }
      await new Promise((r) => setTimeout(r, 100 * (attempt + 1)))
    }
  }
  if (!res.ok) {
    const text = await res.text()
    let body: Partial<ErrorBody> = {}
    try { body = JSON.parse(text) as typeof body } catch { /* not JSON */ }
    const code = body.error?.code
    const message = body.error?.message ?? `agent answered ${res.status}: ${text.slice(0, 200)}`
    if (code?.startsWith('SWARM_')) throw new SwarmError(code as SwarmErrorCode, message, { details: body.error?.details ?? {} })
    throw new ColonyError(code ?? 'SWARM_AGENT_ERROR', message, { status: res.status, details: body.error?.details ?? {} })
  }
  return res
}

/** POST /v1/downloads → the download id (an existing running download of the same URL is returned). */
export async function requestDownload(url: string, options: AgentClientOptions & { sha256?: string } = {}): Promise<DownloadInfo> {
  const body = JSON.stringify(options.sha256 ? { url, sha256: options.sha256 } : { url })
  const res = await call('/v1/downloads', { method: 'POST', headers: { 'content-type': 'application/json' }, body }, options)
  return ((await res.json()) as DownloadStarted).download
}

export async function getDownload(id: string, options: AgentClientOptions = {}): Promise<DownloadInfo> {
  return (await call(`/v1/downloads/${encodeURIComponent(id)}`, {}, options)).json() as Promise<DownloadInfo>
}

export async function listDownloads(options: AgentClientOptions = {}): Promise<DownloadInfo[]> {
  return ((await (await call('/v1/downloads', {}, options)).json()) as DownloadList).downloads
}

export async function deleteDownload(id: string, options: AgentClientOptions = {}): Promise<void> {
  await (await call(`/v1/downloads/${encodeURIComponent(id)}`, { method: 'DELETE' }, options)).body?.cancel()
}

/** GET /v1/torrents?url= → the .torrent bytes. */
export async function fetchTorrent(url: string, options: AgentClientOptions = {}): Promise<Buffer> {
  return Buffer.from(await (await call(`/v1/torrents?url=${encodeURIComponent(url)}`, {}, options)).arrayBuffer())
}

/** GET /v1/objects?url= → the streaming response (pass `range` for a byte range). */
export async function fetchObject(url: string, options: AgentClientOptions & { range?: string } = {}): Promise<Response> {
  return call(`/v1/objects?url=${encodeURIComponent(url)}`, options.range ? { headers: { range: options.range } } : {}, options)
}

/**
 * Polls a download until it is complete (seeding/done) or failed; `onProgress` sees every poll.
 * A failed download rejects with its SwarmError.
 */
export async function waitForDownload(id: string, options: AgentClientOptions & { intervalMs?: number; timeoutMs?: number; onProgress?: (d: DownloadInfo) => void } = {}): Promise<DownloadInfo> {
  const deadline = options.timeoutMs ? Date.now() + options.timeoutMs : Infinity
  for (;;) {
    const d = await getDownload(id, options)
    options.onProgress?.(d)
    if (d.state === 'seeding' || d.state === 'done') return d
    if (d.state === 'failed' || d.state === 'cancelled') {
      const code = d.error?.code ?? 'SWARM_CANCELLED'
      const message = d.error?.message ?? `download ${d.state}`
      if (code.startsWith('SWARM_')) throw new SwarmError(code as SwarmErrorCode, message, { details: { id, url: d.url } })
      throw new ColonyError(code, message, { details: { id, url: d.url } })
    }
    if (Date.now() > deadline) throw new SwarmError('SWARM_AGENT_UNREACHABLE', `download ${id} did not finish in ${options.timeoutMs} ms (state ${d.state})`)
    await new Promise((r) => setTimeout(r, options.intervalMs ?? SWARM_DEFAULTS.client.pollIntervalMs))
  }
}
