// HTTP(S) origin: one undici Agent (keep-alive pools, bounded connections per origin), streaming bodies,
// redirects followed by hand so every hop is checked against the allow-list, errors classified for retry.
import type { Dispatcher } from 'undici'
import { Agent } from './undici-lean.ts'
import { parseRetryAfter } from '../../shared/backoff.ts'
import type { Source, SourceObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { parseLength } from '../core/lengths.ts'
import { readPlaylistBody } from './read-playlist-body.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'

export type HttpSourceOptions = {
  /** Connections per origin. @defaultValue TRANSFER_DEFAULTS.http.connections */
  connections?: number
  /** Time to response headers. @defaultValue TRANSFER_DEFAULTS.http.headersTimeoutMs */
  headersTimeoutMs?: number
  /** Max idle time between body chunks. @defaultValue TRANSFER_DEFAULTS.http.bodyTimeoutMs */
  bodyTimeoutMs?: number
  /** Redirect hops followed. @defaultValue TRANSFER_DEFAULTS.http.maxRedirects */
  maxRedirects?: number
  /** Whether a redirect target may be fetched; a refused hop is TRANSFER_FORBIDDEN_HOST. @defaultValue allow all */
  allowRedirect?: (url: URL) => boolean
  /** Sent as User-Agent. @defaultValue TRANSFER_DEFAULTS.http.userAgent */
  userAgent?: string
}

const HTTP = TRANSFER_DEFAULTS.http

type Response = Dispatcher.ResponseData

function header(res: Response, name: string): string | undefined {
  const v = res.headers[name]
  return Array.isArray(v) ? v[0] : v
}

/** The announced Content-Length, or undefined when there is none; a malformed one throws TRANSFER_BAD_LENGTH (the body is dropped). */
function contentLength(res: Response, label: string): number | undefined {
  const text = header(res, 'content-length')
  if (text === undefined) return undefined
  try {
    return parseLength(text, `${label}: Content-Length`)
  } catch (err) {
    res.body.on('error', () => {}).destroy()
    throw err
  }
}

export class HttpSource implements Source {
  readonly #agent: Agent
  readonly #options: HttpSourceOptions

  constructor(options: HttpSourceOptions = {}) {
    this.#options = options
    // HTTP/1.1 only (undici would otherwise negotiate HTTP/2 over TLS): `connections` is then the parallelism per origin.
    this.#agent = new Agent({
      allowH2: false,
      connections: options.connections ?? HTTP.connections,
      keepAliveTimeout: HTTP.keepAliveMs,
      headersTimeout: options.headersTimeoutMs ?? HTTP.headersTimeoutMs,
      bodyTimeout: options.bodyTimeoutMs ?? HTTP.bodyTimeoutMs,
      connect: { timeout: HTTP.connectTimeoutMs },
    })
  }

  /** GET with redirects; resolves on a 2xx with the body unread. */
  async #request(locator: string, signal: AbortSignal | undefined, method: 'GET' | 'HEAD' = 'GET'): Promise<{ res: Response; url: URL }> {
    let url: URL
    try { url = new URL(locator) } catch { throw new TransferError(TRANSFER_CODES.BAD_URI, `not a URL: ${locator}`) }
    const max = this.#options.maxRedirects ?? HTTP.maxRedirects
    for (let hop = 0; ; hop++) {
      let res: Response
      try {
        res = await this.#agent.request({
          origin: url.origin, path: `${url.pathname}${url.search}`, method,
          headers: { 'user-agent': this.#options.userAgent ?? HTTP.userAgent, accept: '*/*' },
          ...(signal ? { signal } : {}),
        })
      } catch (err) {
        // Before the headers are delivered, undici reports a Content-Length its parser refused ("1.5", "12, 13") as a
        // length mismatch; a body cut short fails later, on the body stream. So here it is a malformed header.
        if ((err as { code?: string }).code === 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH') {
          throw new TransferError(TRANSFER_CODES.BAD_LENGTH, `${method} ${url.href}: the origin sent a malformed Content-Length`, { cause: err })
        }
        throw toTransferError(err, `${method} ${url.href}`)
      }
      const status = res.statusCode
      if (status >= 200 && status < 300) return { res, url }
      const location = header(res, 'location')
      await res.body.dump().catch(() => undefined)
      if (status >= 300 && status < 400 && location) {
        if (hop >= max) throw new TransferError(TRANSFER_CODES.HTTP_STATUS, `GET ${locator}: more than ${max} redirects`)
        const next = new URL(location, url)
        if (next.protocol !== 'http:' && next.protocol !== 'https:') {
          throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `GET ${url.href} redirects to a non-http URL ${next.href}`)
        }
        if (this.#options.allowRedirect && !this.#options.allowRedirect(next)) {
          throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `GET ${url.href} redirects to ${next.href}, a host not allowed (see --allow-host)`)
        }
        url = next
        continue
      }
      if (status === 404 || status === 410) {
        throw new TransferError(TRANSFER_CODES.NOT_FOUND, `GET ${url.href}: ${status} not found`, { status: 404, details: { url: url.href, status } })
      }
      const retryable = status >= 500 || status === 429 || status === 408
      const retryAfterMs = parseRetryAfter(header(res, 'retry-after'))
      throw new TransferError(status === 429 || status === 503 ? TRANSFER_CODES.HTTP_THROTTLED : TRANSFER_CODES.HTTP_STATUS, `GET ${url.href}: HTTP ${status}`, {
        retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), details: { url: url.href, status },
      })
    }
  }

  async get(locator: string, options: { signal?: AbortSignal } = {}): Promise<SourceObject & { url: string; modified?: number }> {
    const { res, url } = await this.#request(locator, options.signal)
    const len = contentLength(res, `GET ${url.href}`)
    const etag = header(res, 'etag')
    const type = header(res, 'content-type')
    const lm = header(res, 'last-modified')
    const modified = lm ? Date.parse(lm) : NaN
    return {
      body: res.body, url: url.href,
      ...(len !== undefined && !header(res, 'content-encoding') ? { size: len } : {}),
      ...(etag ? { etag } : {}), ...(type ? { contentType: type } : {}),
      ...(Number.isFinite(modified) ? { modified } : {}),
    }
  }

  async head(locator: string, options: { signal?: AbortSignal } = {}): Promise<{ size?: number; etag?: string; modified?: number }> {
    const { res, url } = await this.#request(locator, options.signal, 'HEAD')
    const len = contentLength(res, `HEAD ${url.href}`)
    const etag = header(res, 'etag')
    const lm = header(res, 'last-modified')
    const modified = lm ? Date.parse(lm) : NaN
    return { ...(len !== undefined ? { size: len } : {}), ...(etag ? { etag } : {}), ...(Number.isFinite(modified) ? { modified } : {}) }
  }

  async getText(locator: string, options: { signal?: AbortSignal; maxBytes: number }): Promise<{ text: string; url: string; contentType?: string }> {
    const { res, url } = await this.#request(locator, options.signal)
    const len = contentLength(res, `GET ${url.href}`) ?? NaN
    let buffer: Buffer
    try {
      buffer = await readPlaylistBody(res.body, { maxBytes: options.maxBytes, declaredSize: len, label: url.href })
    } catch (err) {
      throw toTransferError(err, `GET ${url.href}`)
    }
    const size = buffer.length
    if (Number.isFinite(len) && size !== len) {
      throw new TransferError(TRANSFER_CODES.TRUNCATED, `GET ${url.href}: got ${size} of ${len} bytes`, { retryable: true })
    }
    const type = header(res, 'content-type')
    return { text: buffer.toString('utf8'), url: url.href, ...(type ? { contentType: type } : {}) }
  }

  async close(): Promise<void> {
    await this.#agent.close()
  }
}
