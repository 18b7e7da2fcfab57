// Absolute deadlines and per-address caps on the live node's listening socket, with real sockets: a client
// that trickles its request head or its publish body is cut at the deadline whatever it sends, an address
// over its cap is answered 429 with Retry-After, and ordinary clients are not affected.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { allOpen, publish, waitFor, watchTopic } from './live-helpers.ts'

const TOKEN = 'deadline-secret'
const HEAD_MS = 600
const BODY_MS = 800
let server: LiveServer

before(async () => {
  server = await startLiveServer({ token: TOKEN, headersTimeoutMs: HEAD_MS, bodyTimeoutMs: BODY_MS, keepAliveMs: 400, maxPendingPerIp: 6 })
})
after(async () => { await server.close({ graceMs: 100 }) })

type Trickler = { closedAfter: Promise<number>; received: () => string; sent: () => number; stop: () => void }

/**
 * Sends `first` at once, then one byte of `drip` every `everyMs` (cycling), until the server closes the
 * connection. `closedAfter` resolves to the milliseconds from connect to close.
 */
async function trickle(port: number, first: string, drip: string, everyMs = 100): Promise<Trickler> {
  const socket = net.connect(port, '127.0.0.1')
  await new Promise<void>((resolve, reject) => { socket.once('connect', resolve); socket.once('error', reject) })
  const t0 = Date.now()
  let text = ''
  let sent = 0
  socket.on('data', (b: Buffer) => { text += b.toString('latin1') })
  socket.on('error', () => undefined)
  socket.write(first)
  const timer = setInterval(() => { if (!socket.destroyed) { socket.write(drip[sent % drip.length] ?? 'x'); sent++ } }, everyMs)
  const closedAfter = new Promise<number>((resolve) => socket.once('close', () => { clearInterval(timer); resolve(Date.now() - t0) }))
  return { closedAfter, received: () => text, sent: () => sent, stop: () => { clearInterval(timer); socket.destroy() } }
}

/** Resolves with the close time, or rejects when the server kept the connection past `limitMs`. */
async function cutWithin(t: Trickler, limitMs: number, what: string): Promise<number> {
  const timeout = new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what}: still open after ${limitMs} ms (${t.sent()} bytes trickled)`)), limitMs).unref())
  try { return await Promise.race([t.closedAfter, timeout]) } finally { t.stop() }
}

test('a client trickling an SSE request head is cut at the headers deadline, however often it sends', async () => {
  const t = await trickle(server.port, 'GET /v1/topics/slow/events HTTP/1.1\r\nhost: x\r\n', 'x-a: b\r\n')
  const ms = await cutWithin(t, HEAD_MS + 2_500, 'trickled SSE head')
  assert.ok(ms >= HEAD_MS - 50, `cut after ${ms} ms, not before the deadline`)
  assert.ok(t.sent() >= 3, 'the client kept sending until it was cut')
})

test('a request trickled to node:http (any other route) is cut at the same deadline', async () => {
  const t = await trickle(server.port, 'GET /healthz HTTP/1.1\r\nhost: x\r\n', 'x-b: c\r\n')
  const ms = await cutWithin(t, HEAD_MS + 2_500, 'trickled http head')
  assert.ok(ms >= HEAD_MS - 50, `cut after ${ms} ms`)
})

test('a publish whose body trickles is cut at the body deadline (bare publish path and chunked http path)', async () => {
  const head = `POST /v1/topics/slow-body/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 400\r\n\r\n{"type":"comment","data":"`
  const bare = await trickle(server.port, head, 'x')
  await cutWithin(bare, BODY_MS + 2_500, 'trickled publish body')
  assert.equal(bare.received(), '', 'nothing was published or answered')
  const chunked = `POST /v1/topics/slow-body/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n`
  const viaHttp = await trickle(server.port, chunked, '1\r\nx\r\n')
  await cutWithin(viaHttp, BODY_MS + 2_500, 'trickled chunked body')
})

test('on a kept-alive publish connection the next request head has its own deadline', async () => {
  const body = '{"type":"comment","data":1}'
  const first = `POST /v1/topics/keep/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: ${body.length}\r\n\r\n${body}POST /v1/topics/keep/events HTTP/1.1\r\n`
  const t = await trickle(server.port, first, 'x-c: d\r\n')
  await cutWithin(t, HEAD_MS + 2_500, 'trickled second head')
  assert.match(t.received(), /^HTTP\/1\.1 202 /, 'the complete first publish was answered')
})

test('an SSE stream outlives the headers deadline; normal publishes and requests are unaffected', async () => {
  const viewer = watchTopic(server.url, 'steady')
  try {
    await allOpen([viewer])
    // Connections opened after the stream and cut by their deadlines, one after the other: by then the stream has
    // lived through a whole head deadline and a whole body deadline.
    await cutWithin(await trickle(server.port, 'GET /v1/topics/steady/events HTTP/1.1\r\nhost: x\r\n', 'x-a: b\r\n'), HEAD_MS + 2_500, 'trickled head')
    const slowBody = `POST /v1/topics/steady/events HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-length: 400\r\n\r\n{"type":"comment","data":"`
    await cutWithin(await trickle(server.port, slowBody, 'x'), BODY_MS + 2_500, 'trickled body')
    assert.equal((await publish(server.url, 'steady', TOKEN, { type: 'comment', data: 'still here' })).status, 202)
    await waitFor(() => viewer.of('comment').length === 1, { message: 'the long-lived stream got the event' })
    assert.equal(viewer.opens.length, 1, 'the stream was never cut')
    assert.equal((await fetch(`${server.url}/healthz`)).status, 200)
    const metrics = await (await fetch(`${server.url}/metrics`)).text()
    assert.match(metrics, /colony_live_deadline_closes_total\{phase="head"\} [1-9]/)
    assert.match(metrics, /colony_live_deadline_closes_total\{phase="body"\} [1-9]/)
  } finally { await viewer.stop() }
})

test('connections per address that have not become streams are capped: the extra one gets 429 + Retry-After', async () => {
  const held: net.Socket[] = []
  try {
    for (let i = 0; i < 6; i++) {
      const s = net.connect(server.port, '127.0.0.1')
      s.on('error', () => undefined)
      await new Promise<void>((resolve) => s.once('connect', resolve))
      held.push(s)
    }
    await waitFor(async () => {
      const res = await fetch(`${server.url}/healthz`)
      if (res.status !== 429) { await res.body?.cancel(); return false }
      assert.ok(Number(res.headers.get('retry-after')) >= 1)
      assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'LIVE_TOO_MANY_CONNECTIONS')
      return true
    }, { timeoutMs: 5_000, message: 'the seventh connection refused' })
  } finally { for (const s of held) s.destroy() }
  await waitFor(async () => (await fetch(`${server.url}/healthz`)).status === 200, { message: 'once they close the address is served again' })
})

test('limits are on by default: SSE connections per address and the publish rate', async () => {
  const plain = await startLiveServer({ token: TOKEN })
  try {
    const batch = { events: Array.from({ length: 600 }, (_, n) => ({ type: 'comment', data: n })) }
    assert.equal((await publish(plain.url, 'rate', TOKEN, batch)).status, 202)
    const second = await publish(plain.url, 'rate', TOKEN, batch)
    assert.equal(second.status, 429, '1,200 events in a moment are over the default 1,000/s per address')
    assert.equal((second.json.error as { code: string }).code, 'LIVE_RATE_LIMITED')
    const health = await (await fetch(`${plain.url}/healthz`)).json() as { limits?: { maxConnectionsPerIp: number; maxPendingPerIp: number } }
    assert.equal(health.limits?.maxConnectionsPerIp, 1000)
    assert.equal(health.limits?.maxPendingPerIp, 256)
  } finally { await plain.close({ graceMs: 100 }) }
})

test('the per-address publish rate spares peer-DC forwards made with the secret, not other publishes', async () => {
  const node = await startLiveServer({ token: TOKEN, publishRate: 2 })
  try {
    const forwarded = { events: Array.from({ length: 5 }, (_, n) => ({ type: 'comment', data: n, origin: `eu:test:${n}` })) }
    assert.equal((await publish(node.url, 'fwd', TOKEN, forwarded, { 'x-colony-dc': 'eu' })).status, 202, 'a peer DC forwards at its viewers\' rate')
    const local = await publish(node.url, 'fwd', TOKEN, { events: [1, 2, 3].map((n) => ({ type: 'comment', data: n })) })
    assert.equal(local.status, 429, '3 events at 2/s from one address')
    assert.equal((local.json.error as { code: string }).code, 'LIVE_RATE_LIMITED')
  } finally { await node.close({ graceMs: 100 }) }
})
