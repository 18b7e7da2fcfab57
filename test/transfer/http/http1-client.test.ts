// The copy path's lean HTTP/1.1 client (HttpSource.getDirect) against scripted TCP origins: keep-alive reuse, a
// stale idle connection retried once, hostile bytes closing one connection only, deadlines, aborts, statuses and
// redirects as get() has them, the stream fallback with backpressure, and TLS.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import https from 'node:https'
import type net from 'node:net'
import path from 'node:path'
import type { Readable } from 'node:stream'
import { after, test } from 'node:test'
import { HttpSource } from '../../../src/transfer/adapters/http-source.ts'
import { Http1Client } from '../../../src/transfer/adapters/http1/pool.ts'
import type { ChunkConsumer, DirectResult, SourceObject } from '../../../src/transfer/core/ports.ts'
import { TRANSFER_CODES, TransferError } from '../../../src/transfer/errors.ts'
import { scripted } from './scripted-origin.ts'
import { makeTempDir } from '../../../support/services.ts'

const ok = (body: string | Buffer, extra = ''): Buffer => Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n`), Buffer.from(body)])

/** A consumer that copies what it is given (chunks are views valid during the call only). */
function collector(): ChunkConsumer & { bytes: () => Buffer } {
  const parts: Buffer[] = []
  return { write: (c) => { parts.push(Buffer.from(c)) }, bytes: () => Buffer.concat(parts) }
}

async function getAll(src: HttpSource, url: string, signal?: AbortSignal): Promise<Buffer> {
  const c = collector()
  const r: DirectResult = await src.getDirect(url, { open: () => c, ...(signal ? { signal } : {}) })
  assert.equal(typeof r, 'number')
  return c.bytes()
}

async function failure(p: Promise<unknown>): Promise<string> {
  try { await p } catch (err) { assert.ok(err instanceof TransferError, String(err)); return err.code }
  return 'no error'
}

const cleanups: Array<() => Promise<void>> = []
after(async () => { for (const c of cleanups) await c() })

test('keep-alive: sequential GETs share one connection; Connection: close and extra bytes retire it', async () => {
  const origin = await scripted((p, c) => {
    if (p === '/close') c.socket.write(ok('bye', 'Connection: close\r\n'), () => c.socket.end())
    else if (p === '/extra') c.socket.write(Buffer.concat([ok('x'), Buffer.from('garbage')]))
    else c.socket.write(ok(`body of ${p}`))
  })
  const src = new HttpSource()
  cleanups.push(() => src.close(), origin.close)
  for (let i = 0; i < 5; i++) assert.equal((await getAll(src, `${origin.url}/f${i}`)).toString(), `body of /f${i}`)
  assert.equal(origin.connections(), 1)
  assert.equal((await getAll(src, `${origin.url}/close`)).toString(), 'bye')
  assert.equal((await getAll(src, `${origin.url}/a`)).toString(), 'body of /a')
  assert.equal(origin.connections(), 2)
  assert.equal((await getAll(src, `${origin.url}/extra`)).toString(), 'x')
  assert.equal((await getAll(src, `${origin.url}/b`)).toString(), 'body of /b')
  assert.equal(origin.connections(), 3)
})

test('an idle connection the origin closed is replaced once, without an error', async () => {
  const origin = await scripted((p, c, nth) => {
    // The first connection dies as the second request arrives on it (the race a keep-alive timeout makes).
    if (c.index === 0 && nth === 1) { c.socket.destroy(); return }
    c.socket.write(ok(p))
  })
  const src = new HttpSource()
  cleanups.push(() => src.close(), origin.close)
  assert.equal((await getAll(src, `${origin.url}/one`)).toString(), '/one')
  assert.equal((await getAll(src, `${origin.url}/two`)).toString(), '/two')
  assert.equal(origin.connections(), 2)
})

test('hostile answers fail that request with a stable code and close that connection; the next request works', async () => {
  const answers: Record<string, Buffer> = {
    '/garbage': Buffer.from('\x00\x01\x02 not http at all\r\n\r\n'),
    '/ctl': Buffer.from('HTTP/1.1 200 OK\r\nX-A: \x07\r\nContent-Length: 1\r\n\r\nx'),
    '/length': Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\nx'),
    '/smuggle': Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'),
    '/chunk': Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n'),
    '/head': Buffer.from(`HTTP/1.1 200 OK\r\n${'X-Pad: y\r\n'.repeat(10000)}\r\n`),
  }
  const expected: Record<string, string> = {
    '/garbage': TRANSFER_CODES.BAD_RESPONSE, '/ctl': TRANSFER_CODES.BAD_RESPONSE, '/length': TRANSFER_CODES.BAD_LENGTH,
    '/smuggle': TRANSFER_CODES.BAD_RESPONSE, '/chunk': TRANSFER_CODES.BAD_RESPONSE, '/head': TRANSFER_CODES.BAD_RESPONSE,
  }
  const origin = await scripted((p, c) => { c.socket.write(answers[p] ?? ok('fine')) })
  const src = new HttpSource()
  cleanups.push(() => src.close(), origin.close)
  for (const p of Object.keys(answers)) {
    assert.equal(await failure(getAll(src, `${origin.url}${p}`)), expected[p], p)
    const conns = origin.connections()
    assert.equal((await getAll(src, `${origin.url}/ok`)).toString(), 'fine', `after ${p}`)
    // The failed connection was not reused: the good request opened a new one.
    assert.equal(origin.connections(), conns + 1, p)
  }
})

test('a body cut short is TRANSFER_TRUNCATED; a silent origin times out; an abort ends the request at once', async () => {
  const origin = await scripted((p, c) => {
    if (p === '/short') c.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this', () => c.socket.destroy())
    else if (p === '/stall-body') c.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nsome')
    // '/silent' and '/hang' get no answer.
  })
  const src = new HttpSource({ headersTimeoutMs: 300, bodyTimeoutMs: 300 })
  cleanups.push(() => src.close(), origin.close)
  assert.equal(await failure(getAll(src, `${origin.url}/short`)), TRANSFER_CODES.TRUNCATED)
  const t0 = Date.now()
  assert.equal(await failure(getAll(src, `${origin.url}/silent`)), TRANSFER_CODES.TIMEOUT)
  assert.equal(await failure(getAll(src, `${origin.url}/stall-body`)), TRANSFER_CODES.TIMEOUT)
  assert.ok(Date.now() - t0 < 5000)
  const ac = new AbortController()
  const pending = getAll(src, `${origin.url}/hang`, ac.signal)
  setImmediate(() => ac.abort())
  assert.equal(await failure(pending), TRANSFER_CODES.ABORTED)
})

test('a kept-alive connection keeps its deadlines: idle past them it serves on, then a silent answer times out', async () => {
  const origin = await scripted((p, c) => { if (p === '/a') c.socket.write(ok('hello')) })
  const src = new HttpSource({ headersTimeoutMs: 200, bodyTimeoutMs: 200 })
  cleanups.push(() => src.close(), origin.close)
  assert.equal((await getAll(src, `${origin.url}/a`)).toString(), 'hello')
  // Idle for longer than both deadlines: nothing fires for a request that is not there.
  await new Promise((resolve) => setTimeout(resolve, 350))
  assert.equal((await getAll(src, `${origin.url}/a`)).toString(), 'hello')
  assert.equal(origin.connections(), 1)
  const t0 = Date.now()
  assert.equal(await failure(getAll(src, `${origin.url}/silent`)), TRANSFER_CODES.TIMEOUT)
  const took = Date.now() - t0
  assert.ok(took >= 150 && took < 5000, `timed out after ${took} ms`)
})

test('statuses and redirects mean what they mean for get(), and an error body is dropped keeping the connection', async () => {
  const origin = await scripted((p, c) => {
    const port = (c.socket.address() as net.AddressInfo).port
    if (p === '/gone') c.socket.write('HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found')
    else if (p === '/busy') c.socket.write('HTTP/1.1 503 Busy\r\nRetry-After: 2\r\nContent-Length: 0\r\n\r\n')
    else if (p === '/moved') c.socket.write(`HTTP/1.1 302 Found\r\nLocation: http://127.0.0.1:${port}/target\r\nContent-Length: 0\r\n\r\n`)
    else if (p === '/away') c.socket.write('HTTP/1.1 301 Moved\r\nLocation: http://elsewhere.invalid/x\r\nContent-Length: 0\r\n\r\n')
    else if (p === '/ftp') c.socket.write('HTTP/1.1 301 Moved\r\nLocation: ftp://127.0.0.1/x\r\nContent-Length: 0\r\n\r\n')
    else c.socket.write(ok(`at ${p}`))
  })
  const src = new HttpSource({ allowRedirect: (u) => u.hostname === '127.0.0.1' })
  cleanups.push(() => src.close(), origin.close)
  assert.equal(await failure(getAll(src, `${origin.url}/gone`)), TRANSFER_CODES.NOT_FOUND)
  const busy = await src.getDirect(`${origin.url}/busy`, { open: () => collector() }).catch((e: unknown) => e)
  assert.ok(busy instanceof TransferError && busy.code === TRANSFER_CODES.HTTP_THROTTLED && busy.retryable && busy.retryAfterMs === 2000, String(busy))
  assert.equal((await getAll(src, `${origin.url}/moved`)).toString(), 'at /target')
  assert.equal(await failure(getAll(src, `${origin.url}/away`)), TRANSFER_CODES.FORBIDDEN_HOST)
  assert.equal(await failure(getAll(src, `${origin.url}/ftp`)), TRANSFER_CODES.FORBIDDEN_HOST)
  assert.equal(origin.connections(), 1)
})

test('without a consumer the body streams, and a slow reader pauses the socket instead of buffering the body', async () => {
  const big = Buffer.alloc(8 * 1024 * 1024)
  for (let i = 0; i < big.length; i += 4) big.writeUInt32LE(i, i)
  let written = 0
  const origin = await scripted((_p, c) => {
    c.socket.write(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`)
    const pump = (): void => {
      while (written < big.length) {
        const n = Math.min(65536, big.length - written)
        const more = c.socket.write(big.subarray(written, written + n))
        written += n
        if (!more) { c.socket.once('drain', pump); return }
      }
    }
    pump()
  })
  const src = new HttpSource()
  cleanups.push(() => src.close(), origin.close)
  const r = await src.getDirect(`${origin.url}/big`, { open: () => undefined })
  assert.equal(typeof r, 'object')
  const obj = r as SourceObject & { body: Readable }
  assert.equal(obj.size, big.length)
  // Nothing read for a while: the origin's writes stop well short of the body (socket buffers, not the heap).
  await new Promise((resolve) => setTimeout(resolve, 300))
  assert.ok(written < big.length, `origin wrote ${written} of ${big.length} with no reader`)
  const hash = createHash('sha256')
  for await (const chunk of obj.body) hash.update(chunk as Buffer)
  assert.equal(hash.digest('hex'), createHash('sha256').update(big).digest('hex'))
})

test('https: the lean client verifies the origin against the given CA and copies over TLS', async () => {
  const dir = await makeTempDir('colony-http1-tls-')
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  const sh = (cmd: string): void => { execFileSync('sh', ['-c', cmd], { cwd: dir, stdio: 'ignore' }) }
  sh('openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.crt -days 1 -subj /CN=colony-test-ca')
  sh('openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1')
  sh('printf "subjectAltName=IP:127.0.0.1\\n" > san.ext && openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 1 -extfile san.ext')
  const server = https.createServer({ key: readFileSync(path.join(dir, 'server.key')), cert: readFileSync(path.join(dir, 'server.crt')) }, (req, res) => {
    res.writeHead(200, { 'content-length': 5 }).end('hello')
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  cleanups.push(() => new Promise((r) => { server.closeAllConnections(); server.close(() => r()) }))
  const url = new URL(`https://127.0.0.1:${(server.address() as net.AddressInfo).port}/x`)
  const base = { connections: 4, keepAliveMs: 1000, userAgent: 't', connectTimeoutMs: 2000, headersTimeoutMs: 2000, bodyTimeoutMs: 2000, maxHeadBytes: 8192, maxHeaders: 50 }
  const trusted = new Http1Client({ ...base, ca: readFileSync(path.join(dir, 'ca.crt')) })
  const untrusted = new Http1Client(base)
  cleanups.push(async () => { trusted.close(); untrusted.close() })
  const parts: Buffer[] = []
  await trusted.request({ url, method: 'GET', label: 'GET x' }, { onHead: (h) => assert.equal(h.status, 200), onBody: (b, s, e) => { parts.push(Buffer.from(b.subarray(s, e))) } })
  assert.equal(Buffer.concat(parts).toString(), 'hello')
  assert.equal(await failure(untrusted.request({ url, method: 'GET', label: 'GET x' }, { onHead: () => {}, onBody: () => {} })), TRANSFER_CODES.INTERNAL)
})
