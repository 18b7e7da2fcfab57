// One HTTP(S) announce (BEP 3, compact peers of BEP 23 and BEP 7): the request with raw info hash and peer id,
// the answer read up to a size cap and decoded by a decoder that builds no plain objects. Every byte of the
// answer is untrusted; whatever is wrong with it is one AnnounceError.
import http from 'node:http'
import https from 'node:https'
import net from 'node:net'
import { decodeBencode, type BDict, type BValue } from '../wire/bencode-decode.ts'
import { AnnounceError, compactPeers4, compactPeers6, printable, type AnnounceAnswer, type AnnounceRequest } from './announce-peers.ts'

/**
 * node:http rather than undici: its HTTP parser is native code, while undici's is WebAssembly that every agent
 * process compiles again with V8's optimising tier once announces make it hot (~0.1 s of CPU per agent, in the
 * middle of a download). A tracker is a plain HTTP/1.1 server; the connections are kept for the next announce.
 */
const httpAgent = new http.Agent({ keepAlive: true, maxSockets: 4 })
const httpsAgent = new https.Agent({ keepAlive: true, maxSockets: 4 })

/** GET `url`: the status and the body, refused once it passes `maxBytes`. */
function get(url: string, maxBytes: number, signal: AbortSignal | undefined): Promise<{ status: number; body: Buffer }> {
  const tls = url.startsWith('https:')
  return new Promise((resolve, reject) => {
    const req = (tls ? https : http).get(url, { agent: tls ? httpsAgent : httpAgent, ...(signal ? { signal } : {}) }, (res) => {
      const chunks: Buffer[] = []
      let size = 0
      res.on('data', (chunk: Buffer) => {
        size += chunk.length
        if (size > maxBytes) { req.destroy(); reject(new AnnounceError(`answer larger than ${maxBytes} bytes`)); return }
        chunks.push(chunk)
      })
      res.once('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }))
      res.once('error', reject)
      res.once('close', () => { if (!res.complete) reject(new AnnounceError('the tracker closed the connection mid-answer')) })
    })
    req.once('error', reject)
  })
}

const isUnreserved = (c: number): boolean =>
  (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e

/** Raw bytes URL-encoded one by one (info_hash and peer_id are binary, not UTF-8). */
export function escapeBytes(bytes: Buffer): string {
  let s = ''
  for (const c of bytes) s += isUnreserved(c) ? String.fromCharCode(c) : `%${c.toString(16).padStart(2, '0').toUpperCase()}`
  return s
}

export function announceQueryUrl(base: string, r: AnnounceRequest): string {
  const params = [
    `info_hash=${escapeBytes(r.infoHash)}`, `peer_id=${escapeBytes(r.peerId)}`, `port=${r.port}`,
    `uploaded=${r.uploaded}`, `downloaded=${r.downloaded}`, `left=${r.left}`,
    'compact=1', `numwant=${r.numwant}`, `key=${r.key.toString(16).padStart(8, '0')}`,
  ]
  if (r.event) params.push(`event=${r.event}`)
  const hash = base.indexOf('#')
  const url = hash < 0 ? base : base.slice(0, hash)
  return `${url}${url.includes('?') ? '&' : '?'}${params.join('&')}`
}

/** Announces over HTTP(S); the answer, or an AnnounceError / a transport error. */
export async function announceHttp(url: string, r: AnnounceRequest, maxBytes: number): Promise<AnnounceAnswer> {
  const { status, body } = await get(announceQueryUrl(url, r), maxBytes, r.signal)
  if (status !== 200) {
    // Some trackers send their failure reason with an error status: report it rather than the bare status.
    const reason = failureReason(body)
    throw new AnnounceError(reason === undefined ? `HTTP status ${status}` : `HTTP status ${status}, ${reason}`)
  }
  return parseHttpAnswer(body)
}

const safeText = (v: BValue | undefined): string => (Buffer.isBuffer(v) ? printable(v) : '(not a string)')

const seconds = (v: BValue | undefined): number | undefined => (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 ? v : undefined)

/** A dict-form peer ({ip, port}); undefined if it does not name an IP address and a port. */
function dictPeer(v: BValue): string | undefined {
  if (!(v instanceof Map)) return undefined
  const ip = v.get('ip')
  const port = v.get('port')
  if (!Buffer.isBuffer(ip) || typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return undefined
  const host = ip.toString('latin1')
  const family = net.isIP(host)
  if (family === 0) return undefined
  return family === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

function peersOf(d: BDict): string[] {
  const peers: string[] = []
  const p = d.get('peers')
  if (Buffer.isBuffer(p)) peers.push(...compactPeers4(p))
  else if (Array.isArray(p)) for (const e of p) { const a = dictPeer(e); if (a !== undefined) peers.push(a) }
  else if (p !== undefined) throw new AnnounceError('peers is neither a string nor a list')
  const p6 = d.get('peers6')
  if (Buffer.isBuffer(p6)) peers.push(...compactPeers6(p6))
  else if (p6 !== undefined) throw new AnnounceError('peers6 is not a string')
  return peers
}

/** The failure reason a body states, if it is a dict that states one. */
function failureReason(body: Buffer): string | undefined {
  try {
    const d = decodeBencode(body)
    return d instanceof Map && d.has('failure reason') ? `failure reason: ${safeText(d.get('failure reason'))}` : undefined
  } catch { return undefined }
}

/** The answer to an HTTP announce: peers and intervals, or an AnnounceError (a failure reason, malformed bytes). */
export function parseHttpAnswer(body: Buffer): AnnounceAnswer {
  let d: BValue
  try { d = decodeBencode(body) } catch (err) { throw new AnnounceError((err as Error).message) }
  if (!(d instanceof Map)) throw new AnnounceError('answer is not a dict')
  const failure = d.get('failure reason')
  if (failure !== undefined) throw new AnnounceError(`failure reason: ${safeText(failure)}`)
  const warning = d.get('warning message')
  return {
    peers: peersOf(d),
    interval: seconds(d.get('interval')),
    minInterval: seconds(d.get('min interval')),
    ...(warning === undefined ? {} : { warning: safeText(warning) }),
  }
}
