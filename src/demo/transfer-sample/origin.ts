// A sample HLS origin on node:http serving a SampleLibrary from memory, with fault injection so the
// copier's retries, resume and verification can be exercised against the failures real CDNs produce.
import http from 'node:http'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { pipeline } from 'node:stream/promises'
import { handleOpsRequest, listen } from '../../shared/http-ops.ts'
import { Counter, createMetricsRegistry } from '../../shared/metrics.ts'
import { createRandom } from '../../shared/seeded-random.ts'
import type { SampleLibrary } from './library.ts'

export type FaultKind = 'error' | 'throttle' | 'reset' | 'truncate' | 'slow'

/** Failures injected on a fraction of file requests. Rates are independent probabilities in [0, 1]. */
export type SampleOriginFaults = {
  /** Answer 500/502/503. @defaultValue 0 */
  errorRate?: number
  /** Answer 429 with Retry-After. @defaultValue 0 */
  throttleRate?: number
  /** Retry-After value for 429s, in seconds. @defaultValue 1 */
  retryAfterSeconds?: number
  /** Destroy the connection before any response byte. @defaultValue 0 */
  resetRate?: number
  /** Send the full Content-Length, then half the body, then close. @defaultValue 0 */
  truncateRate?: number
  /** Wait `slowMs` before answering. @defaultValue 0 */
  slowRate?: number
  /** @defaultValue 500 */
  slowMs?: number
  /** Paths (no leading slash) that answer 404 although the library has them. @defaultValue none */
  missing?: Iterable<string>
  /** Stop injecting faults on a path after this many (so a bounded retry budget always wins). @defaultValue Infinity */
  maxFaultsPerPath?: number
  /** Only paths matching get faults (e.g. /\.ts$/ to spare playlists). @defaultValue every file */
  match?: RegExp
  /** Seeds the fault dice. @defaultValue 7 */
  seed?: number
}

export type SampleOriginOptions = {
  library: SampleLibrary
  /** @defaultValue '127.0.0.1' */
  host?: string
  /** @defaultValue 0 (a free port) */
  port?: number
  /** @defaultValue no faults */
  faults?: SampleOriginFaults
  /** Path → Location answered with 302 (e.g. to test that redirects are followed). @defaultValue {} */
  redirects?: Record<string, string>
  /** Serve /catalog.json and /catalog.ndjson listing the library's classes. @defaultValue true */
  catalog?: boolean
}

export type SampleOriginStats = {
  /** File requests (GET and HEAD, excluding /healthz, /metrics, catalogs). */
  requests: number
  /** Body bytes sent. */
  bytes: number
  /** GET requests per path (no leading slash), faulted or not. */
  gets: Map<string, number>
  faults: Record<FaultKind, number>
  statuses: Map<number, number>
}

export type SampleOrigin = {
  url: string
  stats: SampleOriginStats
  /** GET requests a path received so far. */
  getsFor: (path: string) => number
  /** Replaces the fault plan (e.g. to heal the origin between runs). */
  setFaults: (faults: SampleOriginFaults | undefined) => void
  resetStats: () => void
  stop: () => Promise<void>
}

function emptyStats(): SampleOriginStats {
  return { requests: 0, bytes: 0, gets: new Map(), faults: { error: 0, throttle: 0, reset: 0, truncate: 0, slow: 0 }, statuses: new Map() }
}

/** bytes=a-b | a- | -n → inclusive range; undefined = serve whole; 'bad' = 416. */
function parseRange(header: string | undefined, size: number): { start: number; end: number } | undefined | 'bad' {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  if (!m) return undefined // multi-range or garbled: whole body is an allowed answer
  const [, a = '', b = ''] = m
  if (a === '' && b === '') return 'bad'
  let start: number
  let end: number
  if (a === '') { const n = Number(b); start = Math.max(0, size - n); end = size - 1 } else { start = Number(a); end = b === '' ? size - 1 : Math.min(Number(b), size - 1) }
  if (start >= size || start > end) return 'bad'
  return { start, end }
}

/** Starts the origin on loopback; resolves once it accepts connections. */
export async function startSampleOrigin(options: SampleOriginOptions): Promise<SampleOrigin> {
  const { library } = options
  const registry = createMetricsRegistry({ prefix: 'colony_sample_origin_', defaults: false })
  const requestsTotal = new Counter({ name: 'colony_sample_origin_requests_total', help: 'File requests by status', labelNames: ['status'], registers: [registry] })
  const bytesTotal = new Counter({ name: 'colony_sample_origin_bytes_total', help: 'Body bytes sent', registers: [registry] })
  const faultsTotal = new Counter({ name: 'colony_sample_origin_faults_total', help: 'Injected faults by kind', labelNames: ['kind'], registers: [registry] })
  let stats = emptyStats()
  let faults: SampleOriginFaults = options.faults ?? {}
  let missing = new Set([...(faults.missing ?? [])].map((p) => p.replace(/^\/+/, '')))
  let dice = createRandom(faults.seed ?? 7)
  const faultsPerPath = new Map<string, number>()
  let base = ''

  const count = (status: number): void => {
    stats.statuses.set(status, (stats.statuses.get(status) ?? 0) + 1)
    requestsTotal.inc({ status: String(status) })
  }
  const injected = (kind: FaultKind, p: string): void => {
    stats.faults[kind]++
    faultsTotal.inc({ kind })
    faultsPerPath.set(p, (faultsPerPath.get(p) ?? 0) + 1)
  }

  /** Picks at most one fault for this request, or none. */
  const pickFault = (p: string): FaultKind | undefined => {
    if (faults.match && !faults.match.test(p)) return undefined
    if ((faultsPerPath.get(p) ?? 0) >= (faults.maxFaultsPerPath ?? Infinity)) return undefined
    const plan: Array<[FaultKind, number | undefined]> = [['error', faults.errorRate], ['throttle', faults.throttleRate], ['reset', faults.resetRate], ['truncate', faults.truncateRate], ['slow', faults.slowRate]]
    for (const [kind, rate] of plan) if (rate && dice() < rate) return kind
    return undefined
  }

  const serveFile = async (req: IncomingMessage, res: ServerResponse, p: string): Promise<void> => {
    stats.requests++
    if (req.method === 'GET') stats.gets.set(p, (stats.gets.get(p) ?? 0) + 1)
    const file = library.files.get(p)
    if (!file || missing.has(p)) { count(404); res.writeHead(404, { 'content-type': 'text/plain', 'content-length': 10 }).end('not found\n'); return }
    const fault = pickFault(p)
    if (fault) injected(fault, p)
    if (fault === 'slow') await new Promise((r) => setTimeout(r, faults.slowMs ?? 500))
    if (fault === 'reset') { req.socket.destroy(); return }
    if (fault === 'error') {
      const status = [500, 502, 503][stats.faults.error % 3] ?? 500
      count(status); res.writeHead(status, { 'content-type': 'text/plain', 'content-length': 15 }).end('injected fault\n'); return
    }
    if (fault === 'throttle') {
      count(429); res.writeHead(429, { 'retry-after': String(faults.retryAfterSeconds ?? 1), 'content-type': 'text/plain', 'content-length': 13 }).end('slow down...\n'); return
    }
    if (req.headers['if-none-match'] === file.etag) { count(304); res.writeHead(304, { etag: file.etag }).end(); return }
    const range = parseRange(req.headers.range, file.size)
    if (range === 'bad') { count(416); res.writeHead(416, { 'content-range': `bytes */${file.size}`, 'content-length': 0 }).end(); return }
    const headers: http.OutgoingHttpHeaders = {
      'content-type': file.contentType, etag: file.etag, 'accept-ranges': 'bytes', 'last-modified': new Date(Date.UTC(2024, 0, 1)).toUTCString(),
      'content-length': range ? range.end - range.start + 1 : file.size,
    }
    if (range) headers['content-range'] = `bytes ${range.start}-${range.end}/${file.size}`
    const status = range ? 206 : 200
    count(status)
    res.writeHead(status, headers)
    if (req.method === 'HEAD') { res.end(); return }
    if (fault === 'truncate') {
      const whole = range ?? { start: 0, end: file.size - 1 }
      const cut = Math.floor((whole.end - whole.start + 1) / 2)
      if (cut > 0) {
        const body = library.read(p).subarray(whole.start, whole.start + cut)
        stats.bytes += body.length
        bytesTotal.inc(body.length)
        await new Promise<void>((resolve) => res.write(body, () => resolve()))
      }
      res.destroy()
      return
    }
    const body = library.stream(p, range)
    let sent = 0
    body.on('data', (c: Buffer) => { sent += c.length })
    try { await pipeline(body, res) } catch { /* client went away */ }
    stats.bytes += sent
    bytesTotal.inc(sent)
  }

  const server = http.createServer({ keepAliveTimeout: 30_000 }, (req, res) => {
    void (async () => {
      try {
        if (await handleOpsRequest(req, res, { registry, health: () => ({ files: library.files.size }) })) return
        if (req.method !== 'GET' && req.method !== 'HEAD') { res.writeHead(405, { allow: 'GET, HEAD', 'content-length': 0 }).end(); return }
        const url = new URL(req.url ?? '/', 'http://origin.invalid')
        let p: string
        try { p = decodeURIComponent(url.pathname).replace(/^\/+/, '') } catch { res.writeHead(400, { 'content-length': 0 }).end(); return }
        if (options.catalog ?? true) {
          const text = p === 'catalog.json' ? library.catalogJson(base) : p === 'catalog.ndjson' ? library.catalogNdjson(base) : undefined
          if (text !== undefined) {
            const type = p.endsWith('.json') ? 'application/json' : 'application/x-ndjson'
            res.writeHead(200, { 'content-type': type, 'content-length': Buffer.byteLength(text) }).end(req.method === 'HEAD' ? undefined : text)
            return
          }
        }
        const to = options.redirects?.[p] ?? options.redirects?.[`/${p}`]
        if (to) { count(302); res.writeHead(302, { location: to, 'content-length': 0 }).end(); return }
        await serveFile(req, res, p)
      } catch {
        if (!res.headersSent) res.writeHead(500, { 'content-length': 0 }).end()
        else res.destroy()
      }
    })()
  })
  base = await listen(server, { host: options.host, port: options.port })

  return {
    url: base,
    get stats() { return stats },
    getsFor: (p) => stats.gets.get(p.replace(/^\/+/, '')) ?? 0,
    setFaults: (f) => {
      faults = f ?? {}
      missing = new Set([...(faults.missing ?? [])].map((p) => p.replace(/^\/+/, '')))
      dice = createRandom(faults.seed ?? 7)
      faultsPerPath.clear()
    },
    resetStats: () => { stats = emptyStats() },
    stop: () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections() }),
  }
}
