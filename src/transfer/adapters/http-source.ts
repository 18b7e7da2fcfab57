// HTTP(S) origin: one undici Agent (keep-alive pools, bounded connections per origin), streaming bodies,
// redirects followed by hand so every hop is checked against the allow-list, errors classified for retry.
import type { Dispatcher } from 'undici'
import { Agent } from './undici-lean.ts'
import { parseRetryAfter } from '../../shared/backoff.ts'
import { Readable } from 'node:stream'
import type { ChunkConsumer, DirectGetOptions, DirectHead, DirectResult, Source, SourceObject } from '../core/ports.ts'
import { Http1Client } from './http1/pool.ts'
import type { ResponseHead } from './http1/response-parser.ts'
import type { FlowControl } from './http1/connection.ts'
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
  #lean: Http1Client | undefined

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
      url = this.#nextHop(url, status, location, header(res, 'retry-after'), hop, locator)
    }
  }

  /** A non-2xx answer: the URL to follow for a redirect, else the TransferError it means (thrown). */
  #nextHop(url: URL, status: number, location: string | undefined, retryAfter: string | undefined, hop: number, locator: string): URL {
    const max = this.#options.maxRedirects ?? HTTP.maxRedirects
    if (status >= 300 && status < 400 && location) {
      if (hop >= max) throw new TransferError(TRANSFER_CODES.HTTP_STATUS, `GET ${locator}: more than ${max} redirects`)
      let next: URL
      try { next = new URL(location, url) } catch { throw new TransferError(TRANSFER_CODES.BAD_URI, `GET ${url.href} redirects to a malformed URL`) }
      if (next.protocol !== 'http:' && next.protocol !== 'https:') {
        throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `GET ${url.href} redirects to a non-http URL ${next.href}`)
      }
      if (this.#options.allowRedirect && !this.#options.allowRedirect(next)) {
        throw new TransferError(TRANSFER_CODES.FORBIDDEN_HOST, `GET ${url.href} redirects to ${next.href}, a host not allowed (see --allow-host)`)
      }
      return next
    }
    if (status === 404 || status === 410) {
      throw new TransferError(TRANSFER_CODES.NOT_FOUND, `GET ${url.href}: ${status} not found`, { status: 404, details: { url: url.href, status } })
    }
    const retryable = status >= 500 || status === 429 || status === 408
    const retryAfterMs = parseRetryAfter(retryAfter)
    throw new TransferError(status === 429 || status === 503 ? TRANSFER_CODES.HTTP_THROTTLED : TRANSFER_CODES.HTTP_STATUS, `GET ${url.href}: HTTP ${status}`, {
      retryable, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}), details: { url: url.href, status },
    })
  }

  /**
   * GET through the lean HTTP/1.1 client (http1/): each socket read goes straight to the consumer, with no stream,
   * no buffer per read and no copy in JS; a body without a consumer becomes a stream. Redirects and statuses are
   * handled as by get().
   */
  async getDirect(locator: string, options: DirectGetOptions): Promise<DirectResult> {
    let url: URL
    try { url = new URL(locator) } catch { throw new TransferError(TRANSFER_CODES.BAD_URI, `not a URL: ${locator}`) }
    const client = (this.#lean ??= new Http1Client({
      connections: this.#options.connections ?? HTTP.connections, keepAliveMs: HTTP.keepAliveMs, userAgent: this.#options.userAgent ?? HTTP.userAgent,
      connectTimeoutMs: HTTP.connectTimeoutMs, headersTimeoutMs: this.#options.headersTimeoutMs ?? HTTP.headersTimeoutMs,
      bodyTimeoutMs: this.#options.bodyTimeoutMs ?? HTTP.bodyTimeoutMs, maxHeadBytes: HTTP.maxHeadBytes, maxHeaders: HTTP.maxHeaders,
    }))
    for (let hop = 0; ; hop++) {
      const label = `GET ${url.href}`
      const ex = new DirectExchange(url, options.open)
      const done = client.request({ url, method: 'GET', label, signal: options.signal }, ex)
      const first = await Promise.race([done.then(() => undefined, (err: unknown) => ({ err })), ex.streamed])
      if (first && 'body' in first) {
        // The body streams on: the request's end closes the stream, its failure fails it.
        done.then(() => first.body.push(null), (err: unknown) => first.body.destroy(toTransferError(err, label)))
        return first
      }
      // A non-2xx answer whose body was cut short or too long to drop still means its status.
      if (first && (ex.status === 0 || !ex.isError || ex.consumer)) throw toTransferError(first.err, label)
      if (ex.consumer) {
        if (ex.size !== undefined && ex.bytes !== ex.size) throw new TransferError(TRANSFER_CODES.TRUNCATED, `${label}: got ${ex.bytes} of ${ex.size} bytes`, { retryable: true })
        return ex.bytes
      }
      url = this.#nextHop(url, ex.status, ex.headers?.get('location'), ex.headers?.get('retry-after'), hop, locator)
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
    this.#lean?.close()
    await this.#agent.close()
  }
}

/**
 * One hop of getDirect: a 2xx body goes to the consumer, or into a stream (a copy of each read, the socket paused
 * while the stream is full) when `open` gave none; any other answer's body is dropped, up to a bound.
 */
class DirectExchange {
  readonly #url: URL
  readonly #open: (head: DirectHead) => ChunkConsumer | undefined
  #toStream: ((o: SourceObject & { body: Readable }) => void) | undefined
  #stream: Readable | undefined
  #flow: FlowControl | undefined
  /** Settles with the body as a stream once a 2xx answer came without a consumer (never, otherwise). */
  readonly streamed: Promise<SourceObject & { body: Readable }>
  status = 0
  headers: Map<string, string> | undefined
  consumer: ChunkConsumer | undefined
  size: number | undefined
  bytes = 0

  constructor(url: URL, open: (head: DirectHead) => ChunkConsumer | undefined) {
    this.#url = url
    this.#open = open
    this.streamed = new Promise((resolve) => { this.#toStream = resolve })
  }

  get isError(): boolean { return this.status < 200 || this.status >= 300 }

  onHead(h: ResponseHead, flow: FlowControl): void {
    this.status = h.status
    this.headers = h.headers
    if (this.isError) return
    const size = h.framing.kind === 'length' && !h.headers.has('content-encoding') ? h.framing.length : undefined
    this.size = size
    const etag = h.headers.get('etag')
    const type = h.headers.get('content-type')
    const lm = h.headers.get('last-modified')
    const modified = lm ? Date.parse(lm) : NaN
    const head: DirectHead = {
      url: this.#url.href, ...(size !== undefined ? { size } : {}), ...(etag ? { etag } : {}), ...(type ? { contentType: type } : {}),
      ...(Number.isFinite(modified) ? { modified } : {}),
    }
    this.consumer = this.#open(head)
    if (this.consumer) return
    this.#flow = flow
    this.#stream = new Readable({
      read: () => this.#flow?.resume(),
      // A reader that gives up (a failed upload) ends the request: its connection closes.
      destroy: (err, cb) => { flow.abort(err ?? new TransferError(TRANSFER_CODES.ABORTED, `GET ${this.#url.href}: the body's reader stopped`)); cb(err) },
    })
    this.#toStream?.({ ...head, body: this.#stream })
  }

  onBody(buf: Buffer, start: number, end: number): void {
    this.bytes += end - start
    if (this.consumer) { this.consumer.write(buf.subarray(start, end)); return }
    if (this.#stream) {
      if (!this.#stream.push(Buffer.from(buf.subarray(start, end)))) this.#flow?.pause()
      return
    }
    if (this.bytes > HTTP.maxDiscardBytes) throw new TransferError(TRANSFER_CODES.HTTP_STATUS, `HTTP ${this.status} with a body over ${HTTP.maxDiscardBytes} bytes`)
  }
}
