// The two HTTP clients of the origin, behind one response shape: undici for the leader's body (CPU per byte), and
// node:http for the requests that move no body (the validator probe), so an agent that never fetches a body
// never makes V8 compile undici's WebAssembly parser with its optimising tier.
import http from 'node:http'
import https from 'node:https'
import { Agent, request } from 'undici'
import { SWARM_DEFAULTS } from '../defaults.ts'

/** An origin response: status, headers and a body that is read once or discarded. */
export type OriginResponse = {
  status: number
  /** A header's value (the first, if repeated). */
  header: (name: string) => string | undefined
  body: AsyncIterable<Uint8Array>
  discard: () => Promise<void>
}

export type OriginRequestInit = { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal }

/** One request, no redirect followed: the caller checks each hop against its allow list. */
export type OriginTransport = (url: string, init: OriginRequestInit) => Promise<OriginResponse>

const first = (v: string | string[] | undefined): string | undefined => (Array.isArray(v) ? v[0] : v)

/**
 * The origin client's own undici dispatcher, never undici's global one: a dependency that touches Node's built-in
 * fetch first (bittorrent-tracker does) can make Node's bundled undici the global dispatcher, and its HTTP/1 parser
 * crashes the process when an origin closes the connection while a body waits unread (nodejs/undici#5360). This
 * package's undici completes or fails such a response. HTTP/1.1 only (undici would otherwise negotiate HTTP/2 over TLS).
 */
const originAgent = new Agent({ allowH2: false, headersTimeout: SWARM_DEFAULTS.origin.idleTimeoutMs, bodyTimeout: SWARM_DEFAULTS.origin.idleTimeoutMs })

/**
 * undici's request(). Not fetch(): the leader's body arrives at the origin's pace in small chunks, and fetch's web
 * stream costs ~2.7× request's CPU per byte (256 MB on loopback: ~600 vs ~220 ms), CPU the leader — the swarm's
 * critical path — is short of.
 */
export const undiciTransport: OriginTransport = async (url, init) => {
  const r = await request(url, { dispatcher: originAgent, method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.signal ? { signal: init.signal } : {}) })
  return { status: r.statusCode, header: (name) => first(r.headers[name]), body: r.body, discard: async () => { await r.body.dump().catch(() => undefined) } }
}

const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 })
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 })

/**
 * node:http: its parser is native code, compiled once with Node. Connections are kept for the next request. A
 * connection silent for SWARM_DEFAULTS.origin.idleTimeoutMs (no header, no body byte) fails, as undici's timeouts do.
 */
export const nodeHttpTransport: OriginTransport = (url, init) => {
  const tls = url.startsWith('https:')
  return new Promise((resolve, reject) => {
    const req = (tls ? https : http).request(url, {
      agent: tls ? httpsAgent : httpAgent, method: init.method ?? 'GET', headers: init.headers ?? {},
      timeout: SWARM_DEFAULTS.origin.idleTimeoutMs, ...(init.signal ? { signal: init.signal } : {}),
    }, (res) => {
      resolve({
        status: res.statusCode ?? 0,
        header: (name) => first(res.headers[name]),
        body: res,
        // Read to its end even when complete (a HEAD answer): the socket goes back to the pool only then.
        discard: () => new Promise<void>((done) => {
          if (res.readableEnded || res.destroyed) { done(); return }
          res.once('end', done).once('close', done).once('error', done).resume()
        }),
      })
    })
    req.once('timeout', () => req.destroy(new Error(`no answer from the origin for ${SWARM_DEFAULTS.origin.idleTimeoutMs} ms`)))
    req.once('error', reject)
    req.end()
  })
}
