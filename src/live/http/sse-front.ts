// The listening socket of a live node. SSE requests are recognised from their first bytes and kept as bare
// sockets; publishes go to publish-front.ts (also bare); everything else is handed to a node:http server.
// An http-owned socket keeps a parser, IncomingMessage and ServerResponse alive for the stream's lifetime
// (~15 KB per connection); a bare one ~3 KB.
import type { Server as HttpServer } from 'node:http'
import net from 'node:net'
import { LIVE_DEFAULTS } from '../defaults.ts'
import type { ConnectionGuard } from './connection-guard.ts'
import { endResponse, mayBePublish, servePublishConnection, type PublishConnectionOptions } from './publish-front.ts'

/** What the front parsed from an SSE request head. */
export type SseRequest = {
  /** Raw (still percent-encoded) topic path segment. */
  topicSegment: string
  query: URLSearchParams
  /** Lower-cased header names → values (last one wins). */
  headers: Map<string, string>
}

/** Options of the front socket. */
export type SseFrontOptions = {
  /** Receives every request that is not an SSE subscribe. */
  http: HttpServer
  /** Called with a bare socket whose request head has been consumed. */
  onSubscribe: (socket: net.Socket, request: SseRequest) => void
  /** Serves `POST /v1/topics/:t/events` with a Content-Length body on the bare socket (publish-front.ts). @defaultValue undefined (http answers) */
  publish?: Omit<PublishConnectionOptions, 'handOff' | 'guard'>
  /**
   * Absolute deadlines and the per-address cap of connections that are not streams. Every accepted socket is
   * admitted here (its head deadline runs from accept, whatever it sends) and released when it becomes a stream.
   */
  guard: ConnectionGuard
  /** The answer to a connection whose address is over the guard's cap. */
  overCap: () => { status: number; body: unknown; headers: string }
  /** Largest request head. @defaultValue LIVE_DEFAULTS.server.maxHeaderBytes */
  maxHeadBytes?: number
}

const SSE_LINE = /^GET \/v1\/topics\/([^/?# ]+)\/events(?:\?([^ #]*))? HTTP\/1\.[01]$/
const GET_PREFIX = Buffer.from('GET /v1/topics/')

export function createSseFront(options: SseFrontOptions): net.Server {
  const maxHead = options.maxHeadBytes ?? LIVE_DEFAULTS.server.maxHeaderBytes
  const { guard, publish } = options
  const handOff = (socket: net.Socket, buffered: Buffer): void => {
    socket.pause()
    socket.unshift(buffered)
    options.http.emit('connection', socket)
    process.nextTick(() => socket.resume())
  }
  return net.createServer({ noDelay: true }, (socket) => {
    let buf: Buffer | undefined
    socket.on('error', noop)
    if (!guard.admit(socket)) {
      const refusal = options.overCap()
      writeRawError(socket, refusal.status, refusal.body, refusal.headers)
      return
    }
    const onData = (chunk: Buffer): void => {
      buf = buf ? Buffer.concat([buf, chunk]) : chunk
      // Decide as early as possible: anything that cannot be an SSE subscribe goes to http untouched.
      const probe = Math.min(buf.length, GET_PREFIX.length)
      if (buf.compare(GET_PREFIX, 0, probe, 0, probe) !== 0) {
        done()
        if (publish && mayBePublish(buf)) servePublishConnection(socket, buf, { ...publish, handOff, guard })
        else handOff(socket, buf)
        return
      }
      const end = buf.indexOf('\r\n\r\n')
      // An oversize head goes to http, which answers it (431) with the same limit.
      if ((end === -1 ? buf.length : end) > maxHead) { done(); handOff(socket, buf); return }
      if (end === -1) return
      const head = buf.toString('latin1', 0, end)
      const lines = head.split('\r\n')
      const m = SSE_LINE.exec(lines[0] ?? '')
      if (!m?.[1]) { done(); handOff(socket, buf); return }
      const headers = new Map<string, string>()
      for (let i = 1; i < lines.length; i++) {
        const line = lines[i] as string
        const c = line.indexOf(':')
        if (c > 0) headers.set(line.slice(0, c).trim().toLowerCase(), line.slice(c + 1).trim())
      }
      // A GET with a body or an upgrade is not an EventSource; let http answer it properly.
      if (headers.has('upgrade') || headers.has('content-length') || headers.has('transfer-encoding')) { done(); handOff(socket, buf); return }
      done()
      buf = undefined
      guard.release(socket)
      options.onSubscribe(socket, { topicSegment: m[1], query: new URLSearchParams(m[2] ?? ''), headers })
    }
    const done = (): void => {
      socket.off('data', onData)
      socket.off('error', noop)
    }
    socket.on('data', onData)
  })
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 401: 'Unauthorized', 403: 'Forbidden', 404: 'Not Found', 429: 'Too Many Requests', 502: 'Bad Gateway', 503: 'Service Unavailable', 500: 'Internal Server Error' }

/** A complete JSON error response on a bare socket, then close. */
export function writeRawError(socket: net.Socket, status: number, body: unknown, extraHeaders = ''): void {
  const text = JSON.stringify(body)
  endResponse(socket, `HTTP/1.1 ${status} ${REASONS[status] ?? 'Error'}\r\ncontent-type: application/json; charset=utf-8\r\ncontent-length: ${Buffer.byteLength(text)}\r\nconnection: close\r\n${extraHeaders}\r\n${text}`)
}

function noop(): void { /* errors before hand-off end in 'close' */ }
