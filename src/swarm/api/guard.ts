// Browser-facing checks of the agent's REST API: the Host header (DNS rebinding), the Origin and Sec-Fetch-Site
// headers (cross-site requests), and the body's Content-Type (a cross-site form or text/plain POST needs no preflight).
import type { IncomingMessage } from 'node:http'
import { isIP, type AddressInfo } from 'node:net'
import { HostAllowList } from '../../shared/allow-host.ts'
import { SwarmError } from '../errors.ts'

export type HostCheckOptions = {
  /** The API's bound address, read when a request arrives. */
  address: () => AddressInfo
  /**
   * Extra Host names the API answers to: "name" (any port), "name:port", "*.domain"; "*" turns the check off.
   * @defaultValue []
   */
  allowedHosts?: string[]
}

/** host, or [v6], with an optional port; anything else (userinfo, paths, spaces) is not a Host header. */
const HOST_RE = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/i
const WILDCARDS = new Set(['0.0.0.0', '::'])
const LOOPBACK_RE = /^(127\.\d+\.\d+\.\d+|::1|::ffff:127\.\d+\.\d+\.\d+)$/

function allowsName(names: HostAllowList, authority: string): boolean {
  try { return names.allows(new URL(`http://${authority}`)) } catch { return false }
}

/**
 * Returns a check that throws SWARM_BAD_HOST (421) unless the Host header names the API itself:
 * - the bound address and port (`127.0.0.1:7480`, `[::1]:7480`, `10.0.0.5:7480`);
 * - `localhost:port` when the API is bound to loopback or a wildcard;
 * - any IP literal with the bound port when bound to a wildcard (0.0.0.0, ::), since the agent answers on every
 *   interface and a browser puts the URL's host in Host verbatim, so an IP literal never comes from a DNS name;
 * - a name given in `allowedHosts`.
 * A DNS-rebinding page reaches the API under the attacker's name, which none of these match.
 */
export function createHostCheck(options: HostCheckOptions): (req: IncomingMessage) => void {
  const names = new HostAllowList((options.allowedHosts ?? []).filter((h) => h.trim() !== '*'))
  const any = (options.allowedHosts ?? []).some((h) => h.trim() === '*')
  return (req) => {
    if (any) return
    const header = req.headers.host ?? ''
    const m = HOST_RE.exec(header)
    if (m) {
      const hostname = (m[1] as string).toLowerCase()
      const bare = hostname.replace(/^\[|\]$/g, '')
      const { address, port } = options.address()
      const portOk = (m[2] === undefined ? 80 : Number(m[2])) === port
      if (portOk && isIP(bare) !== 0 && (bare === address || WILDCARDS.has(address))) return
      if (portOk && hostname === 'localhost' && (LOOPBACK_RE.test(address) || WILDCARDS.has(address))) return
      if (allowsName(names, m[2] === undefined ? hostname : `${hostname}:${m[2]}`)) return
    }
    throw new SwarmError('SWARM_BAD_HOST', `this API does not answer to Host "${header.slice(0, 100)}" (add the name with --api-allowed-host)`, {
      details: { host: header.slice(0, 255) },
    })
  }
}

/**
 * Throws SWARM_CROSS_ORIGIN (403) for a request a browser sent on behalf of another site: an Origin header that is
 * not the API's own (`http://` or `https://` + the already checked Host; `null` included), or Sec-Fetch-Site
 * `cross-site` / `same-site` (set even on <img> and form requests, which carry no Origin on a GET).
 * Non-browser clients (curl, colony's client) send neither header.
 */
export function assertSameOrigin(req: IncomingMessage): void {
  const site = req.headers['sec-fetch-site']
  if (site === 'cross-site' || site === 'same-site') {
    throw new SwarmError('SWARM_CROSS_ORIGIN', `cross-origin browser requests are refused (Sec-Fetch-Site: ${site})`)
  }
  const origin = req.headers.origin
  if (origin === undefined) return
  const host = (req.headers.host ?? '').toLowerCase()
  const o = origin.toLowerCase()
  if (o !== `http://${host}` && o !== `https://${host}`) {
    throw new SwarmError('SWARM_CROSS_ORIGIN', 'cross-origin browser requests are refused', { details: { origin: origin.slice(0, 255) } })
  }
}

/** True when the request carries a body (a length above zero or a chunked transfer). */
function hasBody(req: IncomingMessage): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0
}

/**
 * Throws SWARM_UNSUPPORTED_MEDIA_TYPE (415) for a POST, or any other call with a body, whose Content-Type is not
 * application/json (parameters such as charset allowed). A browser can send text/plain, form and multipart
 * bodies across origins without a CORS preflight; application/json needs one, which this API never grants.
 */
export function assertJsonBody(req: IncomingMessage): void {
  const method = req.method ?? 'GET'
  if (method === 'GET' || method === 'HEAD') return
  if (method !== 'POST' && !hasBody(req)) return
  const type = (req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase()
  if (type !== 'application/json') {
    throw new SwarmError('SWARM_UNSUPPORTED_MEDIA_TYPE', `${method} needs Content-Type: application/json`, {
      details: { contentType: (req.headers['content-type'] ?? '').slice(0, 100) },
    })
  }
}
