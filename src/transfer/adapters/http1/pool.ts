// The transfer HTTP/1.1 client (origins, and S3 PUTs): per origin, at most `connections` keep-alive connections, the
// most recently used idle one taken first (the others can time out), waiters served in order. A request that fails on
// a reused connection before any byte of its answer (the server closed the idle connection as the request went out)
// is sent once more on a new connection: GET, HEAD and a PutObject of the same body are idempotent. With
// `pipelining` > 1, GETs and HEADs taken in one turn of the event loop share a connection and one write (up to that
// many in flight on it), and a pipelined request whose connection closed before its answer is sent again, at most
// MAX_REPLAYS times, then alone on a connection.
import { TRANSFER_DEFAULTS } from '../../defaults.ts'
import { TransferError, TRANSFER_CODES } from '../../errors.ts'
import { connect, type ConnectionOptions, type Endpoint, type Exchange, type Http1Connection } from './connection.ts'

export type Http1ClientOptions = ConnectionOptions & {
  /** Connections per origin. */
  connections: number
  /**
   * GETs and HEADs sent on one connection before their answers (1: one at a time). Requests taken in one turn of the
   * event loop then share a connection and one write. @defaultValue 1
   */
  pipelining?: number
  /**
   * Pipelining pauses while none of the origin's last 16 answers began within this many ms of its request being next
   * in line: such an origin spends that time on each request in turn (think time, a cache miss), and requests queued
   * on one connection would wait for one another. @defaultValue TRANSFER_DEFAULTS.http.pipeliningMaxWaitMs
   */
  pipeliningMaxWaitMs?: number
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

type Opening = { conn: Promise<Http1Connection>; claims: number }
type Idle = { conn: Http1Connection; timer: NodeJS.Timeout }
type Waiter = { resolve: (c: Http1Connection | undefined) => void; reject: (e: Error) => void; signal: AbortSignal | undefined; pipeline: boolean; onAbort: () => void }

/** Answers whose waits decide whether the origin is quick enough to pipeline to. */
const WAIT_WINDOW = 16
/** Times a pipelined request is sent again after its connection closed before answering it. */
const MAX_REPLAYS = 2
const REQUEST_TARGET = /^\/[\x21-\x7e]*$/
const FIELD = /^[\t\x20-\x7e]*$/
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/

class OriginPool {
  readonly #ep: Endpoint
  readonly #options: Http1ClientOptions
  readonly #depth: number
  readonly #maxWaitMs: number
  readonly #idle: Idle[] = []
  readonly #waiters: Waiter[] = []
  /** Every open connection, idle or carrying requests. */
  readonly #live = new Set<Http1Connection>()
  /** With pipelining: the connection this turn's requests join, so they go out in one write. */
  #batch: Http1Connection | undefined
  /** With pipelining: the connection being opened for this turn's requests. */
  #opening: Opening | undefined
  #batchEnds = false
  #open = 0
  #closed = false
  /**
   * How long the heads of the last WAIT_WINDOW answers took to begin once their requests were next in line (see
   * pipeliningMaxWaitMs), and how many of them began within the limit. The origin takes its time over each request
   * when none did: the shortest wait bounds its think time from above, whatever this thread's own delays added.
   * Pipelining starts once an answer came quickly, so a slow origin never has requests queued behind one another.
   */
  readonly #waits = new Float64Array(WAIT_WINDOW).fill(Number.POSITIVE_INFINITY)
  #waitAt = 0
  #quickWaits = 0

  constructor(ep: Endpoint, options: Http1ClientOptions) {
    this.#ep = ep
    this.#options = options
    this.#depth = Math.max(1, options.pipelining ?? 1)
    this.#maxWaitMs = options.pipeliningMaxWaitMs ?? TRANSFER_DEFAULTS.http.pipeliningMaxWaitMs
  }

  /**
   * A connection for one request: with `pipeline`, this turn's batch connection while it has room; then an idle
   * one, a new one, and with `pipeline` the least busy one with room; else the next one to free up. `fresh` takes
   * neither an idle nor a busy connection.
   */
  async acquire(label: string, signal: AbortSignal | undefined, mode: { fresh: boolean; pipeline: boolean }): Promise<Http1Connection> {
    const pipeline = mode.pipeline && !mode.fresh && this.#depth > 1 && this.#quickWaits > 0
    for (;;) {
      if (this.#closed) throw new TransferError(TRANSFER_CODES.ABORTED, `${label}: the client is closed`)
      const batch = this.#batch
      if (pipeline && batch && this.#hasRoom(batch)) return this.#claim(batch, true)
      while (!mode.fresh && this.#idle.length > 0) {
        const { conn, timer } = this.#idle.pop() as Idle
        clearTimeout(timer)
        if (!conn.closed) return this.#claim(conn, pipeline)
        this.#drop(conn)
      }
      const opening = this.#opening
      if (pipeline && opening && opening.claims < this.#depth) {
        // Joins the batch whose connection is being opened (the opener counts the claims onto it).
        opening.claims++
        return await opening.conn
      }
      if (this.#open < this.#options.connections) {
        this.#open++
        const next: Opening = { claims: 1, conn: connect(this.#ep, this.#options, label) }
        if (pipeline) { this.#opening = next; this.#endBatchThisTurn() }
        let conn: Http1Connection
        try {
          conn = await next.conn
        } catch (err) {
          if (this.#opening === next) this.#opening = undefined
          this.#open--
          this.#wakeOne()
          throw err
        }
        if (this.#opening === next) this.#opening = undefined
        this.#live.add(conn)
        if (this.#closed) conn.destroy()
        else {
          conn.claims += next.claims - 1
          return this.#claim(conn, pipeline)
        }
      }
      const busy = pipeline ? this.#leastBusy() : undefined
      if (busy) return this.#claim(busy, true)
      if (mode.fresh && this.#idle.length > 0) { this.#dropIdle(); continue }
      const conn = await this.#wait(label, signal, pipeline)
      if (conn) return conn
    }
  }

  /** A request handed out on `conn` ended; `reusable`: its connection may carry more. */
  release(conn: Http1Connection, reusable: boolean, keepAliveMs: number | undefined): void {
    conn.claims--
    if (reusable && this.#depth > 1) this.#noteWait(conn.lastWaitMs)
    if (!reusable || conn.closed || this.#closed) { this.#drop(conn); return }
    if (conn.claims > 0) {
      // Still answering pipelined requests: a waiter that pipelines may join it.
      const w = this.#waiters[0]
      if (w?.pipeline === true && this.#hasRoom(conn)) { this.#waiters.shift(); this.#handTo(w, conn) }
      return
    }
    const waiter = this.#waiters.shift()
    if (waiter) { this.#handTo(waiter, conn); return }
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

  #claim(conn: Http1Connection, pipeline: boolean): Http1Connection {
    conn.claims++
    if (pipeline) {
      this.#batch = conn
      this.#endBatchThisTurn()
    } else if (this.#batch === conn) this.#batch = undefined
    return conn
  }

  /** A batch lasts this turn of the event loop: its connection writes the batch's requests at the end of it. */
  #endBatchThisTurn(): void {
    if (this.#batchEnds) return
    this.#batchEnds = true
    setImmediate(() => { this.#batch = undefined; this.#opening = undefined; this.#batchEnds = false })
  }

  #handTo(w: Waiter, conn: Http1Connection): void {
    w.signal?.removeEventListener('abort', w.onAbort)
    w.resolve(this.#claim(conn, w.pipeline))
  }

  /** Whether one more pipelined request may join `conn`'s (it carries some, fewer than the depth). */
  #hasRoom(conn: Http1Connection): boolean {
    return !conn.closed && conn.claims > 0 && conn.claims < this.#depth
  }

  #noteWait(ms: number): void {
    const i = this.#waitAt++ % WAIT_WINDOW
    if ((this.#waits[i] as number) <= this.#maxWaitMs) this.#quickWaits--
    this.#waits[i] = ms
    if (ms <= this.#maxWaitMs) this.#quickWaits++
  }

  /** The open connection with the fewest pipelined requests, if one has room. */
  #leastBusy(): Http1Connection | undefined {
    let best: Http1Connection | undefined
    for (const c of this.#live) {
      if (this.#hasRoom(c) && (!best || c.claims < best.claims)) best = c
    }
    return best
  }

  /** Closes `conn` and frees its slot (once: every request it carried releases it). */
  #drop(conn: Http1Connection): void {
    conn.destroy()
    if (!this.#live.delete(conn)) return
    if (this.#batch === conn) this.#batch = undefined
    this.#open--
    this.#wakeOne()
  }

  #expire(entry: Idle): void {
    const i = this.#idle.indexOf(entry)
    if (i < 0) return
    this.#idle.splice(i, 1)
    this.#drop(entry.conn)
  }

  #dropIdle(): void {
    const oldest = this.#idle.shift()
    if (!oldest) return
    clearTimeout(oldest.timer)
    this.#drop(oldest.conn)
  }

  /** A freed slot goes to the first waiter, which then opens a connection itself. */
  #wakeOne(): void {
    const w = this.#waiters.shift()
    if (w) { w.signal?.removeEventListener('abort', w.onAbort); w.resolve(undefined) }
  }

  #wait(label: string, signal: AbortSignal | undefined, pipeline: boolean): Promise<Http1Connection | undefined> {
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        resolve, reject, signal, pipeline,
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
    let fresh = false
    let replays = 0
    for (;;) {
      // A request replayed twice (its connections closed before answering it) goes out on a connection of its own.
      const pipeline = req.method !== 'PUT' && replays < MAX_REPLAYS
      const conn = await pool.acquire(req.label, req.signal, { fresh, pipeline })
      try {
        const end = await conn.request(text, exchange, { isHead: req.method === 'HEAD', label: req.label, signal: req.signal, body: req.body, batch: pipeline && (this.#options.pipelining ?? 1) > 1 })
        pool.release(conn, end.reusable, end.keepAliveMs)
        return
      } catch (err) {
        pool.release(conn, !conn.closed, undefined)
        if ((err as { replay?: boolean }).replay === true && replays < MAX_REPLAYS) { replays++; continue }
        if (!fresh && (err as { staleKeepAlive?: boolean }).staleKeepAlive === true) { fresh = true; continue }
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
