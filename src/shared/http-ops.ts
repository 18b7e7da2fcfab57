import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Registry } from 'prom-client'
import { ColonyError } from './errors.ts'

export type OpsRoutesOptions = {
  /** Registry rendered at /metrics. */
  registry: Registry
  /** Extra facts for /healthz; throwing or returning ok:false answers 503. @defaultValue () => ({ ok: true }) */
  health?: () => Record<string, unknown> | Promise<Record<string, unknown>>
}

/**
 * Answers GET /healthz and GET /metrics; returns false for any other request so the caller routes it.
 * Every colony server mounts this first.
 */
export async function handleOpsRequest(req: IncomingMessage, res: ServerResponse, options: OpsRoutesOptions): Promise<boolean> {
  const path = (req.url ?? '/').split('?')[0]
  if (req.method !== 'GET' && req.method !== 'HEAD') return false
  if (path === '/healthz') {
    let body: Record<string, unknown>
    try { body = { ok: true, ...(await options.health?.()) } } catch (err) { body = { ok: false, error: String(err) } }
    sendJson(res, body.ok === false ? 503 : 200, body)
    return true
  }
  if (path === '/metrics') {
    const text = await options.registry.metrics()
    res.writeHead(200, { 'content-type': options.registry.contentType })
    res.end(text)
    return true
  }
  return false
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/** Answers with a ColonyError's status and toJSON(); anything else is a 500 with no internals leaked. */
export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) { res.destroy(); return }
  if (err instanceof ColonyError) sendJson(res, err.status, { error: err.toJSON() })
  else sendJson(res, 500, { error: { code: 'COLONY_INTERNAL', message: 'internal error' } })
}

/** Reads a request body up to `limit` bytes; over it rejects with COLONY_BODY_TOO_LARGE (413). */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length
    if (size > limit) throw new ColonyError('COLONY_BODY_TOO_LARGE', `request body over ${limit} bytes`, { status: 413 })
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

/** Checks `Authorization: Bearer <token>` in constant time. */
export function hasBearerToken(req: IncomingMessage, token: string): boolean {
  return bearerMatches(req.headers.authorization, token)
}

/** The same check on an `Authorization` header value (for requests read off a bare socket). */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '')
  if (!m?.[1]) return false
  const a = Buffer.from(m[1])
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** listen() as a promise; binds 127.0.0.1 unless told otherwise; resolves to the base URL. */
export function listen(server: Server, options: { host?: string; port?: number } = {}): Promise<string> {
  const host = options.host ?? '127.0.0.1'
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      const addr = server.address() as AddressInfo
      const h = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address
      resolve(`http://${h}:${addr.port}`)
    })
  })
}

/** "127.0.0.1:8080", ":8080" or "8080" → { host, port }. */
export function parseHostPort(text: string, defaultHost = '127.0.0.1'): { host: string; port: number } {
  const m = /^(?:\[?([^\]]*?)\]?:)?(\d+)$/.exec(text.trim())
  if (!m) throw new ColonyError('COLONY_USAGE', `not a host:port: "${text}"`, { status: 400 })
  return { host: m[1] || defaultHost, port: Number(m[2]) }
}
