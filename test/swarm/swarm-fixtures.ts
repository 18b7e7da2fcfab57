// Fixtures for swarm tests: a counting origin with Range/ETag, and bittorrent-tracker servers on loopback.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { Server as TrackerServer } from 'bittorrent-tracker'

export type Origin = {
  url: string
  /** GETs that carried a body (HEADs are not counted). */
  gets: number
  heads: number
  /** Body bytes sent. */
  bytesSent: number
  body: Buffer
  sha256: string
  /** Replace the object (new ETag). */
  setBody(b: Buffer): void
  /** Paced responses stop once this many body bytes were sent in total (until resume()); Infinity = never. */
  holdAt: number
  resume(): void
  close(): Promise<void>
}

export type OriginOptions = {
  size?: number
  /** Bytes per second per response; 0 = as fast as possible. */
  rate?: number
  /** Path of the object. */
  path?: string
}

/** An origin serving one object with ETag, Last-Modified and single-range support; counts what it sends. */
export async function startOrigin(options: OriginOptions = {}): Promise<Origin> {
  let body: Buffer = randomBytes(options.size ?? 1024 * 1024)
  let etag = `"${createHash('sha1').update(body).digest('hex')}"`
  const objPath = options.path ?? '/files/object.bin'
  const sockets = new Set<Socket>()
  const state: Origin = {
    url: '', gets: 0, heads: 0, bytesSent: 0, body, holdAt: Infinity,
    resume() { state.holdAt = Infinity }, sha256: createHash('sha256').update(body).digest('hex'),
    setBody(b) { body = b; state.body = b; etag = `"${createHash('sha1').update(b).digest('hex')}"`; state.sha256 = createHash('sha256').update(b).digest('hex') },
    close: () => new Promise<void>((resolve) => { for (const s of sockets) s.destroy(); server.close(() => resolve()) }),
  }
  const server: Server = createServer((req, res) => {
    if (req.url === '/go-away') { res.writeHead(302, { location: 'http://forbidden.invalid/x.bin' }); res.end(); return }
    if (req.url !== objPath) { res.writeHead(404); res.end(); return }
    const headers: Record<string, string | number> = { etag, 'last-modified': new Date(0).toUTCString(), 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
    let start = 0
    let end = body.length - 1
    const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range ?? '')
    const ifRange = req.headers['if-range']
    const useRange = m && (!ifRange || ifRange === etag)
    if (useRange && m) {
      start = Number(m[1]); end = m[2] ? Math.min(Number(m[2]), body.length - 1) : body.length - 1
      headers['content-range'] = `bytes ${start}-${end}/${body.length}`
    }
    headers['content-length'] = end - start + 1
    res.writeHead(useRange ? 206 : 200, headers)
    if (req.method === 'HEAD') { state.heads++; res.end(); return }
    state.gets++
    const slice = body.subarray(start, end + 1)
    const rate = options.rate ?? 0
    if (!rate) { state.bytesSent += slice.length; res.end(slice); return }
    const step = Math.max(1024, Math.floor(rate / 20))
    let pos = 0
    const tick = (): void => {
      if (res.destroyed) return
      if (state.bytesSent >= state.holdAt) { setTimeout(tick, 50); return }
      const part = slice.subarray(pos, pos + step)
      pos += part.length
      state.bytesSent += part.length
      if (pos >= slice.length) { res.end(part); return }
      res.write(part)
      setTimeout(tick, 50)
    }
    tick()
  })
  server.on('connection', (s) => { sockets.add(s); s.on('close', () => sockets.delete(s)) })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}${objPath}`
  return state
}

export type Tracker = { announce: string; close: () => Promise<void> }

/** bittorrent-tracker's Server, HTTP only, on a free loopback port. */
export async function startTracker(): Promise<Tracker> {
  const server = new TrackerServer({ udp: false, http: true, ws: false, stats: false, interval: 2000 })
  server.on('error', () => undefined)
  server.on('warning', () => undefined)
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.http?.address() as AddressInfo).port
  return {
    announce: `http://127.0.0.1:${port}/announce`,
    close: () => new Promise<void>((resolve) => {
      server.http?.closeAllConnections()
      server.close(() => resolve())
    }),
  }
}
