// The transfer HTTP/1.1 client (origins, and S3 PUTs): per origin, at most `connections` keep-alive connections, the most recently used
// idle one taken first (the others can time out), waiters served in order. A request that fails on a reused
// connection before any byte of its answer (the server closed the idle connection as the request went out) is sent
// once more on a new connection: GET, HEAD and a PutObject of the same body are idempotent.
import { TransferError, TRANSFER_CODES } from '../../errors.ts'
import { connect, type ConnectionOptions, type Endpoint, type Exchange, type Http1Connection } from './connection.ts'

export type Http1ClientOptions = ConnectionOptions & {
  /** Connections per origin. */
  connections: number
  /** Longest time an idle connection is kept (a shorter `Keep-Alive: timeout` from the server wins). */
  keepAliveMs: number
  userAgent: string
}

export type Http1Request = {
  url: URL
  /** GET and HEAD, or PUT of a whole body (S3 PutObject: idempotent, so it too may go out again on a fresh connection). */
  method: 'GET' | 'HEAD' | 'PUT'
  label: string
  signal?: AbortSignal | undefined
  /** Fields besides host and user-agent (lower-case names; values without control characters). */
  headers?: Record<string, string>
  /** The body of a PUT, sent with its Content-Length. */
  body?: Buffer
}

type Idle = { conn: Http1Connection; timer: NodeJS.Timeout }
type Waiter = { resolve: (c: Http1Connection | undefined) => void; reject: (e: Error) => void; signal: AbortSignal | undefined; onAbort: () => void }

const REQUEST_TARGET = /^\/[\x21-\x7e]*$/
const FIELD = /^[\t\x20-\x7e]*$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

class OriginPool {
  readonly #ep: Endpoint
  readonly #options: Http1ClientOptions
  readonly #idle: Idle[] = []
  readonly #waiters: Waiter[] = []
  #open = 0
  #closed = false

  constructor(ep: Endpoint, options: Http1ClientOptions) {
    this.#ep = ep
    this.#options = options
  }

  /** An idle connection, a new one, or (`undefined`) the right to open one once a slot frees. */
  async acquire(label: string, signal: AbortSignal | undefined, fresh: boolean): Promise<Http1Connection> {
    for (;;) {
      if (this.#closed) throw new TransferError(TRANSFER_CODES.ABORTED, `${label}: the client is closed`)
      while (!fresh && this.#idle.length > 0) {
        const { conn, timer } = this.#idle.pop() as Idle
        clearTimeout(timer)
        if (!conn.closed) return conn
        this.#open--
      }
      if (this.#open < this.#options.connections) {
        this.#open++
        try {
          return await connect(this.#ep, this.#options, label)
        } catch (err) {
          this.#open--
          this.#wakeOne()
          throw err
        }
      }
      if (fresh && this.#idle.length > 0) { this.#dropIdle(); continue }
      const conn = await this.#wait(label, signal)
      if (conn) return conn
    }
  }

  release(conn: Http1Connection, reusable: boolean, keepAliveMs: number | undefined): void {
    if (!reusable || conn.closed || this.#closed) {
      conn.destroy()
      this.#open--
      this.#wakeOne()
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter) { waiter.signal?.removeEventListener('abort', waiter.onAbort); waiter.resolve(conn); return }
    const ms = Math.min(this.#options.keepAliveMs, keepAliveMs ?? Infinity)
    const entry: Idle = { conn, timer: setTimeout(() => this.#expire(entry), ms) }
    entry.timer.unref()
    this.#idle.push(entry)
  }

  close(): void {
    this.#closed = true
    for (const { conn, timer } of this.#idle.splice(0)) { clearTimeout(timer); conn.destroy() }
    for (const w of this.#waiters.splice(0)) { w.signal?.removeEventListener('abort', w.onAbort); w.reject(new TransferError(TRANSFER_CODES.ABORTED, 'the HTTP client is closed')) }
  }

  #expire(entry: Idle): void {
    const i = this.#idle.indexOf(entry)
    if (i < 0) return
    this.#idle.splice(i, 1)
    entry.conn.destroy()
    this.#open--
    this.#wakeOne()
  }

  #dropIdle(): void {
    const oldest = this.#idle.shift()
    if (!oldest) return
    clearTimeout(oldest.timer)
    oldest.conn.destroy()
    this.#open--
  }

  /** A freed slot goes to the first waiter, which then opens a connection itself. */
  #wakeOne(): void {
    const w = this.#waiters.shift()
    if (w) { w.signal?.removeEventListener('abort', w.onAbort); w.resolve(undefined) }
  }

  #wait(label: string, signal: AbortSignal | undefined): Promise<Http1Connection | undefined> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject, signal,
        onAbort: () => {
          const i = this.#waiters.indexOf(waiter)
          if (i >= 0) this.#waiters.splice(i, 1)
          const reason: unknown = signal?.reason
          reject(reason instanceof TransferError ? reason : new TransferError(TRANSFER_CODES.ABORTED, `${label}: aborted`, { cause: reason }))
        },
      }
      if (signal?.aborted) { waiter.onAbort(); return }
      signal?.addEventListener('abort', waiter.onAbort, { once: true })
      this.#waiters.push(waiter)
    })
  }
}

/** Keep-alive pools per origin; `request` sends one GET or HEAD and feeds its response to an exchange. */
export class Http1Client {
  readonly #options: Http1ClientOptions
  readonly #pools = new Map<string, OriginPool>()

  constructor(options: Http1ClientOptions) {
    if (!FIELD.test(options.userAgent)) throw new TransferError(TRANSFER_CODES.BAD_URI, 'the User-Agent holds a control character')
    this.#options = options
  }

  async request(req: Http1Request, exchange: Exchange): Promise<void> {
    const { url } = req
    const target = `${url.pathname}${url.search}`
    if (!REQUEST_TARGET.test(target)) throw new TransferError(TRANSFER_CODES.BAD_URI, `${req.label}: the path holds a character HTTP does not allow`)
    let fields = ''
    for (const [name, value] of Object.entries(req.headers ?? {})) {
      if (!TOKEN.test(name) || !FIELD.test(value)) throw new TransferError(TRANSFER_CODES.BAD_URI, `${req.label}: a request field holds a character HTTP does not allow`)
      fields += `${name}: ${value}\r\n`
    }
    if (req.body) fields += `content-length: ${req.body.length}\r\n`
    const text = `${req.method} ${target} HTTP/1.1\r\nhost: ${url.host}\r\nuser-agent: ${this.#options.userAgent}\r\naccept: */*\r\n${fields}\r\n`
    const pool = this.#pool(url)
    for (let attempt = 0; ; attempt++) {
      const conn = await pool.acquire(req.label, req.signal, attempt > 0)
      try {
        const end = await conn.request(text, exchange, { isHead: req.method === 'HEAD', label: req.label, signal: req.signal, body: req.body })
        pool.release(conn, end.reusable, end.keepAliveMs)
        return
      } catch (err) {
        pool.release(conn, false, undefined)
        if (attempt === 0 && (err as { staleKeepAlive?: boolean }).staleKeepAlive === true) continue
        throw err
      }
    }
  }

  close(): void {
    for (const p of this.#pools.values()) p.close()
    this.#pools.clear()
  }

  #pool(url: URL): OriginPool {
    let pool = this.#pools.get(url.origin)
    if (!pool) {
      const protocol = url.protocol === 'https:' ? 'https:' : 'http:'
      const port = url.port ? Number(url.port) : protocol === 'https:' ? 443 : 80
      pool = new OriginPool({ protocol, hostname: url.hostname, port }, this.#options)
      this.#pools.set(url.origin, pool)
    }
    return pool
  }
}
