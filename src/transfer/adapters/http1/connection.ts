// One keep-alive HTTP/1.1 connection of the copy path's client. It carries one request at a time, or with pipelining
// up to `depth` requests sent before their answers: requests taken in one turn of the event loop go out in one write,
// and the answers are parsed in order from the same reads. Socket reads land in a buffer shared by every connection
// of the thread (`onread`): no buffer is allocated per read, and each read is parsed and handed to the exchanges
// before the next read can overwrite it. A parse failure, a timeout or an abort closes this connection only: the
// request being answered fails with a TransferError, and the requests queued behind it, of which no byte arrived,
// fail with `replay` set so the pool sends them again.
import net from 'node:net'
import type { ConnectionOptions as TlsConnectOptions } from 'node:tls'
import { TransferError, TRANSFER_CODES, toTransferError } from '../../errors.ts'
import { ResponseParser, type ParserLimits, type ResponseHead } from './response-parser.ts'
import { performance } from 'node:perf_hooks'

/** Flow control of a response's body, for a consumer slower than the socket (a stream with backpressure). */
export type FlowControl = { pause(): void; resume(): void; abort(err: Error): void }

/** What one request does with its response; both calls may throw to abort the request (the connection closes). */
export type Exchange = {
  onHead(head: ResponseHead, flow: FlowControl): void
  /** Body bytes `buf[start, end)`: valid during the call only. */
  onBody(buf: Buffer, start: number, end: number): void
}

export type ConnectionOptions = ParserLimits & {
  /** Trusted CA certificates for https: instead of Node's (which NODE_EXTRA_CA_CERTS extends). @defaultValue Node's */
  ca?: string | Buffer
  connectTimeoutMs: number
  headersTimeoutMs: number
  bodyTimeoutMs: number
}

export type Endpoint = { protocol: 'http:' | 'https:'; hostname: string; port: number }

/** How a request ended: whether the connection may carry another. */
export type RequestEnd = { reusable: boolean; keepAliveMs?: number }

export type RequestOptions = {
  isHead: boolean
  label: string
  signal?: AbortSignal | undefined
  body?: Buffer | undefined
  /** Queue the request text for the write at the end of this turn of the event loop (pipelining). */
  batch?: boolean
}

type Pending = {
  resolve: (end: RequestEnd) => void
  reject: (err: Error) => void
  exchange: Exchange
  options: RequestOptions
  /** Bytes of this request's response received. */
  got: number
  parser?: ResponseParser
  head?: ResponseHead
  /** Aborted while queued behind another: its answer is read and dropped. */
  dropped?: boolean
  onAbort?: () => void
}

/** The read buffer of every connection of this thread (see the header comment). */
let sharedReadBuffer: Buffer | undefined
const READ_BUFFER_BYTES = 256 * 1024
const DROP: Exchange = { onHead: () => {}, onBody: () => {} }

/** Opens a connection (TLS for https:, ALPN http/1.1); rejects with TRANSFER_TIMEOUT or TRANSFER_CONNECTION. */
export function connect(ep: Endpoint, options: ConnectionOptions, label: string): Promise<Http1Connection> {
  const buffer = (sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES))
  const conn = new Http1Connection(options)
  const onread = { buffer, callback: (n: number, buf: Uint8Array) => conn.onRead(n, buf as Buffer) }
  const host = ep.hostname.startsWith('[') ? ep.hostname.slice(1, -1) : ep.hostname
  // node:tls is loaded on the first https: connection (a few ms of start-up that a plain-HTTP run does without).
  const socket = ep.protocol === 'https:'
    ? process.getBuiltinModule('node:tls').connect({ host, port: ep.port, ...(net.isIP(host) ? {} : { servername: host }), ...(options.ca ? { ca: options.ca } : {}), ALPNProtocols: ['http/1.1'], onread } as TlsConnectOptions)
    : net.connect({ host, port: ep.port, onread } as net.NetConnectOpts)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => socket.destroy(new TransferError(TRANSFER_CODES.TIMEOUT, `${label}: no connection within ${options.connectTimeoutMs} ms`, { retryable: true })), options.connectTimeoutMs)
    const fail = (err: Error): void => { clearTimeout(timer); reject(toTransferError(err, label)) }
    socket.once('error', fail)
    socket.once(ep.protocol === 'https:' ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer)
      socket.removeListener('error', fail)
      socket.setNoDelay(true)
      conn.attach(socket)
      resolve(conn)
    })
  })
}

export class Http1Connection {
  readonly #options: ConnectionOptions
  #socket: net.Socket | undefined
  /** Requests sent (or about to be), in order; the first is the one being answered. */
  readonly #queue: Pending[] = []
  /** Request text waiting for this turn's write. */
  #out = ''
  #timer: NodeJS.Timeout | undefined
  #closed = false
  #paused = false
  readonly #flow: FlowControl = {
    // A paused body has no idle deadline: the consumer is the slow side, not the origin.
    pause: () => { this.#paused = true; this.#clearTimer() },
    resume: () => {
      if (!this.#paused || this.#queue.length === 0) return
      this.#paused = false
      this.#arm(this.#options.bodyTimeoutMs, 'between body bytes')
      this.#socket?.resume()
    },
    abort: (err) => { if (this.#queue.length > 0) this.#fail(err) },
  }
  /** Requests completed on this connection. */
  served = 0
  /** Requests the pool handed out on this connection and not yet got back (the pool's bookkeeping). */
  claims = 0
  /** ms from the moment the last answered request was next in line until its head arrived. */
  lastWaitMs = 0

  constructor(options: ConnectionOptions) {
    this.#options = options
  }

  /** The socket closed or failed: the pool drops the connection. */
  get closed(): boolean { return this.#closed }

  attach(socket: net.Socket): void {
    this.#socket = socket
    socket.on('error', (err) => this.#fail(toTransferError(err, this.#queue[0]?.options.label ?? 'connection')))
    socket.on('close', () => this.#onClose())
  }

  /** Sends `requestText` and feeds the response to `exchange`; resolves once the response ended. */
  request(requestText: string, exchange: Exchange, o: RequestOptions): Promise<RequestEnd> {
    const socket = this.#socket
    // Only bodiless requests that asked for it share a connection; a PUT has the connection to itself. Answers being
    // dropped (their requests were aborted) hold nobody up but the connection.
    let last: Pending | undefined
    for (let i = this.#queue.length - 1; i >= 0 && !last; i--) if (this.#queue[i]?.dropped !== true) last = this.#queue[i]
    const busy = last !== undefined && (o.batch !== true || o.body !== undefined || last.options.batch !== true)
    if (!socket || this.#closed || busy) return Promise.reject(new TransferError(TRANSFER_CODES.CONNECTION, `${o.label}: connection not available`, { retryable: true }))
    if (o.signal?.aborted === true) return Promise.reject(abortError(o))
    return new Promise((resolve, reject) => {
      const p: Pending = { resolve, reject, exchange, options: o, got: 0 }
      this.#queue.push(p)
      if (o.signal) {
        p.onAbort = () => this.#abort(p)
        o.signal.addEventListener('abort', p.onAbort, { once: true })
      }
      if (this.#queue.length === 1) this.#answerNext()
      if (o.batch === true) {
        if (this.#out.length === 0) setImmediate(this.#flush)
        this.#out += requestText
      } else if (o.body && o.body.length > 0) {
        socket.cork()
        socket.write(requestText)
        socket.write(o.body)
        socket.uncork()
      } else socket.write(requestText)
    })
  }

  /** Closes the connection (idle, or failing its requests with `err`). */
  destroy(err?: Error): void {
    if (err && this.#queue.length > 0) { this.#fail(err); return }
    this.#closed = true
    this.#clearTimer()
    this.#socket?.destroy()
  }

  /** Every read of the socket (the onread callback): parse, hand on, finish each response that ended in it. */
  onRead(n: number, buf: Buffer): boolean {
    let at = 0
    try {
      while (at < n) {
        const p = this.#queue[0]
        const parser = p?.parser
        if (!p || !parser) {
          // Bytes nobody asked for: the connection's framing can no longer be trusted.
          this.destroy()
          return false
        }
        const end = parser.execute(buf, at, n)
        p.got += end - at
        at = end
        if (!parser.done) break
        this.#complete(at === n || this.#queue.length > 1)
        if (this.#closed) return false
      }
      if (this.#queue[0]?.parser?.headDone === true && !this.#paused) this.#timer?.refresh()
    } catch (err) {
      this.#fail(toTransferError(err, this.#queue[0]?.options.label ?? 'response'))
    }
    // false pauses the socket's reads until flow.resume().
    return !this.#paused
  }

  readonly #flush = (): void => {
    const text = this.#out
    this.#out = ''
    if (!this.#closed && text.length > 0) this.#socket?.write(text)
  }

  /** The first request in the queue is answered next: its parser, and the deadline for its head. */
  #answerNext(): void {
    const p = this.#queue[0]
    if (!p) return
    const exchange = p.dropped === true ? DROP : p.exchange
    const next = performance.now()
    p.parser = new ResponseParser({
      onHead: (h) => { p.head = h; this.lastWaitMs = performance.now() - next; this.#arm(this.#options.bodyTimeoutMs, 'between body bytes'); exchange.onHead(h, this.#flow) },
      onBody: (b, s, e) => { exchange.onBody(b, s, e) },
    }, this.#options, p.options)
    this.#arm(this.#options.headersTimeoutMs, 'for the response head')
  }

  #abort(p: Pending): void {
    if (p === this.#queue[0]) { this.#fail(abortError(p.options)); return }
    if (!this.#queue.includes(p)) return
    // Queued behind another: it has been (or is about to be) sent, so its answer still comes and is dropped.
    p.dropped = true
    this.#unlisten(p)
    p.reject(abortError(p.options))
  }

  #complete(clean: boolean): void {
    const p = this.#queue.shift()
    if (!p) return
    this.#settle(p)
    this.served++
    const head = p.head
    const reusable = clean && head?.keepAlive === true && !this.#closed
    if (!reusable) this.#fail(undefined)
    else this.#answerNext()
    const ka = reusable ? keepAliveHint(head?.headers.get('keep-alive')) : undefined
    if (p.dropped !== true) p.resolve({ reusable, ...(ka !== undefined ? { keepAliveMs: ka } : {}) })
  }

  /** Closes the connection: the request being answered fails with `err`, the ones queued behind it are replayed. */
  #fail(err: Error | undefined): void {
    this.#closed = true
    this.#clearTimer()
    this.#socket?.destroy()
    const queue = this.#queue.splice(0)
    const first = queue[0]
    for (const p of queue) {
      this.#settle(p)
      if (p.dropped === true) continue
      if (p === first && err) {
        // A reused connection that failed before any byte of the answer (the server closed it while idle) is worth
        // one more try on a fresh connection: the pool retries on `staleKeepAlive`.
        p.reject(this.served > 0 && p.got === 0 ? Object.assign(err, { staleKeepAlive: true }) : err)
      } else {
        p.reject(Object.assign(new TransferError(TRANSFER_CODES.CONNECTION, `${p.options.label}: the connection closed before this pipelined request was answered`, { retryable: true }), { replay: true }))
      }
    }
  }

  #onClose(): void {
    const p = this.#queue[0]
    if (p) {
      try {
        if (!p.parser) throw new TransferError(TRANSFER_CODES.CONNECTION, `${p.options.label}: the connection closed`, { retryable: true })
        p.parser.finish()
        this.#closed = true
        this.#complete(false)
        return
      } catch (err) {
        this.#fail(p.got === 0 ? new TransferError(TRANSFER_CODES.CONNECTION, `${p.options.label}: the connection closed before a response`, { retryable: true, cause: err }) : err as Error)
        return
      }
    }
    this.#closed = true
    this.#clearTimer()
  }

  #settle(p: Pending): void {
    this.#paused = false
    this.#clearTimer()
    p.parser = undefined
    this.#unlisten(p)
  }

  #unlisten(p: Pending): void {
    if (p.onAbort) p.options.signal?.removeEventListener('abort', p.onAbort)
    p.onAbort = undefined
  }

  #arm(ms: number, what: string): void {
    this.#clearTimer()
    const label = this.#queue[0]?.options.label ?? 'request'
    this.#timer = setTimeout(() => this.#fail(new TransferError(TRANSFER_CODES.TIMEOUT, `${label}: nothing received within ${ms} ms ${what}`, { retryable: true })), ms)
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

function abortError(o: RequestOptions): TransferError {
  const reason: unknown = o.signal?.reason
  return reason instanceof TransferError ? reason : new TransferError(TRANSFER_CODES.ABORTED, `${o.label}: aborted`, { cause: reason })
}

/** `Keep-Alive: timeout=N` → how long the server keeps the connection idle, minus a second of margin. */
function keepAliveHint(value: string | undefined): number | undefined {
  const m = value ? /(?:^|[,;\s])timeout=(\d{1,6})/i.exec(value) : null
  return m ? Math.max(0, Number(m[1]) * 1000 - 1000) : undefined
}
