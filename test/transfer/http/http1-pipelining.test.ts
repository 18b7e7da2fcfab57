// HTTP/1.1 pipelining in the copy path's client (--pipelining N) against scripted TCP origins and nginx: requests
// taken together share a connection and one write, answers are matched in order, and a connection that closes or
// fails with requests queued on it loses none of them (they are sent again, alone on a connection after two tries).
import assert from 'node:assert/strict'
import { mkdir, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, test } from 'node:test'
import { HttpSource } from '../../../src/transfer/adapters/http-source.ts'
import type { ChunkConsumer } from '../../../src/transfer/core/ports.ts'
import { TRANSFER_CODES, TransferError } from '../../../src/transfer/errors.ts'
import { scripted } from './scripted-origin.ts'
import { makeTempDir, startNginx } from '../../../support/services.ts'

const ok = (body: string, extra = ''): string => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`

function collector(): ChunkConsumer & { text: () => string } {
  const parts: Buffer[] = []
  return { write: (c) => { parts.push(Buffer.from(c)) }, text: () => Buffer.concat(parts).toString() }
}

async function get(src: HttpSource, url: string, signal?: AbortSignal): Promise<string> {
  const c = collector()
  await src.getDirect(url, { open: () => c, ...(signal ? { signal } : {}) })
  return c.text()
}

/** Starts `n` GETs in one turn (as a copy engine does when it fills its slots) and waits for all of them. */
function many(src: HttpSource, base: string, n: number): Promise<PromiseSettledResult<string>[]> {
  return Promise.allSettled(Array.from({ length: n }, (_, i) => get(src, `${base}/f${i}`)))
}

const cleanups: Array<() => Promise<void>> = []
after(async () => { for (const c of cleanups.reverse()) await c() })

test('requests taken in one turn share a connection and one write, and each gets its own answer', async () => {
  // Answers are written one by one, so a read of the client may hold several, or end inside one.
  const origin = await scripted((p, c) => { c.socket.write(ok(`body of ${p}`)) })
  const src = new HttpSource({ pipelining: 8, connections: 64 })
  cleanups.push(() => src.close(), origin.close)
  // Pipelining starts once the origin has answered quickly.
  assert.equal(await get(src, `${origin.url}/first`), 'body of /first')
  const results = await many(src, origin.url, 40)
  results.forEach((r, i) => assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }))
  assert.ok(origin.connections() <= 5, `40 requests over ${origin.connections()} connections`)
  assert.ok(origin.mostPerRead() > 1, 'the requests of one connection arrived in one read')

  // Without pipelining the same 40 requests take 40 connections, one request each.
  const plain = await scripted((p, c) => { c.socket.write(ok(`body of ${p}`)) })
  const one = new HttpSource({ pipelining: 1, connections: 64 })
  cleanups.push(() => one.close(), plain.close)
  await many(one, plain.url, 40)
  assert.equal(plain.connections(), 40)
  assert.equal(plain.mostPerRead(), 1)
})

test('an origin that closes after every third answer loses no request: the queued ones go out again', async () => {
  const origin = await scripted((p, c) => {
    c.answered++
    if (c.answered === 3) c.socket.end(ok(`body of ${p}`, 'Connection: close\r\n'))
    else if (c.answered < 3) c.socket.write(ok(`body of ${p}`))
  })
  const src = new HttpSource({ pipelining: 8, connections: 4 })
  cleanups.push(() => src.close(), origin.close)
  const results = await many(src, origin.url, 30)
  results.forEach((r, i) => assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }))
  assert.ok(origin.connections() >= 10, `30 answers at 3 per connection took ${origin.connections()} connections`)
})

test('a connection cut after its first answer, or one that never answers the queued requests, loses none of them', async () => {
  // The origin answers only the first request of every connection and then drops it without a word.
  const cut = await scripted((p, c) => { if (c.answered++ === 0) c.socket.write(ok(`body of ${p}`), () => c.socket.destroy()) })
  const src = new HttpSource({ pipelining: 4, connections: 2 })
  cleanups.push(() => src.close(), cut.close)
  const results = await many(src, cut.url, 12)
  results.forEach((r, i) => assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }))

  // This one answers the first request and then stays silent: the queued ones time out, are sent again, and after
  // two tries go out alone on a connection, where they are answered.
  const silent = await scripted((p, c) => { if (c.answered++ === 0) c.socket.write(ok(`body of ${p}`)) })
  const quick = new HttpSource({ pipelining: 4, connections: 8, headersTimeoutMs: 150 })
  cleanups.push(() => quick.close(), silent.close)
  const answered = await many(quick, silent.url, 8)
  answered.forEach((r, i) => assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }))
})

test('a malformed answer fails its own request only; an abort of a queued request keeps the connection', async () => {
  const origin = await scripted((p, c) => {
    if (p === '/f2') c.socket.write('HTTP/1.1 200 OK\r\nContent-Length: 3\r\nBad Header\r\n\r\nabc')
    else if (p === '/slow') return new Promise<void>((r) => setTimeout(() => { c.socket.write(ok('slow')); r() }, 100))
    else c.socket.write(ok(`body of ${p}`))
  })
  const src = new HttpSource({ pipelining: 8, connections: 1 })
  cleanups.push(() => src.close(), origin.close)
  const results = await many(src, origin.url, 6)
  results.forEach((r, i) => {
    if (i !== 2) { assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }); return }
    assert.equal(r.status, 'rejected')
    assert.ok(r.reason instanceof TransferError && r.reason.code === TRANSFER_CODES.BAD_RESPONSE, String(r.reason))
  })

  // /slow holds the connection; the request queued behind it is aborted at once and its answer dropped.
  const before = origin.connections()
  const ac = new AbortController()
  const slow = get(src, `${origin.url}/slow`)
  const queued = get(src, `${origin.url}/queued`, ac.signal)
  const behind = get(src, `${origin.url}/behind`)
  setImmediate(() => ac.abort())
  await assert.rejects(queued, (err: unknown) => err instanceof TransferError && err.code === TRANSFER_CODES.ABORTED)
  assert.equal(await slow, 'slow')
  assert.equal(await behind, 'body of /behind')
  assert.equal(await get(src, `${origin.url}/next`), 'body of /next')
  // One connection is allowed: had the abort closed it, /behind and /next would have needed new ones.
  assert.equal(origin.connections(), before, 'the kept-alive connection carried all four')
})

test('an origin that takes its time over each request gets no more pipelined requests once an answer was slow', async () => {
  // Answers begin 40 ms after the request is next in line (think time), in order: queued requests wait in turn.
  const origin = await scripted((p, c) => new Promise<void>((r) => setTimeout(() => { c.socket.write(ok(`body of ${p}`)); r() }, 40)))
  const src = new HttpSource({ pipelining: 8, connections: 64, pipeliningMaxWaitMs: 20 })
  cleanups.push(() => src.close(), origin.close)
  const first = await many(src, origin.url, 4)
  first.forEach((r, i) => assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }))
  assert.equal(origin.connections(), 4, 'nothing is pipelined before the origin has answered once')
  const second = await many(src, origin.url, 12)
  second.forEach((r, i) => assert.deepEqual(r, { status: 'fulfilled', value: `body of /f${i}` }))
  // One request per connection: the first wave's four connections and eight new ones.
  assert.equal(origin.connections(), 12)
})

test('nginx closing every fifth request: a pipelined run of 300 files gets every byte right', async () => {
  const root = await makeTempDir('colony-pipe-')
  await mkdir(path.join(root, 'v'))
  const bodies = Array.from({ length: 300 }, (_, i) => `segment ${i} `.repeat(1 + (i * 7) % 50))
  for (const [i, b] of bodies.entries()) await writeFile(path.join(root, 'v', `s${i}.ts`), b)
  const nginx = await startNginx({ root, server: 'keepalive_requests 5;' })
  const src = new HttpSource({ pipelining: 8, connections: 16 })
  cleanups.push(async () => { await src.close(); await nginx.stop() })
  const got = await Promise.all(bodies.map((_, i) => get(src, `${nginx.url}/v/s${i}.ts`)))
  got.forEach((g, i) => assert.equal(g, bodies[i], `s${i}.ts`))
})
