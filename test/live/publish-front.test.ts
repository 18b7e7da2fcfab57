// Publishes read off the bare socket (publish-front.ts): keep-alive, pipelining, hand-off to node:http for
// anything else on the same connection, limits and refusals as complete responses.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { waitFor, watchTopic, allOpen } from './live-helpers.ts'

const TOKEN = 'raw-publish-secret'
let server: LiveServer

before(async () => {
  server = await startLiveServer({ token: TOKEN, maxBodyBytes: 512, publishRate: 1000, hub: { coalesce: new Map() } })
})
after(async () => { await server.close({ graceMs: 100 }) })

type Reply = { status: number; head: string; body: string }

/** A raw client: writes bytes, parses Content-Length responses in order. */
async function rawClient(port: number): Promise<{ send: (text: string) => void; next: () => Promise<Reply>; closed: Promise<void>; destroy: () => void }> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  let buf = ''
  const closed = new Promise<void>((r) => socket.once('close', () => r()))
  socket.on('data', (b: Buffer) => { buf += b.toString('latin1') })
  const parse = (): Reply | undefined => {
    const end = buf.indexOf('\r\n\r\n')
    if (end === -1) return undefined
    const head = buf.slice(0, end)
    const len = Number(/content-length: (\d+)/i.exec(head)?.[1] ?? 0)
    if (buf.length < end + 4 + len) return undefined
    const body = buf.slice(end + 4, end + 4 + len)
    buf = buf.slice(end + 4 + len)
    return { status: Number(head.slice(9, 12)), head, body }
  }
  return {
    send: (text) => socket.write(text),
    async next() {
      let r: Reply | undefined
      await waitFor(() => (r = parse()) !== undefined, { timeoutMs: 5_000, message: 'a response' })
      return r as Reply
    },
    closed,
    destroy: () => socket.destroy(),
  }
}

function post(topic: string, body: string, headers = `authorization: Bearer ${TOKEN}\r\n`, version = '1.1'): string {
  return `POST /v1/topics/${topic}/events HTTP/${version}\r\nhost: x\r\ncontent-type: application/json\r\n${headers}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
}

test('pipelined publishes on one kept-alive connection are answered in order, then http takes the same connection', async () => {
  const viewer = watchTopic(server.url, 'raw-a')
  const c = await rawClient(server.port)
  try {
    await allOpen([viewer])
    // Two publishes and a health check in one write, the second publish split across two writes.
    const second = post('raw-a', '{"type":"comment","data":{"n":2}}')
    c.send(post('raw-a', '{"type":"comment","data":{"n":1}}') + second.slice(0, 20))
    c.send(second.slice(20) + 'GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n')
    const r1 = await c.next()
    const r2 = await c.next()
    const r3 = await c.next()
    assert.equal(r1.status, 202)
    assert.match(r1.head, /connection: keep-alive/i)
    assert.doesNotMatch(r1.head, /^date:/im, 'answered on the bare socket (node:http would add a Date header)')
    assert.deepEqual(JSON.parse(r1.body), { topic: 'raw-a', accepted: 1, ids: [1] })
    assert.deepEqual(JSON.parse(r2.body), { topic: 'raw-a', accepted: 1, ids: [2] })
    assert.equal(r3.status, 200, 'a request that is not a publish is answered by node:http on the same connection')
    assert.equal((JSON.parse(r3.body) as { ok: boolean }).ok, true)
    assert.match(r3.head, /^date:/im)
    await waitFor(() => viewer.of('comment').length === 2, { message: 'viewer got both comments' })
    assert.deepEqual(viewer.of<{ n: number }>('comment').map((e) => e.n), [1, 2])
  } finally {
    c.destroy()
    await viewer.stop()
  }
})

test('refusals are complete responses and keep the connection; a later publish on it succeeds', async () => {
  const c = await rawClient(server.port)
  try {
    c.send(post('raw-b', '{"type":"comment","data":1}', 'authorization: Bearer wrong\r\norigin: https://x.example\r\n'))
    const r1 = await c.next()
    assert.equal(r1.status, 401)
    assert.equal((JSON.parse(r1.body) as { error: { code: string } }).error.code, 'LIVE_UNAUTHORIZED')
    assert.match(r1.head, /access-control-allow-origin: \*/i)
    c.send(post('raw-b', '{"type":"reset","data":1}'))
    assert.equal((JSON.parse((await c.next()).body) as { error: { code: string } }).error.code, 'LIVE_BAD_EVENT')
    c.send(post('bad%2Ftopic', '{"type":"comment","data":1}'))
    assert.equal((await c.next()).status, 400)
    c.send(post('raw-b', '{"type":"comment","data":1}'))
    assert.equal((await c.next()).status, 202)
  } finally { c.destroy() }
})

test('a body over the limit gets 413 and the connection closes; HTTP/1.0 without keep-alive closes after its answer', async () => {
  const big = await rawClient(server.port)
  big.send(post('raw-c', JSON.stringify({ type: 'comment', data: 'x'.repeat(600) })))
  const r = await big.next()
  assert.equal(r.status, 413)
  assert.equal((JSON.parse(r.body) as { error: { code: string } }).error.code, 'COLONY_BODY_TOO_LARGE')
  await big.closed
  const old = await rawClient(server.port)
  old.send(post('raw-c', '{"type":"comment","data":1}', `authorization: Bearer ${TOKEN}\r\n`, '1.0'))
  const r10 = await old.next()
  assert.equal(r10.status, 202)
  assert.match(r10.head, /connection: close/i)
  await old.closed
})

test('two Content-Length headers are not guessed at: node:http refuses the request', async () => {
  const c = await rawClient(server.port)
  try {
    const body = '{"type":"comment","data":1}'
    c.send(`POST /v1/topics/raw-e/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: ${body.length}\r\ncontent-length: 3\r\n\r\n${body}`)
    assert.equal((await c.next()).status, 400)
    await c.closed
  } finally { c.destroy() }
  const next = await rawClient(server.port)
  try {
    next.send(post('raw-e', '{"type":"comment","data":1}'))
    assert.deepEqual(JSON.parse((await next.next()).body), { topic: 'raw-e', accepted: 1, ids: [1] }, 'the refused request published nothing')
  } finally { next.destroy() }
})

test('a chunked publish is answered by node:http (same API, same checks)', async () => {
  const c = await rawClient(server.port)
  try {
    const body = '{"type":"comment","data":{"chunked":true}}'
    c.send(`POST /v1/topics/raw-d/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n${body.length.toString(16)}\r\n${body}\r\n0\r\n\r\n`)
    const r = await c.next()
    assert.equal(r.status, 202)
    assert.match(r.head, /^date:/im, 'node:http answered')
    assert.deepEqual(JSON.parse(r.body), { topic: 'raw-d', accepted: 1, ids: [1] })
  } finally { c.destroy() }
})
