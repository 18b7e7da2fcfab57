// A sample HTTP origin for the swarm demo and bench/swarm: one generated object with ETag, Last-Modified and Range,
// its egress capped and counted.
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { listen } from '../shared/http-ops.ts'
import { performance } from 'node:perf_hooks'

export type DemoOriginOptions = {
  /** Object size in bytes; the content is random so nothing downstream can compress or dedupe it. */
  size: number
  /** Path the object is served at. @defaultValue '/object.bin' */
  path?: string
  /** Cap on the origin's total egress, bytes/s, shared fairly by all responses; 0 = none. @defaultValue 0 */
  rateBytesPerSec?: number
  /** Bind address. @defaultValue '127.0.0.1' */
  host?: string
}

export type DemoOriginStats = { requests: number; egressBytes: number }

export type DemoOrigin = {
  /** Full URL of the object. */
  url: string
  /** host:port, for an agent's --allow-host. */
  hostPort: string
  size: number
  sha256: string
  /** The object's bytes (for seeding a baseline client with the same file). */
  body: Buffer
  /** Every body byte sent since start (or the last resetStats). */
  stats: () => DemoOriginStats
  resetStats: () => void
  close: () => Promise<void>
}

/**
 * A shared token bucket: each caller reserves its bytes on one timeline, so concurrent responses
 * interleave chunk by chunk and together never exceed the rate. A late timer may catch up by at most
 * 50 ms worth of bytes; without that slack every late wake-up would be lost for good and the origin
 * would run below its cap.
 */
function createPacer(rateBytesPerSec: number): (bytes: number) => Promise<void> {
  let nextFree = 0
  return async (bytes) => {
    if (rateBytesPerSec <= 0) return
    const now = performance.now()
    const duration = (bytes / rateBytesPerSec) * 1000
    const start = Math.max(now - 50, nextFree)
    nextFree = start + duration
    if (start - now > 1) await new Promise((r) => setTimeout(r, start - now))
  }
}

/** "bytes=a-b" | "bytes=a-" | "bytes=-n" → [start, end] inclusive; undefined = unsatisfiable; null = no/ignored header. */
function parseRange(header: string | undefined, size: number): [number, number] | undefined | null {
  if (!header) return null
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m || (m[1] === '' && m[2] === '')) return null
  if (m[1] === '') {
    const n = Number(m[2])
    return n === 0 ? undefined : [Math.max(0, size - n), size - 1]
  }
  const start = Number(m[1])
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1)
  return start >= size || end < start ? undefined : [start, end]
}

const CHUNK = 64 * 1024

/** A loopback HTTP origin serving one generated object with ETag, Last-Modified and Range, counting egress. */
export async function startDemoOrigin(options: DemoOriginOptions): Promise<DemoOrigin> {
  const body = randomBytes(options.size)
  const sha256 = createHash('sha256').update(body).digest('hex')
  const objectPath = options.path ?? '/object.bin'
  const etag = `"${sha256.slice(0, 32)}"`
  const lastModified = new Date().toUTCString()
  const pace = createPacer(options.rateBytesPerSec ?? 0)
  let stats: DemoOriginStats = { requests: 0, egressBytes: 0 }

  const send = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    if ((req.url ?? '').split('?')[0] !== objectPath) { res.writeHead(404).end(); return }
    if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD' }).end(); return }
    stats.requests++
    const common = { etag, 'last-modified': lastModified, 'accept-ranges': 'bytes', 'content-type': 'application/octet-stream' }
    const ifRange = req.headers['if-range']
    const range = ifRange && ifRange !== etag ? null : parseRange(req.headers.range, body.length)
    if (range === undefined) {
      res.writeHead(416, { ...common, 'content-range': `bytes */${body.length}` }).end()
      return
    }
    const [start, end] = range ?? [0, body.length - 1]
    res.writeHead(range ? 206 : 200, {
      ...common, 'content-length': end - start + 1,
      ...(range ? { 'content-range': `bytes ${start}-${end}/${body.length}` } : {}),
    })
    if (req.method === 'HEAD') { res.end(); return }
    for (let at = start; at <= end && !res.destroyed; at += CHUNK) {
      const chunk = body.subarray(at, Math.min(at + CHUNK, end + 1))
      await pace(chunk.length)
      if (res.destroyed) break
      stats.egressBytes += chunk.length
      if (!res.write(chunk)) {
        await new Promise<void>((resolve) => {
          const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
          res.on('drain', done)
          res.on('close', done)
        })
      }
    }
    res.end()
  }

  const server = createServer((req, res) => {
    send(req, res).catch(() => res.destroy())
  })
  const base = await listen(server, { host: options.host ?? '127.0.0.1', port: 0 })
  const url = `${base}${objectPath}`
  return {
    url, hostPort: new URL(base).host, size: body.length, sha256, body,
    stats: () => ({ ...stats }),
    resetStats: () => { stats = { requests: 0, egressBytes: 0 } },
    close: async () => {
      server.closeAllConnections()
      await new Promise<void>((r) => server.close(() => r()))
    },
  }
}
