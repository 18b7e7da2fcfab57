// The HTTP origin, the source of truth: its requests (every redirect hop checked against the allow list), the
// validator probe that keys an object version, and the warm-up of the HTTP client.
import { createHash } from 'node:crypto'
import { Agent, request } from 'undici'
import type { HostAllowList } from '../../shared/allow-host.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { SwarmError } from '../errors.ts'

export type OriginProbe = {
  /** The URL as the caller named it: the identity of the object. */
  url: string
  /** Where the bytes are fetched from after allowed redirects. */
  fetchUrl: string
  length: number
  etag?: string
  lastModified?: string
  /** "etag:…" or "lm:…": what makes two probes the same object version. */
  validator: string
  /** sha256(url, validator, length), hex: the index key and the on-disk directory name. */
  key: string
}

/**
 * The origin client's own dispatcher, never undici's global one: a dependency that touches Node's built-in fetch
 * first (bittorrent-tracker does) can make Node's bundled undici the global dispatcher, and its HTTP/1 parser
 * crashes the process when an origin closes the connection while a body waits unread (nodejs/undici#5360). This
 * package's undici completes or fails such a response. HTTP/1.1 only (undici would otherwise negotiate HTTP/2 over TLS).
 */
const originAgent = new Agent({ allowH2: false })

/** An origin response: status, headers and a body that is read once or discarded. */
export type OriginResponse = {
  status: number
  /** A header's value (the first, if repeated). */
  header: (name: string) => string | undefined
  body: AsyncIterable<Uint8Array>
  discard: () => Promise<void>
}

/**
 * undici's request(), following redirects itself so every hop is checked against the allow list. Not fetch(): the
 * leader's body arrives at the origin's pace in small chunks, and fetch's web stream cost ~2.7× request's CPU per
 * byte (256 MB on loopback: ~600 vs ~220 ms), CPU the leader — the swarm's critical path — is short of.
 */
export async function requestAllowed(url: string, init: { method?: 'GET' | 'HEAD'; headers?: Record<string, string>; signal?: AbortSignal }, allow: HostAllowList): Promise<{ res: OriginResponse; finalUrl: string }> {
  let current = url
  for (let hop = 0; ; hop++) {
    const u = new URL(current)
    allow.assert(u)
    const r = await request(current, { dispatcher: originAgent, method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.signal ? { signal: init.signal } : {}) })
    const header = (name: string): string | undefined => {
      const v = r.headers[name]
      return Array.isArray(v) ? v[0] : v
    }
    const res: OriginResponse = { status: r.statusCode, header, body: r.body, discard: async () => { await r.body.dump().catch(() => undefined) } }
    const loc = header('location')
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.discard()
      if (hop >= SWARM_DEFAULTS.origin.maxRedirects) throw new SwarmError('SWARM_ORIGIN_FAILED', `too many redirects from ${url}`, { details: { url } })
      current = new URL(loc, current).href
      continue
    }
    return { res, finalUrl: current }
  }
}

/**
 * One request through the origin client to a local URL (the agent's own /healthz) at start-up: undici compiles its
 * HTTP parser on first use, and a fleet asked for one object at once otherwise paid that on every agent at the
 * moment the leader needs the CPU. Best effort: a failure only means the first probe pays it.
 */
export async function warmUpOriginClient(localUrl: string): Promise<void> {
  try {
    const r = await request(localUrl, { dispatcher: originAgent })
    await r.body.dump()
  } catch { /* the first probe pays it */ }
}

export function keyOf(url: string, validator: string, length: number): string {
  return createHash('sha256').update(`${url}\n${validator}\n${length}`).digest('hex')
}

/**
 * HEAD (or a one-byte GET when HEAD is refused) to learn length and validator without moving the body.
 * No validator means no safe index key: refuse rather than risk serving a stale torrent for a changed object.
 */
export async function probeOrigin(url: string, allow: HostAllowList, signal?: AbortSignal): Promise<OriginProbe> {
  let res: OriginResponse
  let finalUrl: string
  try {
    ({ res, finalUrl } = await requestAllowed(url, { method: 'HEAD', ...(signal ? { signal } : {}) }, allow))
    await res.discard()
    if (res.status === 405 || res.status === 501) {
      ({ res, finalUrl } = await requestAllowed(url, { method: 'GET', headers: { range: 'bytes=0-0' }, ...(signal ? { signal } : {}) }, allow))
      await res.discard()
    }
  } catch (err) {
    if (err instanceof SwarmError || (err as { code?: string }).code === 'COLONY_FORBIDDEN_TARGET') throw err
    throw new SwarmError('SWARM_ORIGIN_FAILED', `origin unreachable: ${url}: ${(err as Error).message}`, { cause: err, details: { url } })
  }
  if (res.status < 200 || res.status > 299) throw new SwarmError('SWARM_ORIGIN_FAILED', `origin answered ${res.status} for ${url}`, { details: { url, status: res.status } })
  let length = Number(res.header('content-length'))
  const cr = /\/(\d+)\s*$/.exec(res.header('content-range') ?? '')
  if (res.status === 206 && cr?.[1]) length = Number(cr[1])
  if (!Number.isFinite(length) || length <= 0 || res.header('content-length') === undefined && !cr) {
    throw new SwarmError('SWARM_ORIGIN_FAILED', `origin gave no usable Content-Length for ${url}`, { details: { url } })
  }
  const etag = res.header('etag') ?? undefined
  const lastModified = res.header('last-modified') ?? undefined
  if (!etag && !lastModified) {
    throw new SwarmError('SWARM_ORIGIN_FAILED', `origin gave neither ETag nor Last-Modified for ${url}; cannot key the object`, { details: { url } })
  }
  const validator = etag ? `etag:${etag}` : `lm:${lastModified}`
  return { url, fetchUrl: finalUrl, length, validator, key: keyOf(url, validator, length), ...(etag ? { etag } : {}), ...(lastModified ? { lastModified } : {}) }
}
