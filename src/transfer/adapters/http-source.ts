// HTTP(S) origin through colony's HTTP/1.1 client (http1/): keep-alive pools per origin with bounded connections,
// bodies handed from each socket read straight to their consumer (or streamed), redirects followed by hand so every
// hop is checked against the allow-list, errors classified for retry.
import { Readable } from 'node:stream'
import { parseRetryAfter } from '../../shared/backoff.ts'
import type { ChunkConsumer, DirectGetOptions, DirectHead, DirectResult, Source, SourceObject } from '../core/ports.ts'
import { TransferError, TRANSFER_CODES, toTransferError } from '../errors.ts'
import { parseLength } from '../core/lengths.ts'
import { TRANSFER_DEFAULTS } from '../defaults.ts'
import type { FlowControl } from './http1/connection.ts'
import { Http1Client } from './http1/pool.ts'
import type { ResponseHead } from './http1/response-parser.ts'

export type HttpSourceOptions = {
  /** Connections per origin. @defaultValue TRANSFER_DEFAULTS.http.connections */
  connections?: number
  /** GETs and HEADs in flight on one connection (1: no pipelining). @defaultValue TRANSFER_DEFAULTS.http.pipelining */
  pipelining?: number
  /** See Http1ClientOptions.pipeliningMaxWaitMs. @defaultValue TRANSFER_DEFAULTS.http.pipeliningMaxWaitMs */
  pipeliningMaxWaitMs?: number
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

type Fetched = { head: DirectHead; result: DirectResult }

export class HttpSource implements Source {
  readonly #options: HttpSourceOptions
  readonly #client: Http1Client

  constructor(options: HttpSourceOptions = {}) {
    this.#options = options
    this.#client = new Http1Client({
      connections: options.connections ?? HTTP.connections, pipelining: options.pipelining ?? HTTP.pipelining,
      pipeliningMaxWaitMs: options.pipeliningMaxWaitMs ?? HTTP.pipeliningMaxWaitMs, keepAliveMs: HTTP.keepAliveMs, userAgent: options.userAgent ?? HTTP.userAgent,
      connectTimeoutMs: HTTP.connectTimeoutMs, headersTimeoutMs: options.headersTimeoutMs ?? HTTP.headersTimeoutMs,
      bodyTimeoutMs: options.bodyTimeoutMs ?? HTTP.bodyTimeoutMs, maxHeadBytes: HTTP.maxHeadBytes, maxHeaders: HTTP.maxHeaders,
    })
  }

  /**
   * One request with its redirects: a 2xx body goes to the consumer `open` returns (a number of bytes once it
   * ended), or streams (a SourceObject at once) when `open` gives none.
   */
  async #fetch(locator: string, method: 'GET' | 'HEAD', signal: AbortSignal | undefined, open: (head: DirectHead) => ChunkConsumer | undefined): Promise<Fetched> {
    let url: URL
    try { url = new URL(locator) } catch { throw new TransferError(TRANSFER_CODES.BAD_URI, `not a URL: ${locator}`) }
    for (let hop = 0; ; hop++) {
      const label = `${method} ${url.href}`
      const ex = new DirectExchange(url, method === 'HEAD', open)
      const done = this.#client.request({ url, method, label, signal }, ex)
      const first = await Promise.race([done.then(() => undefined, (err: unknown) => ({ err })), ex.streamed])
      if (first && 'body' in first) {
        // The body streams on: the request's end closes the stream, its failure fails it.
        done.then(() => first.body.push(null), (err: unknown) => first.body.destroy(toTransferError(err, label)))
        return { head: first, result: first }
      }
      // A non-2xx answer whose body was cut short or too long to drop still means its status.
      if (first && (ex.status === 0 || !ex.isError || ex.consumer)) throw toTransferError(first.err, label)
      if (ex.consumer && ex.head) {
        if (ex.head.size !== undefined && method === 'GET' && ex.bytes !== ex.head.size) {
          throw new TransferError(TRANSFER_CODES.TRUNCATED, `${label}: got ${ex.bytes} of ${ex.head.size} bytes`, { retryable: true })
        }
        return { head: ex.head, result: ex.bytes }
      }
      url = this.#nextHop(url, ex.status, ex.headers?.get('location'), ex.headers?.get('retry-after'), hop, locator)
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

  /** GET whose body goes from each socket read straight to the consumer (no stream, no buffer per read, no copy). */
  async getDirect(locator: string, options: DirectGetOptions): Promise<DirectResult> {
    return (await this.#fetch(locator, 'GET', options.signal, options.open)).result
  }

  async get(locator: string, options: { signal?: AbortSignal } = {}): Promise<SourceObject & { url: string; modified?: number }> {
    const { head, result } = await this.#fetch(locator, 'GET', options.signal, () => undefined)
    // A body of 0 bytes may end before it could stream: it is then an empty stream.
    return typeof result === 'object' ? { ...result, url: head.url } : { ...head, body: Readable.from([]) }
  }

  async head(locator: string, options: { signal?: AbortSignal } = {}): Promise<{ size?: number; etag?: string; modified?: number }> {
    const { head } = await this.#fetch(locator, 'HEAD', options.signal, () => ({ write: () => {} }))
    return { ...(head.size !== undefined ? { size: head.size } : {}), ...(head.etag ? { etag: head.etag } : {}), ...(head.modified !== undefined ? { modified: head.modified } : {}) }
  }

  /** A playlist, refused (TRANSFER_PLAYLIST_TOO_LARGE) as soon as it is known to be over `maxBytes`. */
  async getText(locator: string, options: { signal?: AbortSignal; maxBytes: number }): Promise<{ text: string; url: string; contentType?: string }> {
    const parts: Buffer[] = []
    let size = 0
    const { head } = await this.#fetch(locator, 'GET', options.signal, (h) => {
      const tooLarge = (what: string): TransferError => new TransferError(TRANSFER_CODES.PLAYLIST_TOO_LARGE, `${h.url} is ${what} the ${options.maxBytes}-byte playlist limit`)
      if (h.size !== undefined && h.size > options.maxBytes) throw tooLarge(`${h.size} bytes, over`)
      return {
        write: (chunk) => {
          size += chunk.length
          if (size > options.maxBytes) throw tooLarge('over')
          parts.push(Buffer.from(chunk))
        },
      }
    })
    return { text: Buffer.concat(parts, size).toString('utf8'), url: head.url, ...(head.contentType ? { contentType: head.contentType } : {}) }
  }

  async close(): Promise<void> {
    this.#client.close()
  }
}

/**
 * One hop of getDirect: a 2xx body goes to the consumer, or into a stream (a copy of each read, the socket paused
 * while the stream is full) when `open` gave none; any other answer's body is dropped, up to a bound.
 */
class DirectExchange {
  readonly #url: URL
  readonly #isHead: boolean
  readonly #open: (head: DirectHead) => ChunkConsumer | undefined
  #toStream: ((o: DirectHead & { body: Readable }) => void) | undefined
  #stream: Readable | undefined
  #flow: FlowControl | undefined
  /** Settles with the body as a stream once a 2xx answer came without a consumer (never, otherwise). */
  readonly streamed: Promise<DirectHead & { body: Readable }>
  status = 0
  headers: Map<string, string> | undefined
  consumer: ChunkConsumer | undefined
  head: DirectHead | undefined
  bytes = 0

  constructor(url: URL, isHead: boolean, open: (head: DirectHead) => ChunkConsumer | undefined) {
    this.#url = url
    this.#isHead = isHead
    this.#open = open
    this.streamed = new Promise((resolve) => { this.#toStream = resolve })
  }

  get isError(): boolean { return this.status < 200 || this.status >= 300 }

  onHead(h: ResponseHead, flow: FlowControl): void {
    this.status = h.status
    this.headers = h.headers
    if (this.isError) return
    const size = this.#size(h)
    const etag = h.headers.get('etag')
    const type = h.headers.get('content-type')
    const lm = h.headers.get('last-modified')
    const modified = lm ? Date.parse(lm) : NaN
    const head: DirectHead = {
      url: this.#url.href, ...(size !== undefined ? { size } : {}), ...(etag ? { etag } : {}), ...(type ? { contentType: type } : {}),
      ...(Number.isFinite(modified) ? { modified } : {}),
    }
    this.head = head
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

  /** The body's size: its framing's, or for HEAD the Content-Length (checked); none for an encoded body. */
  #size(h: ResponseHead): number | undefined {
    if (h.headers.has('content-encoding')) return undefined
    if (h.framing.kind === 'length') return h.framing.length
    const text = this.#isHead ? h.headers.get('content-length') : undefined
    return text === undefined ? undefined : parseLength(text, `HEAD ${this.#url.href}: Content-Length`)
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
