// An HLS origin that records what it serves over time: the arrival time of every request, and every body slice as
// the kernel accepts it (write callback). The --bwlimit / --max-rps tests measure the limits here, at the origin.
import http from 'node:http'
import { createRandom } from '../../src/shared/seeded-random.ts'
import { listen } from '../../src/shared/http-ops.ts'

export type MeteredOrigin = {
  url: string
  /** The media playlist listing every segment. */
  playlist: string
  files: Map<string, Buffer>
  /** performance.now() of each request's arrival. */
  requests: number[]
  /** [performance.now(), bytes] per body slice handed to the kernel. */
  sent: Array<[number, number]>
  /** Connections opened: each may hold one response in its socket buffers ahead of a throttled reader. */
  connections: number
  stop: () => Promise<void>
}

const SLICE = 16 * 1024

/** `segments` segments of `bytes` bytes each (PRNG seeded with `seed`) under /lib/, listed by /lib/index.m3u8. */
export async function startMeteredOrigin(options: { segments: number; bytes: number; seed: number }): Promise<MeteredOrigin> {
  const random = createRandom(options.seed)
  const files = new Map<string, Buffer>()
  let m3u8 = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n'
  for (let s = 0; s < options.segments; s++) {
    const body = Buffer.alloc(options.bytes)
    for (let k = 0; k < body.length; k++) body[k] = Math.floor(random() * 256)
    files.set(`/lib/s${s}.ts`, body)
    m3u8 += `#EXTINF:4,\ns${s}.ts\n`
  }
  files.set('/lib/index.m3u8', Buffer.from(`${m3u8}#EXT-X-ENDLIST\n`))
  const requests: number[] = []
  const sent: Array<[number, number]> = []
  const server = http.createServer((req, res) => {
    requests.push(performance.now())
    const body = files.get((req.url ?? '/').split('?')[0] ?? '/')
    if (!body) { res.writeHead(404, { 'content-length': 0 }).end(); return }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'video/mp2t', etag: `"${body.length}-${body[0]}"` })
    if (req.method === 'HEAD') { res.end(); return }
    // Slice by slice, each only when the socket takes more: the record follows what actually leaves.
    const send = (off: number): void => {
      while (off < body.length) {
        const piece = body.subarray(off, off + SLICE)
        off += piece.length
        const more = res.write(piece, () => { sent.push([performance.now(), piece.length]) })
        if (!more) { res.once('drain', () => send(off)); return }
      }
      res.end()
    }
    send(0)
  })
  server.keepAliveTimeout = 60_000
  let connections = 0
  server.on('connection', () => { connections++ })
  const url = await listen(server)
  return {
    url, playlist: `${url}/lib/index.m3u8`, files, requests, sent,
    get connections() { return connections },
    set connections(v: number) { connections = v },
    stop: () => new Promise<void>((resolve) => { server.closeAllConnections(); server.close(() => resolve()) }),
  }
}

/** The most weight any window of `windowMs` (starting at an event) holds, of timed events [time, weight]. */
export function maxInWindow(events: Array<[number, number]>, windowMs = 1000): number {
  const sorted = [...events].sort((a, b) => a[0] - b[0])
  let best = 0
  let sum = 0
  let lo = 0
  for (let hi = 0; hi < sorted.length; hi++) {
    const [t, w] = sorted[hi] as [number, number]
    sum += w
    while ((sorted[lo] as [number, number])[0] <= t - windowMs) { sum -= (sorted[lo] as [number, number])[1]; lo++ }
    best = Math.max(best, sum)
  }
  return best
}
