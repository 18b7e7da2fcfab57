// GET /v1/objects: the object over HTTP with Range support, each chunk sent as soon as it is verified on disk.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Download } from '../agent/download.ts'
import { SwarmError } from '../errors.ts'

const CHUNK = 256 * 1024

/** Parses a single "bytes=a-b" / "bytes=a-" / "bytes=-n" range; undefined = whole object; throws 416 material. */
export function parseRange(header: string | undefined, length: number): { start: number; end: number } | undefined {
  if (!header) return undefined
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim())
  // Multi-range and other units: answer the whole object, which RFC 9110 allows.
  if (!m) return undefined
  let start: number
  let end: number
  if (m[1] === '' && m[2] === '') return undefined
  if (m[1] === '') {
    const n = Number(m[2])
    start = Math.max(0, length - n)
    end = length - 1
  } else {
    start = Number(m[1])
    end = m[2] === '' ? length - 1 : Math.min(Number(m[2]), length - 1)
  }
  if (start > end || start >= length) throw new SwarmError('SWARM_BAD_REQUEST', `range ${header} not satisfiable for ${length} bytes`, { status: 416, details: { length } })
  return { start, end }
}

/** Streams [start, end] of the download's file, waiting for each chunk's pieces; honours backpressure. */
export async function streamObject(req: IncomingMessage, res: ServerResponse, download: Download): Promise<void> {
  const abort = new AbortController()
  res.once('close', () => abort.abort(new Error('client went away')))
  // The length is known after the probe; wait for it (or for failure).
  while (download.length === undefined) {
    if (download.state === 'failed' || download.state === 'cancelled') throw download.error ?? new SwarmError('SWARM_CANCELLED', 'download stopped')
    if (abort.signal.aborted) return
    await new Promise<void>((resolve) => {
      const done = (): void => { download.off('state', done); download.off('progress', done); abort.signal.removeEventListener('abort', done); resolve() }
      download.on('state', done)
      download.on('progress', done)
      abort.signal.addEventListener('abort', done, { once: true })
    })
  }
  const length = download.length
  let range: { start: number; end: number } | undefined
  try {
    range = parseRange(req.headers.range, length)
  } catch (err) {
    res.writeHead(416, { 'content-range': `bytes */${length}` })
    res.end()
    void err
    return
  }
  const start = range?.start ?? 0
  const end = range?.end ?? length - 1
  const headers: Record<string, string | number> = {
    'content-type': 'application/octet-stream',
    'accept-ranges': 'bytes',
    'content-length': end - start + 1,
    etag: `"${download.probe?.key.slice(0, 32) ?? ''}"`,
  }
  if (range) headers['content-range'] = `bytes ${start}-${end}/${length}`
  // The first chunk decides the status: errors before any byte still become a JSON error.
  await download.waitForRange(start, Math.min(end, start + CHUNK - 1), abort.signal)
  res.writeHead(range ? 206 : 200, headers)
  if (req.method === 'HEAD') { res.end(); return }
  try {
    const buf = Buffer.allocUnsafe(CHUNK)
    let pos = start
    while (pos <= end) {
      const last = Math.min(end, pos + CHUNK - 1)
      await download.waitForRange(pos, last, abort.signal)
      const bytesRead = await download.read(buf, last - pos + 1, pos)
      if (bytesRead === 0) throw new Error(`short read at ${pos}`)
      const ok = res.write(Buffer.from(buf.subarray(0, bytesRead)))
      pos += bytesRead
      if (!ok) {
        await new Promise<void>((resolve) => {
          const done = (): void => { res.off('drain', done); res.off('close', done); resolve() }
          res.on('drain', done)
          res.on('close', done)
        })
      }
      if (abort.signal.aborted) return
    }
    res.end()
  } catch (err) {
    // Headers are out: the only honest signal left is a cut connection (the client sees a short body).
    res.destroy(err as Error)
  }
}
