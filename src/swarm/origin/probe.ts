// The HTTP origin, the source of truth: its requests (every redirect hop checked against the allow list) and the
// validator probe that keys an object version.
import { createHash } from 'node:crypto'
import type { HostAllowList } from '../../shared/allow-host.ts'
import { SWARM_DEFAULTS } from '../defaults.ts'
import { SwarmError } from '../errors.ts'
import { nodeHttpTransport, undiciTransport, type OriginRequestInit, type OriginResponse, type OriginTransport } from './origin-http.ts'

export type { OriginResponse } from './origin-http.ts'

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
 * One request through `transport` (undici unless named), following redirects itself so every hop is checked
 * against the allow list.
 */
export async function requestAllowed(url: string, init: OriginRequestInit, allow: HostAllowList, transport: OriginTransport = undiciTransport): Promise<{ res: OriginResponse; finalUrl: string }> {
  let current = url
  for (let hop = 0; ; hop++) {
    const u = new URL(current)
    allow.assert(u)
    const res = await transport(current, init)
    const loc = res.header('location')
    if (res.status >= 300 && res.status < 400 && loc) {
      await res.discard()
      if (hop >= SWARM_DEFAULTS.origin.maxRedirects) throw new SwarmError('SWARM_ORIGIN_FAILED', `too many redirects from ${url}`, { details: { url } })
      current = new URL(loc, current).href
      continue
    }
    return { res, finalUrl: current }
  }
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
    ({ res, finalUrl } = await requestAllowed(url, { method: 'HEAD', ...(signal ? { signal } : {}) }, allow, nodeHttpTransport))
    await res.discard()
    if (res.status === 405 || res.status === 501) {
      ({ res, finalUrl } = await requestAllowed(url, { method: 'GET', headers: { range: 'bytes=0-0' }, ...(signal ? { signal } : {}) }, allow, nodeHttpTransport))
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
