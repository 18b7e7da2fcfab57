// Publishes on a bare socket: `POST /v1/topics/:topic/events` with a Content-Length body, answered and kept
// alive without node:http. A publish is the one request a busy live node answers all the time; http's
// parser, IncomingMessage/ServerResponse and body stream cost ~0.3 ms of CPU per request at low rates.
// Anything else on the connection (chunked body, Expect, another route) is handed to node:http with the
// bytes read so far, between two requests, so http always sees a request from its first byte.
import type net from 'node:net'
import { LIVE_DEFAULTS } from '../defaults.ts'
import type { ConnectionGuard } from './connection-guard.ts'

/** One publish request as read from the socket. */
export type RawPublishRequest = {
  /** Raw (still percent-encoded) topic path segment. */
  topicSegment: string
  /** Lower-cased header names → values (last one wins). */
  headers: Map<string, string>
  body: Buffer
}

/** What the node answers; `headers` are complete `name: value\r\n` lines. */
export type RawResponse = { status: number; headers: string; body: string }

/** Options of a publish connection. */
export type PublishConnectionOptions = {
  /** Answers one publish (never rejects: errors are responses). */
  handle: (req: RawPublishRequest, socket: net.Socket) => Promise<RawResponse>
  /** Gives the socket and the unread bytes to node:http. */
  handOff: (socket: net.Socket, buffered: Buffer) => void
  /** Largest body; a larger Content-Length is answered 413 and the connection closed. */
  maxBodyBytes: number
  /** Answers a body over the limit (a complete response). */
  tooLarge: () => RawResponse
  /** Largest request head. @defaultValue LIVE_DEFAULTS.server.maxHeaderBytes */
  maxHeadBytes?: number
  /**
   * Deadlines of the connection: its first head deadline is already armed; here each request's body gets one
   * from its head, an idle kept-alive connection one from its last answer, and the next head one from its first byte.
   */
  guard: ConnectionGuard
}

/** How long a closing connection may keep sending before it is destroyed (its answer is already written). */
const LINGER_MS = 2_000

/**
 * Writes a final response and half-closes. What the client still sends is read and dropped, so the close does
 * not reset the connection before the client has read the answer; a client that never closes is destroyed.
 */
export function endResponse(socket: net.Socket, text: string): void {
  socket.end(text)
  socket.resume()
  const timer = setTimeout(() => socket.destroy(), LINGER_MS)
  timer.unref()
  socket.once('close', () => clearTimeout(timer))
}

export const POST_PREFIX = Buffer.from('POST /v1/topics/')
const POST_LINE = /^POST \/v1\/topics\/([^/?# ]+)\/events(?:\?[^ #]*)? HTTP\/1\.([01])$/
const HEAD_END = Buffer.from('\r\n\r\n')

const REASONS: Record<number, string> = {
  200: 'OK', 202: 'Accepted', 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 413: 'Payload Too Large',
  429: 'Too Many Requests', 500: 'Internal Server Error', 502: 'Bad Gateway', 503: 'Service Unavailable',
}

/** The bytes of a complete response with a JSON body. */
export function renderResponse(res: RawResponse, keepAlive: boolean): string {
  return `HTTP/1.1 ${res.status} ${REASONS[res.status] ?? 'Unknown'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(res.body)}\r\n${res.headers}connection: ${keepAlive ? 'keep-alive' : 'close'}\r\n\r\n${res.body}`
}

/** Whether a buffer that starts a connection may be a publish (true on a prefix too short to tell). */
export function mayBePublish(buf: Buffer): boolean {
  const n = Math.min(buf.length, POST_PREFIX.length)
  return buf.compare(POST_PREFIX, 0, n, 0, n) === 0
}

/**
 * Serves publishes on `socket`, starting with the bytes already read. Requests are answered one at a time in
 * order (bytes that arrive while one is being handled wait in the buffer), as HTTP/1.1 pipelining requires.
 */
export function servePublishConnection(socket: net.Socket, initial: Buffer, options: PublishConnectionOptions): void {
  const maxHead = options.maxHeadBytes ?? LIVE_DEFAULTS.server.maxHeaderBytes
  const guard = options.guard
  let buf = initial
  let busy = false
  let done = false
  /** The request being read has its body deadline armed. */
  let bodyArmed = false
  const onData = (chunk: Buffer): void => {
    // The first byte of a request on an idle kept-alive connection starts that request's head deadline.
    if (!busy && buf.length === 0) guard.arm(socket, 'head')
    buf = buf.length === 0 ? chunk : Buffer.concat([buf, chunk])
    // A client pipelining faster than its publishes are answered waits in the kernel, not in this buffer.
    if (busy && buf.length > maxHead + options.maxBodyBytes) socket.pause()
    pump()
  }
  const stop = (): void => {
    done = true
    socket.off('data', onData)
  }
  const handOff = (): void => {
    stop()
    socket.off('error', noop)
    const rest = buf
    buf = Buffer.alloc(0)
    options.handOff(socket, rest)
  }
  const pump = (): void => {
    while (!busy && !done && buf.length > 0) {
      if (!mayBePublish(buf)) { handOff(); return }
      const end = buf.indexOf(HEAD_END)
      // An oversize head goes to http, which answers it (431) with the same limit.
      if ((end === -1 ? buf.length : end) > maxHead) { handOff(); return }
      if (end === -1) return
      const lines = buf.toString('latin1', 0, end).split('\r\n')
      const m = POST_LINE.exec(lines[0] ?? '')
      if (!m?.[1]) { handOff(); return }
      const headers = new Map<string, string>()
      let lengths = 0
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] as string
        const c = line.indexOf(':')
        if (c <= 0) continue
        const name = line.slice(0, c).trim().toLowerCase()
        if (name === 'content-length') lengths++
        headers.set(name, line.slice(c + 1).trim())
      }
      const lengthText = headers.get('content-length')
      // Only the plain case is served here; chunked bodies, Expect: 100-continue, upgrades and repeated
      // Content-Length headers (which http refuses) go to http.
      if (lengths !== 1 || !/^\d{1,10}$/.test(lengthText ?? '') || headers.has('transfer-encoding') || headers.has('expect') || headers.has('upgrade')) { handOff(); return }
      const length = Number(lengthText)
      if (length > options.maxBodyBytes) {
        stop()
        endResponse(socket, renderResponse(options.tooLarge(), false))
        return
      }
      const start = end + HEAD_END.length
      if (buf.length < start + length) {
        if (!bodyArmed) { bodyArmed = true; guard.arm(socket, 'body') }
        return
      }
      bodyArmed = false
      // The request is complete: answering it is the server's time, not the client's.
      guard.disarm(socket)
      const body = buf.subarray(start, start + length)
      buf = buf.subarray(start + length)
      const connection = headers.get('connection')?.toLowerCase()
      const keepAlive = m[2] === '1' ? connection !== 'close' : connection === 'keep-alive'
      busy = true
      options.handle({ topicSegment: m[1], headers, body }, socket).then((res) => {
        busy = false
        if (socket.destroyed) return
        if (socket.isPaused()) socket.resume()
        if (!keepAlive) { stop(); endResponse(socket, renderResponse(res, false)); return }
        socket.write(renderResponse(res, true))
        guard.arm(socket, buf.length === 0 ? 'idle' : 'head')
        pump()
      }, () => socket.destroy())
    }
  }
  socket.on('error', noop)
  socket.on('data', onData)
  pump()
}

function noop(): void { /* a socket error ends in 'close'; a request under way finds the socket destroyed */ }
