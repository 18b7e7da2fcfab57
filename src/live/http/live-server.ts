// The HTTP face of one live node (frontend + dispatcher roles): raw node:http, no framework.
import { randomBytes } from 'node:crypto'
import http, { type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { ColonyError, isColonyError } from '../../shared/errors.ts'
import { handleOpsRequest, readBody, sendError, sendJson } from '../../shared/http-ops.ts'
import { createSilentLogger, type Logger } from '../../shared/logger.ts'
import type { Registry } from '../../shared/metrics.ts'
import { authorizePublish, type PublishAuthOptions } from '../auth/publish-auth.ts'
import { answerClientError } from './client-error.ts'
import { LIVE_DEFAULTS, withDefaults } from '../defaults.ts'
import { LiveError } from '../errors.ts'
import { Hub } from '../core/hub.ts'
import type { HubOptions } from '../core/hub-state.ts'
import { ConnectionGuard } from './connection-guard.ts'
import { ConnectionCounter, KeyedBuckets, TokenBucket } from './limits.ts'
import { createLiveMetrics } from './live-metrics.ts'
import { LocalTransport } from '../transports/local-transport.ts'
import { renderLivePage } from './page.ts'
import { createSseFront, writeRawError, type SseRequest } from './sse-front.ts'
import type { RawPublishRequest, RawResponse } from './publish-front.ts'
import { assertForwardable, DC_HEADER, originId } from '../wire/peer-dc.ts'
import { PeerForwarder } from '../transports/peer-forwarder.ts'
import { parsePublishBody, parseTopic } from '../core/publish-body.ts'
import type { LiveEvent, LiveTransport } from '../types.ts'
import { deriveViewerKey, issueOverHttp, ViewerBuckets } from '../auth/viewer-tokens.ts'

/** The per-client limits and deadlines of a node (their defaults: LIVE_DEFAULTS.limits). */
type LiveLimits = Pick<LiveServerOptions, 'maxConnectionsPerIp' | 'maxPendingPerIp' | 'connectionRate' | 'publishRate' | 'headersTimeoutMs' | 'bodyTimeoutMs' | 'keepAliveMs' | 'viewerRate' | 'viewerMaxTtlMs'>

/** Options of one live node. */
export type LiveServerOptions = {
  /** @defaultValue LIVE_DEFAULTS.server.host */
  host?: string
  /** 0 picks a free port. @defaultValue LIVE_DEFAULTS.server.port */
  port?: number
  /** Bind with SO_REUSEPORT so sibling processes share the port (kernel balances accepts). @defaultValue LIVE_DEFAULTS.server.reusePort */
  reusePort?: boolean
  /** The dispatcher adapter. @defaultValue a LocalTransport (embedded, this process only) */
  transport?: LiveTransport
  /**
   * Which roles this node plays: `frontend` holds viewer streams, `dispatcher` accepts publishes and routes them.
   * A node may be both. @defaultValue LIVE_DEFAULTS.server.role
   */
  role?: 'both' | 'frontend' | 'dispatcher'
  /** Shared publish secret. One of token / jwtKey is required. @defaultValue undefined */
  token?: string
  /** HS256 key for publish JWTs. @defaultValue undefined */
  jwtKey?: string
  /** Secret the viewer-token key is derived from (HKDF). @defaultValue token (without either, viewer tokens are refused) */
  viewerKey?: string
  /** Events per second one viewer token may publish (burst twice that); 0 = unlimited. @defaultValue LIVE_DEFAULTS.limits.viewerRate */
  viewerRate?: number
  /** Longest lifetime a viewer token may be issued with or accepted with. @defaultValue LIVE_DEFAULTS.limits.viewerMaxTtlMs */
  viewerMaxTtlMs?: number
  /** The clock viewer tokens are issued and checked against (ms since epoch). @defaultValue Date.now */
  clock?: () => number
  /** Allowed CORS origins; '*' allows any. @defaultValue LIVE_DEFAULTS.server.corsOrigins */
  corsOrigins?: string[]
  /** Name of this DC; required with peerDcs. @defaultValue undefined */
  dc?: string
  /** Base URLs of peer DCs; locally published events are forwarded to each exactly once. @defaultValue [] */
  peerDcs?: string[]
  /** Token for the peers' publish API. @defaultValue token */
  peerToken?: string
  /** Body bytes of one forwarded POST; keep it under the peers' maxBodyBytes. @defaultValue LIVE_DEFAULTS.server.peerBatchShare of maxBodyBytes */
  peerBatchBytes?: number
  /** Bytes of events waiting for one peer DC before the oldest are dropped (and counted). @defaultValue LIVE_DEFAULTS.peers.maxQueuedBytes */
  peerQueueBytes?: number
  /** Frontend tuning (batching, heartbeat, buffers, coalescing, history). @defaultValue {} */
  hub?: HubOptions
  /** Open SSE connections per client IP (per process); 0 = unlimited. @defaultValue LIVE_DEFAULTS.limits.maxConnectionsPerIp */
  maxConnectionsPerIp?: number
  /** Connections per client IP that are not streams (head, body, idle keep-alive), per process; 0 = unlimited. @defaultValue LIVE_DEFAULTS.limits.maxPendingPerIp */
  maxPendingPerIp?: number
  /** New SSE connections per second per process (burst = 1s worth); 0 = unlimited. @defaultValue LIVE_DEFAULTS.limits.connectionRate */
  connectionRate?: number
  /** Published events per second per client IP (peer-DC forwards with the publish secret excepted); 0 = unlimited. @defaultValue LIVE_DEFAULTS.limits.publishRate */
  publishRate?: number
  /** A request head must be complete this long after its connection opened or its first byte, however it trickles. @defaultValue LIVE_DEFAULTS.limits.headersTimeoutMs */
  headersTimeoutMs?: number
  /** A request body must be complete this long after its head. @defaultValue LIVE_DEFAULTS.limits.bodyTimeoutMs */
  bodyTimeoutMs?: number
  /** Idle time allowed between requests on a kept-alive connection. @defaultValue LIVE_DEFAULTS.limits.keepAliveMs */
  keepAliveMs?: number
  /** Largest publish body. @defaultValue LIVE_DEFAULTS.server.maxBodyBytes */
  maxBodyBytes?: number
  /** Events in one publish request. @defaultValue LIVE_DEFAULTS.server.maxBatch */
  maxBatch?: number
  /** Largest request head (request line + headers); larger ones are answered 431. @defaultValue LIVE_DEFAULTS.server.maxHeaderBytes */
  maxHeaderBytes?: number
  /** Renders /metrics instead of this process's registry (a cluster worker answers for the service). @defaultValue undefined */
  renderMetrics?: () => Promise<string>
  /** Extra fields for /healthz (worker id…). @defaultValue {} */
  healthExtra?: Record<string, unknown>
  /** @defaultValue silent */
  logger?: Logger
}

export type LiveServer = {
  url: string
  port: number
  hub: Hub
  transport: LiveTransport
  registry: Registry
  /** Tells viewers to reconnect elsewhere, then stops. */
  close(options?: { graceMs?: number }): Promise<void>
}

/** Seconds a refused publisher should wait (Retry-After), by error. */
const retryAfter = new WeakMap<object, number>()
function withRetryAfter(err: LiveError, seconds: number): LiveError {
  retryAfter.set(err, seconds)
  return err
}

const EVENTS_RE = /^\/v1\/topics\/([^/]+)\/events$/
const TOPIC_RE = /^\/v1\/topics\/([^/]+)$/

export async function startLiveServer(options: LiveServerOptions = {}): Promise<LiveServer> {
  if (!options.token && !options.jwtKey) throw new LiveError('LIVE_CONFIG', 'a publish token or JWT key is required')
  const peers = options.peerDcs ?? []
  if (peers.length > 0 && !options.dc) throw new LiveError('LIVE_CONFIG', '--peer-dc needs --dc NAME')
  const peerToken = options.peerToken ?? options.token
  if (peers.length > 0 && !peerToken) throw new LiveError('LIVE_CONFIG', '--peer-dc needs --peer-token (or --token)')
  const log = options.logger ?? createSilentLogger()
  const transport = options.transport ?? new LocalTransport({ historySize: options.hub?.historySize, historyBytes: options.hub?.historyBytes })
  const hub = new Hub(transport, options.hub)
  const maxBodyBytes = options.maxBodyBytes ?? LIVE_DEFAULTS.server.maxBodyBytes
  const forwarders = peers.map((url) => new PeerForwarder({
    url, dc: options.dc as string, token: peerToken as string, logger: log,
    maxBatchBytes: options.peerBatchBytes ?? Math.floor(maxBodyBytes * LIVE_DEFAULTS.server.peerBatchShare), maxQueuedBytes: options.peerQueueBytes,
  }))
  const { viewerRate, viewerMaxTtlMs, ...limits } = withDefaults<Required<LiveLimits>>(LIVE_DEFAULTS.limits, options)
  const guard = new ConnectionGuard(limits)
  const metrics = createLiveMetrics(hub.stats, () => forwarders, guard)
  const cors: readonly string[] = options.corsOrigins ?? LIVE_DEFAULTS.server.corsOrigins
  const perIp = new ConnectionCounter()
  const connBucket = new TokenBucket(limits.connectionRate)
  const publishBuckets = new KeyedBuckets(limits.publishRate)
  const clock = options.clock ?? Date.now
  const viewerMaterial = options.viewerKey ?? options.token
  const viewerKey = viewerMaterial ? deriveViewerKey(viewerMaterial) : undefined
  const auth: PublishAuthOptions = { token: options.token, jwtKey: options.jwtKey, viewer: viewerKey && { key: viewerKey, maxTtlMs: viewerMaxTtlMs, now: clock } }
  const viewerBuckets = new ViewerBuckets(viewerRate)
  const maxPerIp = limits.maxConnectionsPerIp
  const originNonce = randomBytes(6).toString('base64url')
  let originSeq = 0
  let draining = false
  const role = options.role ?? LIVE_DEFAULTS.server.role
  if (role !== 'both' && !options.transport) throw new LiveError('LIVE_CONFIG', 'a frontend-only or dispatcher-only node needs a shared transport (--redis)')

  await transport.start((events: LiveEvent[]) => hub.ingest(events))

  function corsFor(origin: string | undefined): string {
    if (cors.includes('*')) return 'access-control-allow-origin: *\r\n'
    return origin && cors.includes(origin) && !/[\r\n]/.test(origin) ? `access-control-allow-origin: ${origin}\r\nvary: origin\r\n` : ''
  }

  function setCors(req: IncomingMessage, res: ServerResponse): void {
    if (cors.includes('*')) res.setHeader('access-control-allow-origin', '*')
    else if (req.headers.origin && cors.includes(req.headers.origin)) { res.setHeader('access-control-allow-origin', req.headers.origin); res.setHeader('vary', 'origin') }
  }

  function refuse(res: ServerResponse, err: LiveError, retryAfter?: number): void {
    metrics.refused.inc({ code: err.code })
    if (retryAfter !== undefined && !res.headersSent) res.setHeader('retry-after', String(retryAfter))
    sendError(res, err)
  }

  /** An SSE subscribe on a bare socket (see sse-front.ts): refusals are complete HTTP responses. */
  async function handleSubscribe(socket: Socket, request: SseRequest): Promise<void> {
    // A stream has no deadline and does not count as a pending connection (a subscribe via node:http is one too).
    guard.release(socket)
    const origin = request.headers.get('origin')
    const allow = corsFor(origin)
    const reject = (err: LiveError, retryAfter?: number): void => {
      metrics.refused.inc({ code: err.code })
      writeRawError(socket, err.status, { error: err.toJSON() }, `${allow}${retryAfter === undefined ? '' : `retry-after: ${retryAfter}\r\n`}`)
    }
    let topic: string
    try { topic = parseTopic(request.topicSegment) } catch (err) { reject(err as LiveError); return }
    if (draining) { reject(new LiveError('LIVE_SHUTTING_DOWN', 'node is draining; reconnect to another'), 1); return }
    if (role === 'dispatcher') { reject(new LiveError('LIVE_NOT_FOUND', 'this node is a dispatcher only; subscribe on a frontend')); return }
    const ip = socket.remoteAddress ?? '?'
    if (maxPerIp > 0 && perIp.count(ip) >= maxPerIp) { reject(new LiveError('LIVE_TOO_MANY_CONNECTIONS', `at most ${maxPerIp} connections per client address`), 5); return }
    if (!connBucket.take()) { reject(new LiveError('LIVE_CONNECTION_RATE', 'too many new connections; retry shortly'), connBucket.waitSeconds()); return }
    const raw = request.headers.get('last-event-id') ?? request.query.get('lastEventId') ?? undefined
    // An unparsable id cannot be resumed from: -1 makes history answer with a reset.
    const lastEventId = raw === undefined || raw === '' ? undefined : /^\d{1,15}$/.test(raw) ? Number(raw) : -1
    const head = `HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ncache-control: no-cache, no-transform\r\nconnection: close\r\nx-accel-buffering: no\r\n${allow}\r\n`
    perIp.add(ip)
    let attached = false
    try {
      // No chunked framing: the body is delimited by the connection's close, so each write is the frame bytes only.
      attached = await hub.attach(socket, topic, head, lastEventId, () => perIp.remove(ip))
    } catch (err) {
      log.warn({ err: String(err), topic }, 'live subscribe failed')
      if (!socket.destroyed) reject(err instanceof LiveError ? err : new LiveError('LIVE_TRANSPORT', 'dispatcher unavailable', { cause: err }))
    } finally {
      if (!attached) perIp.remove(ip)
    }
  }

  /**
   * The publish itself, whichever front read the request: checks, sequencing, peer forwarding. Returns the 202
   * body; refusals throw (with `retryAfter` in the error's details for 429/503).
   */
  async function publishCore(topic: string, header: (name: string) => string | undefined, body: Buffer | (() => Promise<Buffer>), ip: string): Promise<{ topic: string; accepted: number; ids: number[] }> {
    if (draining) throw withRetryAfter(new LiveError('LIVE_SHUTTING_DOWN', 'node is draining'), 1)
    if (role === 'frontend') throw new LiveError('LIVE_NOT_FOUND', 'this node is a frontend only; publish to a dispatcher')
    const publisher = await authorizePublish(header('authorization'), topic, auth)
    const bytes = typeof body === 'function' ? await body() : body
    const forwardedFrom = header(DC_HEADER)
    // A viewer token never speaks for a peer DC (it could forge origin ids).
    const forwarded = publisher.kind !== 'viewer' && typeof forwardedFrom === 'string' && forwardedFrom.length > 0
    const inputs = parsePublishBody(bytes, { maxEvents: options.maxBatch ?? LIVE_DEFAULTS.server.maxBatch, forwarded })
    if (publisher.kind === 'viewer') {
      const denied = inputs.find((i) => !publisher.claims.types.includes(i.type))
      if (denied) throw new LiveError('LIVE_FORBIDDEN_TYPE', `viewer token does not cover event type ${denied.type}`)
    }
    // Peer DCs forward every event of their viewers from one address: with the secret they are not rate-limited.
    if (!(forwarded && publisher.kind === 'secret')) {
      const bucket = publishBuckets.get(ip)
      if (!bucket.take(inputs.length)) throw withRetryAfter(new LiveError('LIVE_RATE_LIMITED', 'publish rate exceeded'), bucket.waitSeconds(inputs.length))
    }
    if (publisher.kind === 'viewer') {
      const now = clock()
      const bucket = viewerBuckets.get(publisher.claims, now)
      if (!bucket.take(inputs.length, now)) throw withRetryAfter(new LiveError('LIVE_RATE_LIMITED', 'viewer token publish rate exceeded'), bucket.waitSeconds(inputs.length))
    }
    if (!forwarded && forwarders.length > 0) {
      const now = Date.now()
      for (const i of inputs) i.origin = originId(options.dc as string, originNonce, ++originSeq)
      assertForwardable(inputs.map((i) => ({ type: i.type, data: i.data, ts: i.ts ?? now, origin: i.origin as string })), maxBodyBytes)
    }
    const events = await transport.publish(topic, inputs)
    metrics.published.inc(events.length)
    // Only events first published here travel to peers: forwarded ones stop, so no loops.
    if (!forwarded) for (const f of forwarders) f.enqueue(events)
    return { topic, accepted: events.length, ids: events.map((e) => e.id) }
  }

  async function handlePublish(req: IncomingMessage, res: ServerResponse, topic: string): Promise<void> {
    setCors(req, res)
    const header = (name: string): string | undefined => { const v = req.headers[name]; return typeof v === 'string' ? v : undefined }
    try {
      const answer = await publishCore(topic, header, () => readBody(req, maxBodyBytes), req.socket.remoteAddress ?? '?')
      sendJson(res, 202, answer)
    } catch (err) {
      if (!(err instanceof LiveError)) throw err
      refuse(res, err, retryAfter.get(err as object))
      req.resume()
    }
  }

  /** A publish read off a bare socket (publish-front.ts): every outcome is a response. */
  async function handleRawPublish(request: RawPublishRequest, socket: Socket): Promise<RawResponse> {
    const allow = corsFor(request.headers.get('origin'))
    try {
      const topic = parseTopic(request.topicSegment)
      const answer = await publishCore(topic, (name) => request.headers.get(name), request.body, socket.remoteAddress ?? '?')
      return { status: 202, headers: allow, body: JSON.stringify(answer) }
    } catch (err) {
      if (isColonyError(err)) metrics.refused.inc({ code: err.code })
      else log.error({ err: String(err) }, 'live request failed')
      const wait = retryAfter.get(err as object)
      const head = `${allow}${wait === undefined ? '' : `retry-after: ${wait}\r\n`}`
      if (isColonyError(err)) return { status: err.status, headers: head, body: JSON.stringify({ error: err.toJSON() }) }
      return { status: 500, headers: head, body: JSON.stringify({ error: { code: 'COLONY_INTERNAL', message: 'internal error' } }) }
    }
  }

  function notAllowed(res: ServerResponse, allow: string): never {
    res.setHeader('allow', allow)
    throw new LiveError('LIVE_METHOD_NOT_ALLOWED', `this route takes ${allow}`)
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = URL.parse(req.url ?? '/', 'http://x')
    if (!url) throw new LiveError('LIVE_BAD_REQUEST', 'request target is not a path')
    const path = url.pathname
    if (req.method === 'OPTIONS') {
      setCors(req, res)
      res.writeHead(204, { 'access-control-allow-methods': 'GET, POST, OPTIONS', 'access-control-allow-headers': 'authorization, content-type, last-event-id', 'access-control-max-age': '600' })
      res.end()
      return
    }
    if (options.renderMetrics && path === '/metrics' && req.method === 'GET') {
      const text = await options.renderMetrics()
      res.writeHead(200, { 'content-type': metrics.registry.contentType })
      res.end(text)
      return
    }
    if (await handleOpsRequest(req, res, { registry: metrics.registry, health: () => ({ ...options.healthExtra, node: transport.nodeId, role, dc: options.dc, connections: hub.stats.connections, topics: hub.stats.topics, draining, limits, ...(draining ? { ok: false } : {}) }) })) return
    const ev = EVENTS_RE.exec(path)
    if (ev?.[1]) {
      if (req.method === 'GET') {
        // A subscribe on a kept-alive connection that http already owns: stream on its socket all the same
        // (the parser and request objects stay alive with it, so the bare-socket path is preferred).
        const headers = new Map<string, string>()
        for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers.set(k, v)
        return handleSubscribe(req.socket, { topicSegment: ev[1], query: url.searchParams, headers })
      }
      const topic = parseTopic(ev[1])
      if (req.method === 'POST') return handlePublish(req, res, topic)
      notAllowed(res, 'GET, POST, OPTIONS')
    }
    if (path === '/v1/tokens' && req.method === 'POST') {
      setCors(req, res)
      const issued = await issueOverHttp(req.headers.authorization, () => readBody(req, LIVE_DEFAULTS.server.tokenRequestMaxBytes), { secret: options.token, key: viewerKey, maxTtlMs: viewerMaxTtlMs, now: clock() })
      sendJson(res, 201, issued)
      return
    }
    const tp = TOPIC_RE.exec(path)
    if (tp?.[1]) {
      if (req.method !== 'GET') notAllowed(res, 'GET, OPTIONS')
      const topic = parseTopic(tp[1])
      setCors(req, res)
      sendJson(res, 200, { topic, viewers: await transport.viewerCount(topic), localViewers: hub.viewers(topic) })
      return
    }
    if (path === '/' && (req.method === 'GET' || req.method === 'HEAD')) {
      const html = renderLivePage()
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html), 'cache-control': 'no-cache' })
      res.end(req.method === 'HEAD' ? undefined : html)
      return
    }
    throw new LiveError('LIVE_NOT_FOUND', `no route for ${req.method ?? '?'} ${path}`)
  }

  const maxHeaderBytes = options.maxHeaderBytes ?? LIVE_DEFAULTS.server.maxHeaderBytes
  // This server never listens (the front emits its sockets), so its own headersTimeout/requestTimeout are not
  // enforced: the guard's deadlines bound its connections instead (watchHttp below). The bare-socket fronts hand
  // a head over maxHeaderBytes to http, whose limit is the same: one place answers 431.
  const httpServer = http.createServer({ noDelay: true, keepAliveTimeout: limits.keepAliveMs, requestTimeout: 0, maxHeaderSize: maxHeaderBytes }, (req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (isColonyError(err)) metrics.refused.inc({ code: err.code })
      else log.error({ err: String(err) }, 'live request failed')
      if (!res.headersSent) setCors(req, res)
      sendError(res, err)
    })
  })
  httpServer.maxHeadersCount = LIVE_DEFAULTS.server.maxHeadersCount
  guard.watchHttp(httpServer)
  httpServer.on('clientError', (err: Error, socket) => answerClientError(err, socket, (code) => metrics.refused.inc({ code })))
  const server = createSseFront({
    http: httpServer,
    onSubscribe: (socket, request) => { void handleSubscribe(socket, request) },
    guard,
    overCap: () => {
      const err = new LiveError('LIVE_TOO_MANY_CONNECTIONS', `at most ${limits.maxPendingPerIp} connections per client address that are not streams`)
      metrics.refused.inc({ code: err.code })
      return { status: err.status, body: { error: err.toJSON() }, headers: `${corsFor(undefined)}retry-after: 1\r\n` }
    },
    maxHeadBytes: maxHeaderBytes,
    publish: {
      handle: handleRawPublish,
      maxBodyBytes,
      tooLarge: () => {
        metrics.refused.inc({ code: 'COLONY_BODY_TOO_LARGE' })
        const err = new ColonyError('COLONY_BODY_TOO_LARGE', `request body over ${maxBodyBytes} bytes`, { status: 413 })
        return { status: 413, headers: corsFor(undefined), body: JSON.stringify({ error: err.toJSON() }) }
      },
      maxHeadBytes: maxHeaderBytes,
    },
  })
  const host = options.host ?? LIVE_DEFAULTS.server.host
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen({ host, port: options.port ?? LIVE_DEFAULTS.server.port, reusePort: options.reusePort ?? LIVE_DEFAULTS.server.reusePort, exclusive: true }, () => { server.off('error', reject); resolve() })
  })
  const addr = server.address() as AddressInfo
  const url = `http://${addr.family === 'IPv6' ? `[${addr.address}]` : addr.address}:${addr.port}`
  log.info({ url, node: transport.nodeId }, 'live node listening')

  return {
    url, port: addr.port, hub, transport, registry: metrics.registry,
    async close(closeOptions = {}) {
      if (draining) return
      draining = true
      server.close()
      await hub.drain({ graceMs: closeOptions.graceMs ?? LIVE_DEFAULTS.server.closeGraceMs })
      hub.close()
      httpServer.closeAllConnections()
      guard.destroyAll()
      await Promise.all(forwarders.map((f) => f.close()))
      await transport.close()
    },
  }
}
