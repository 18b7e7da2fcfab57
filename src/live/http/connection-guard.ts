// Absolute deadlines and a per-address cap for every connection that is not (yet) an SSE stream: waiting for a
// request head, sending a body, or idle between kept-alive requests. The front hands sockets to node:http with
// `emit('connection')`, and http enforces headersTimeout/requestTimeout only on connections of a server that
// listens itself, so these timers are the only ones that bound such a socket. Each timer is absolute: bytes
// arriving never extend it. A socket that becomes a stream is released (streams hold no timer).
import type { Server as HttpServer, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { ConnectionCounter } from './limits.ts'

/** What a deadline bounds; also the `phase` label of colony_live_deadline_closes_total. */
export type DeadlinePhase = 'head' | 'body' | 'idle'

/** Options of the guard (defaults in LIVE_DEFAULTS.limits). */
export type ConnectionGuardOptions = {
  /** A request head must be complete this long after its connection opened or its first byte arrived. */
  headersTimeoutMs: number
  /** A request body must be complete (and, on node:http, answered) this long after its head. */
  bodyTimeoutMs: number
  /** A kept-alive connection may sit idle between requests this long. */
  keepAliveMs: number
  /** Connections per client address that are not streams; 0 = unlimited. */
  maxPendingPerIp: number
}

type Entry = { ip: string; timer: NodeJS.Timeout | undefined; onClose: () => void }

export class ConnectionGuard {
  readonly options: ConnectionGuardOptions
  /** Connections closed by a deadline, by phase (read at scrape time). */
  readonly closes: Record<DeadlinePhase, number> = { head: 0, body: 0, idle: 0 }
  readonly #entries = new Map<Socket, Entry>()
  readonly #perIp = new ConnectionCounter()

  constructor(options: ConnectionGuardOptions) {
    this.options = options
  }

  /** Connections currently tracked (not streams). */
  get pending(): number { return this.#entries.size }

  /**
   * Starts tracking a new connection and arms its first head deadline. False when its address is over the
   * cap: the caller refuses it (the socket is tracked all the same until it closes, so refusals count too).
   */
  admit(socket: Socket): boolean {
    const ip = socket.remoteAddress ?? '?'
    const over = this.options.maxPendingPerIp > 0 && this.#perIp.count(ip) >= this.options.maxPendingPerIp
    const onClose = (): void => this.release(socket)
    this.#entries.set(socket, { ip, timer: undefined, onClose })
    this.#perIp.add(ip)
    socket.once('close', onClose)
    this.arm(socket, 'head')
    return !over
  }

  /** (Re)arms the socket's one deadline for `phase`; `ms` overrides the phase's configured length. */
  arm(socket: Socket, phase: DeadlinePhase, ms = this.#length(phase)): void {
    const entry = this.#entries.get(socket)
    if (!entry) return
    if (entry.timer) clearTimeout(entry.timer)
    entry.timer = setTimeout(() => {
      entry.timer = undefined
      if (socket.destroyed) return
      this.closes[phase]++
      socket.destroy()
    }, ms)
    entry.timer.unref()
  }

  /** No deadline while the server itself is working on a request (its answer is not the client's to delay). */
  disarm(socket: Socket): void {
    const entry = this.#entries.get(socket)
    if (entry?.timer) { clearTimeout(entry.timer); entry.timer = undefined }
  }

  /** The socket became a stream or closed: no timer, no longer counted against its address. */
  release(socket: Socket): void {
    const entry = this.#entries.get(socket)
    if (!entry) return
    if (entry.timer) clearTimeout(entry.timer)
    // A stream keeps no listener of ours: 100k of them live in one process.
    socket.off('close', entry.onClose)
    this.#entries.delete(socket)
    this.#perIp.remove(entry.ip)
  }

  /**
   * Deadlines on connections node:http owns: the body (and the answer) within bodyTimeoutMs of the head; after
   * an answer on a kept-alive connection, the next head within keepAliveMs + headersTimeoutMs (http reads the
   * socket itself, so the first byte of the next request is not seen here).
   */
  watchHttp(http: HttpServer): void {
    http.on('request', (req, res: ServerResponse) => {
      const socket = req.socket
      this.arm(socket, 'body')
      res.once('finish', () => { if (!socket.destroyed) this.arm(socket, 'idle', this.options.keepAliveMs + this.options.headersTimeoutMs) })
    })
  }

  /** Destroys every tracked connection (node shutdown). */
  destroyAll(): void {
    for (const socket of [...this.#entries.keys()]) { this.release(socket); socket.destroy() }
  }

  #length(phase: DeadlinePhase): number {
    return phase === 'head' ? this.options.headersTimeoutMs : phase === 'body' ? this.options.bodyTimeoutMs : this.options.keepAliveMs
  }
}
