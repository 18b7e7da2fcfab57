// A raw `net` origin that answers every request with `Connection: close` and ends the socket (FIN) right after the
// last body byte, like Python's http.server. The body goes out in paced pieces so a client that holds the body
// unread sees its HTTP parser paused by backpressure when the FIN arrives (nodejs/undici#5360).
import { createHash } from 'node:crypto'
import { createServer, type AddressInfo, type Socket } from 'node:net'
import { setTimeout as sleep } from 'node:timers/promises'

export type CloseOrigin = {
  /** URL of the object. */
  url: string
  body: Buffer
  sha256: string
  /** GET requests answered. */
  gets: number
  close: () => Promise<void>
}

export type CloseOriginOptions = {
  /**
   * Body bytes per write; the headers go with the first. The defaults (16 + 40 + 40 KiB) leave more than the
   * client's 64 KiB stream highWaterMark unread when the last piece and the FIN arrive together.
   * @defaultValue [16384, 40960, 40960]
   */
  pieces?: number[]
  /** Pause between two writes. @defaultValue 50 */
  gapMs?: number
  /** Content-Length announced; more than the body makes a truncated response. @defaultValue the body's length */
  announce?: number
}

const DEFAULT_PIECES = [16384, 40960, 40960]

/** Serves one pseudo-random object (seeded by `seed`) at /object.bin; HEAD gets the headers alone. */
export async function startCloseOrigin(seed: string, options: CloseOriginOptions = {}): Promise<CloseOrigin> {
  const pieces = options.pieces ?? DEFAULT_PIECES
  const body = seededBytes(seed, pieces.reduce((a, b) => a + b, 0))
  const etag = `"${createHash('sha1').update(body).digest('hex')}"`
  const sockets = new Set<Socket>()
  const state: CloseOrigin = {
    url: '', body, sha256: createHash('sha256').update(body).digest('hex'), gets: 0,
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }),
  }
  const head = [
    'HTTP/1.1 200 OK', `Content-Length: ${options.announce ?? body.length}`, 'Content-Type: application/octet-stream',
    `ETag: ${etag}`, `Last-Modified: ${new Date(0).toUTCString()}`, 'Connection: close', '', '',
  ].join('\r\n')
  const answer = async (sock: Socket, request: string): Promise<void> => {
    if (!request.startsWith('GET ') && !request.startsWith('HEAD ')) { sock.end('HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'); return }
    if (request.startsWith('HEAD ')) { sock.end(head); return }
    state.gets++
    let off = 0
    for (const [i, size] of pieces.entries()) {
      const part = body.subarray(off, off + size)
      off += size
      const data = i === 0 ? Buffer.concat([Buffer.from(head), part]) : part
      if (i === pieces.length - 1) { sock.end(data); return }
      sock.write(data)
      await sleep(options.gapMs ?? 50)
      if (sock.destroyed) return
    }
  }
  const server = createServer((sock) => {
    sockets.add(sock)
    sock.on('close', () => sockets.delete(sock))
    sock.on('error', () => sock.destroy())
    let request = ''
    const onData = (b: Buffer): void => {
      request += b.toString('latin1')
      if (!request.includes('\r\n\r\n')) return
      sock.off('data', onData)
      void answer(sock, request)
    }
    sock.on('data', onData)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/object.bin`
  return state
}

function seededBytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let h = createHash('sha256').update(seed).digest()
  for (let off = 0; off < size; off += h.length) { h.copy(out, off); h = createHash('sha256').update(h).digest() }
  return out
}
