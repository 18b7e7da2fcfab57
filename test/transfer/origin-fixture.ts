// A small in-memory HLS origin for transfer's engine tests: node:http, per-path fault hooks, request log.
import http from 'node:http'
import { createHash } from 'node:crypto'
import { listen } from '../../src/shared/http-ops.ts'

export type OriginFile = { body: Buffer; type: string }

export type FixtureOrigin = {
  url: string
  files: Map<string, OriginFile>
  /** "GET /path" per request, in arrival order. */
  log: string[]
  /** Paths answering 503 (Retry-After: 0) to their next N requests. */
  failNext: Map<string, number>
  /** Paths whose next N responses announce the full length, send half, then reset the connection. */
  truncateNext: Map<string, number>
  /** Paths answering 404. */
  missing: Set<string>
  /** Delay before every response. */
  delayMs: number
  /** Requests served at once; more are answered 429 (Retry-After: 0) at once, playlists excepted. 0 = no limit. */
  maxActive: number
  /** How many requests were answered 429 for maxActive. */
  readonly throttled: number
  /** Paths answered only once their promise settles (a playlist that is slow to come). */
  holds: Map<string, Promise<unknown>>
  stop: () => Promise<void>
}

function bytes(seed: string, size: number): Buffer {
  const out = Buffer.alloc(size)
  let h = createHash('sha256').update(seed).digest()
  for (let off = 0; off < size; off += h.length) { h.copy(out, off); h = createHash('sha256').update(h).digest() }
  return out
}

/** `classes` classes at /lib/c<i>/: a master, a TS variant with an AES key, an fMP4 variant with EXT-X-MAP. */
export function buildLibrary(classes: number, segments: number): Map<string, OriginFile> {
  const files = new Map<string, OriginFile>()
  const m3u8 = 'application/vnd.apple.mpegurl'
  for (let c = 0; c < classes; c++) {
    const base = `/lib/c${c}`
    files.set(`${base}/master.m3u8`, { type: m3u8, body: Buffer.from('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000\nts/index.m3u8\n#EXT-X-STREAM-INF:BANDWIDTH=900000\nfmp4/index.m3u8?v=2\n') })
    let ts = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-KEY:METHOD=AES-128,URI="../keys/k.key"\n'
    let mp4 = '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI="init.mp4"\n'
    for (let s = 0; s < segments; s++) {
      ts += `#EXTINF:4,\ns${s}.ts\n`
      mp4 += `#EXTINF:4,\ns${s}.m4s\n`
      files.set(`${base}/ts/s${s}.ts`, { type: 'video/mp2t', body: bytes(`${base}/ts/${s}`, 1000 + ((s * 7919) % 30000)) })
      files.set(`${base}/fmp4/s${s}.m4s`, { type: 'video/iso.segment', body: bytes(`${base}/fmp4/${s}`, 500 + ((s * 104729) % 20000)) })
    }
    files.set(`${base}/ts/index.m3u8`, { type: m3u8, body: Buffer.from(`${ts}#EXT-X-ENDLIST\n`) })
    files.set(`${base}/fmp4/index.m3u8`, { type: m3u8, body: Buffer.from(`${mp4}#EXT-X-ENDLIST\n`) })
    files.set(`${base}/fmp4/init.mp4`, { type: 'video/mp4', body: bytes(`${base}/init`, 800) })
    files.set(`${base}/keys/k.key`, { type: 'application/octet-stream', body: bytes(`${base}/key`, 16) })
  }
  return files
}

export async function startFixtureOrigin(files: Map<string, OriginFile>): Promise<FixtureOrigin> {
  const origin = { files, log: [] as string[], failNext: new Map<string, number>(), truncateNext: new Map<string, number>(), missing: new Set<string>(), delayMs: 0, maxActive: 0, throttled: 0, holds: new Map<string, Promise<unknown>>() }
  let active = 0
  const mtime = new Date('2024-01-01T00:00:00Z').toUTCString()
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent((req.url ?? '/').split('?')[0] ?? '/')
    origin.log.push(`${req.method} ${path}`)
    const answer = (): void => {
      const left = origin.failNext.get(path) ?? 0
      if (left > 0) {
        origin.failNext.set(path, left - 1)
        res.writeHead(503, { 'retry-after': '0', 'content-length': 0 }).end()
        return
      }
      const f = origin.files.get(path)
      if (!f || origin.missing.has(path)) { res.writeHead(404, { 'content-length': 0 }).end(); return }
      const cut = origin.truncateNext.get(path) ?? 0
      if (cut > 0 && req.method === 'GET') {
        origin.truncateNext.set(path, cut - 1)
        res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length })
        res.write(f.body.subarray(0, Math.floor(f.body.length / 2)), () => res.destroy())
        return
      }
      res.writeHead(200, { 'content-type': f.type, 'content-length': f.body.length, etag: `"${createHash('md5').update(f.body).digest('hex').slice(0, 16)}"`, 'last-modified': mtime })
      res.end(req.method === 'HEAD' ? undefined : f.body)
    }
    if (origin.maxActive > 0 && active >= origin.maxActive && !path.endsWith('.m3u8')) {
      origin.throttled++
      res.writeHead(429, { 'retry-after': '0', 'content-length': 0 }).end()
      return
    }
    active++
    res.once('close', () => { active-- })
    const hold = origin.holds.get(path)
    if (hold) void hold.finally(answer)
    else if (origin.delayMs > 0) setTimeout(answer, origin.delayMs)
    else answer()
  })
  server.keepAliveTimeout = 60_000
  const url = await listen(server)
  return {
    url, ...origin,
    get delayMs() { return origin.delayMs },
    set delayMs(v: number) { origin.delayMs = v },
    get maxActive() { return origin.maxActive },
    set maxActive(v: number) { origin.maxActive = v },
    get throttled() { return origin.throttled },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}
