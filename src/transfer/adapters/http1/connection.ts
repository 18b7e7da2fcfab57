// One keep-alive HTTP/1.1 connection of the copy path's client, carrying one request at a time. Socket reads land in
// a buffer shared by every connection of the thread (`onread`): no buffer is allocated per read, and each read is
// parsed and handed to the exchange before the next read can overwrite it. A parse failure, a timeout or an abort
// closes this connection only; the request fails with a TransferError.
import net from 'node:net'
import tls from 'node:tls'
import { TransferError, TRANSFER_CODES, toTransferError } from '../../errors.ts'
import { ResponseParser, type ParserLimits, type ResponseHead } from './response-parser.ts'

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

/** How a request ended: whether the connection may carry another, and whether any response byte arrived. */
export type RequestEnd = { reusable: boolean; keepAliveMs?: number }

type Pending = { resolve: (end: RequestEnd) => void; reject: (err: Error) => void; exchange: Exchange; label: string; signal: AbortSignal | undefined }

/** The read buffer of every connection of this thread (see the header comment). */
let sharedReadBuffer: Buffer | undefined
const READ_BUFFER_BYTES = 256 * 1024

/** Opens a connection (TLS for https:, ALPN http/1.1); rejects with TRANSFER_TIMEOUT or TRANSFER_CONNECTION. */
export function connect(ep: Endpoint, options: ConnectionOptions, label: string): Promise<Http1Connection> {
  const buffer = (sharedReadBuffer ??= Buffer.allocUnsafe(READ_BUFFER_BYTES))
  const conn = new Http1Connection(options)
  const onread = { buffer, callback: (n: number, buf: Uint8Array) => conn.onRead(n, buf as Buffer) }
  const host = ep.hostname.startsWith('[') ? ep.hostname.slice(1, -1) : ep.hostname
  const socket = ep.protocol === 'https:'
    ? tls.connect({ host, port: ep.port, ...(net.isIP(host) ? {} : { servername: host }), ...(options.ca ? { ca: options.ca } : {}), ALPNProtocols: ['http/1.1'], onread } as tls.ConnectionOptions)
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
  #parser: ResponseParser | undefined
  #pending: Pending | undefined
  #head: ResponseHead | undefined
  #timer: NodeJS.Timeout | undefined
  #got = 0
  #closed = false
  #paused = false
  readonly #flow: FlowControl = {
    // A paused body has no idle deadline: the consumer is the slow side, not the origin.
    pause: () => { this.#paused = true; this.#clearTimer() },
    resume: () => {
      if (!this.#paused || !this.#pending) return
      this.#paused = false
      this.#arm(this.#options.bodyTimeoutMs, 'between body bytes')
      this.#socket?.resume()
    },
    abort: (err) => { if (this.#pending) this.#fail(err) },
  }
  /** Requests completed on this connection. */
  served = 0

  constructor(options: ConnectionOptions) {
    this.#options = options
  }

  /** The socket closed or failed: the pool drops the connection. */
  get closed(): boolean { return this.#closed }

  attach(socket: net.Socket): void {
    this.#socket = socket
    socket.on('error', (err) => this.#fail(toTransferError(err, this.#pending?.label ?? 'connection')))
    socket.on('close', () => this.#onClose())
  }

  /** Sends `requestText` and feeds the response to `exchange`; resolves once the response ended. */
  request(requestText: string, exchange: Exchange, o: { isHead: boolean; label: string; signal?: AbortSignal | undefined; body?: Buffer | undefined }): Promise<RequestEnd> {
    const socket = this.#socket
    if (!socket || this.#closed || this.#pending) return Promise.reject(new TransferError(TRANSFER_CODES.CONNECTION, `${o.label}: connection not available`, { retryable: true }))
    this.#parser = new ResponseParser({ onHead: (h) => { this.#head = h; this.#arm(this.#options.bodyTimeoutMs, 'between body bytes'); exchange.onHead(h, this.#flow) }, onBody: (b, s, e) => exchange.onBody(b, s, e) }, this.#options, o)
    this.#head = undefined
    this.#got = 0
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject, exchange, label: o.label, signal: o.signal }
      if (o.signal) {
        if (o.signal.aborted) { this.#abort(); return }
        o.signal.addEventListener('abort', this.#abort, { once: true })
      }
      this.#arm(this.#options.headersTimeoutMs, 'for the response head')
      if (o.body && o.body.length > 0) {
        socket.cork()
        socket.write(requestText)
        socket.write(o.body)
        socket.uncork()
      } else socket.write(requestText)
    })
  }

  /** Closes the connection (idle, or failing its request with `err`). */
  destroy(err?: Error): void {
    if (err && this.#pending) { this.#fail(err); return }
    this.#closed = true
    this.#clearTimer()
    this.#socket?.destroy()
  }

  /** Every read of the socket (the onread callback): parse, hand on, finish the request when the response ended. */
  onRead(n: number, buf: Buffer): boolean {
    const parser = this.#parser
    if (!parser || !this.#pending) {
      // Bytes nobody asked for (nothing is pipelined): the connection's framing can no longer be trusted.
      this.destroy()
      return false
    }
    this.#got += n
    try {
      const end = parser.execute(buf, 0, n)
      if (parser.done) this.#complete(end === n)
      else if (parser.headDone && !this.#paused) this.#timer?.refresh()
    } catch (err) {
      this.#fail(toTransferError(err, this.#pending.label))
    }
    // false pauses the socket's reads until flow.resume().
    return !this.#paused
  }

  readonly #abort = (): void => {
    const p = this.#pending
    const reason: unknown = p?.signal?.reason
    this.#fail(reason instanceof TransferError ? reason : new TransferError(TRANSFER_CODES.ABORTED, `${p?.label ?? 'request'}: aborted`, { cause: reason }))
  }

  #complete(clean: boolean): void {
    const p = this.#settle()
    if (!p) return
    this.served++
    const head = this.#head
    const reusable = clean && head?.keepAlive === true && !this.#closed
    if (!reusable) this.destroy()
    const ka = reusable ? keepAliveHint(head?.headers.get('keep-alive')) : undefined
    p.resolve({ reusable, ...(ka !== undefined ? { keepAliveMs: ka } : {}) })
  }

  #fail(err: Error): void {
    const p = this.#settle()
    this.#closed = true
    this.#socket?.destroy()
    if (!p) return
    // A reused connection that failed before any byte of the answer (the server closed it while idle) is worth one
    // more try on a fresh connection: the pool retries on `staleKeepAlive`.
    p.reject(this.served > 0 && this.#got === 0 ? Object.assign(err, { staleKeepAlive: true }) : err)
  }

  #onClose(): void {
    const parser = this.#parser
    if (this.#pending && parser) {
      try {
        parser.finish()
        this.#closed = true
        this.#complete(false)
        return
      } catch (err) {
        this.#fail(this.#got === 0 ? new TransferError(TRANSFER_CODES.CONNECTION, `${this.#pending.label}: the connection closed before a response`, { retryable: true, cause: err }) : err as Error)
        return
      }
    }
    this.#closed = true
    this.#clearTimer()
  }

  #settle(): Pending | undefined {
    const p = this.#pending
    this.#pending = undefined
    this.#parser = undefined
    this.#paused = false
    this.#clearTimer()
    p?.signal?.removeEventListener('abort', this.#abort)
    return p
  }

  #arm(ms: number, what: string): void {
    this.#clearTimer()
    const label = this.#pending?.label ?? 'request'
    this.#timer = setTimeout(() => this.#fail(new TransferError(TRANSFER_CODES.TIMEOUT, `${label}: nothing received within ${ms} ms ${what}`, { retryable: true })), ms)
  }

  #clearTimer(): void {
    if (this.#timer) clearTimeout(this.#timer)
    this.#timer = undefined
  }
}

/** `Keep-Alive: timeout=N` → how long the server keeps the connection idle, minus a second of margin. */
function keepAliveHint(value: string | undefined): number | undefined {
  const m = value ? /(?:^|[,;\s])timeout=(\d{1,6})/i.exec(value) : null
  return m ? Math.max(0, Number(m[1]) * 1000 - 1000) : undefined
}
