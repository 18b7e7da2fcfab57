// Bad input against a real node, over raw sockets (fetch would normalise or refuse to send most of it): every
// refusal is a 4xx with a JSON error, never a 500, a reset or silence.
import assert from 'node:assert/strict'
import net from 'node:net'
import { after, before, test } from 'node:test'
import { startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { rawSubscriber, waitFor } from './live-helpers.ts'

const TOKEN = 'bad-input-secret'
let server: LiveServer

before(async () => { server = await startLiveServer({ token: TOKEN }) })
after(async () => { await server.close({ graceMs: 100 }) })

type RawAnswer = { status: number; head: string; json: { error?: { code?: string } } | undefined }

/** Sends `request` as is and reads the answer until the server closes the connection. */
async function rawRequest(request: string | Buffer, options: { pieces?: number } = {}): Promise<RawAnswer> {
  const socket = net.connect(server.port, '127.0.0.1')
  const chunks: Buffer[] = []
  socket.on('data', (b: Buffer) => chunks.push(b))
  const closed = new Promise<void>((resolve) => { socket.on('close', () => resolve()); socket.on('error', () => undefined) })
  const bytes = Buffer.from(request)
  const pieces = options.pieces ?? 1
  const step = Math.ceil(bytes.length / pieces)
  for (let i = 0; i < bytes.length && !socket.destroyed; i += step) {
    socket.write(bytes.subarray(i, i + step))
    if (pieces > 1) await new Promise((r) => setTimeout(r, 5))
  }
  const timer = setTimeout(() => socket.destroy(), 5_000)
  await closed
  clearTimeout(timer)
  const text = Buffer.concat(chunks).toString('utf8')
  const [head = '', body = ''] = text.split('\r\n\r\n', 2)
  const status = Number(/^HTTP\/1\.1 (\d{3}) /.exec(head)?.[1] ?? 0)
  let json: RawAnswer['json']
  try { json = JSON.parse(body) as RawAnswer['json'] } catch { json = undefined }
  return { status, head, json }
}

const post = (path: string, body: string, extra = ''): string =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
const get = (path: string, extra = ''): string => `GET ${path} HTTP/1.1\r\nhost: x\r\n${extra}connection: close\r\n\r\n`
const chunked = (path: string, body: string): string =>
  `POST ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n${Buffer.byteLength(body).toString(16)}\r\n${body}\r\n0\r\n\r\n`

function assertRefused(answer: RawAnswer, status: number, code: string, label: string): void {
  assert.equal(answer.status, status, `${label}: status (head: ${answer.head.split('\r\n')[0] ?? ''})`)
  assert.match(answer.head, /content-type: application\/json/i, `${label}: a JSON body`)
  assert.equal(answer.json?.error?.code, code, `${label}: error code`)
}

test('topics "." and ".." are refused with 400 LIVE_BAD_TOPIC, however they are spelled', async () => {
  const event = JSON.stringify({ type: 'comment', data: 1 })
  for (const segment of ['.', '..', '%2E', '%2e%2E']) {
    assertRefused(await rawRequest(post(`/v1/topics/${segment}/events`, event)), 400, 'LIVE_BAD_TOPIC', `publish to ${segment}`)
    assertRefused(await rawRequest(get(`/v1/topics/${segment}/events`)), 400, 'LIVE_BAD_TOPIC', `subscribe to ${segment}`)
  }
  // Names that merely contain dots are fine.
  assert.equal((await rawRequest(post('/v1/topics/...a./events', event))).status, 202)
})

test('malformed requests answer a 4xx JSON error, never 500', async () => {
  const deep = `{"type":"comment","data":${'['.repeat(100_000)}${']'.repeat(100_000)}}`
  const cases: [string, string, number, string][] = [
    ['bad JSON', post('/v1/topics/a/events', '{"type":'), 400, 'LIVE_BAD_EVENT'],
    ['wrong types', post('/v1/topics/a/events', '{"type":5,"data":{}}'), 400, 'LIVE_BAD_EVENT'],
    ['events not a list', post('/v1/topics/a/events', '{"events":"x"}'), 400, 'LIVE_BAD_EVENT'],
    ['null body', post('/v1/topics/a/events', 'null'), 400, 'LIVE_BAD_EVENT'],
    ['data nested too deeply', post('/v1/topics/a/events', deep), 400, 'LIVE_BAD_EVENT'],
    ['data nested too deeply, chunked', chunked('/v1/topics/a/events', deep), 400, 'LIVE_BAD_EVENT'],
    ['bad percent-encoding, publish', post('/v1/topics/%E0%A4%A/events', '{"type":"c","data":1}'), 400, 'LIVE_BAD_TOPIC'],
    ['bad percent-encoding, subscribe', get('/v1/topics/%E0%A4%A/events'), 400, 'LIVE_BAD_TOPIC'],
    ['bad percent-encoding, viewers', get('/v1/topics/%E0%A4%A'), 400, 'LIVE_BAD_TOPIC'],
    ['target that is not a path', get('//'), 400, 'LIVE_BAD_REQUEST'],
    ['target with a bad authority', get('//x:99999/y'), 400, 'LIVE_BAD_REQUEST'],
    ['unknown method', 'FROB /v1/topics/a/events HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'LIVE_BAD_REQUEST'],
    ['not HTTP at all', 'hello there\r\n\r\n', 400, 'LIVE_BAD_REQUEST'],
    ['bad content-length', 'POST /v1/topics/a/events HTTP/1.1\r\nhost: x\r\ncontent-length: 12x\r\n\r\n', 400, 'LIVE_BAD_REQUEST'],
    ['PUT on the events route', 'PUT /v1/topics/a/events HTTP/1.1\r\nhost: x\r\ncontent-length: 0\r\nconnection: close\r\n\r\n', 405, 'LIVE_METHOD_NOT_ALLOWED'],
    ['DELETE on a topic', 'DELETE /v1/topics/a HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n', 405, 'LIVE_METHOD_NOT_ALLOWED'],
  ]
  for (const [label, request, status, code] of cases) assertRefused(await rawRequest(request), status, code, label)
  assert.match((await rawRequest(get('/v1/topics/a').replace('GET', 'PATCH'))).head, /\r\nallow: GET, OPTIONS/i, '405 lists the methods the route takes')
  // The node is still fine.
  assert.equal((await rawRequest(post('/v1/topics/a/events', '{"type":"comment","data":1}'))).status, 202)
})

test('request heads over the limit answer 431 with a JSON error on every path', async () => {
  const big = `x-big: ${'a'.repeat(20_000)}\r\n`
  const event = '{"type":"comment","data":1}'
  assertRefused(await rawRequest(get('/v1/topics/a/events', big)), 431, 'LIVE_HEADERS_TOO_LARGE', 'subscribe, one write')
  assertRefused(await rawRequest(get('/v1/topics/a/events', big), { pieces: 8 }), 431, 'LIVE_HEADERS_TOO_LARGE', 'subscribe, in pieces')
  assertRefused(await rawRequest(post('/v1/topics/a/events', event, big)), 431, 'LIVE_HEADERS_TOO_LARGE', 'publish, one write')
  assertRefused(await rawRequest(post('/v1/topics/a/events', event, big), { pieces: 8 }), 431, 'LIVE_HEADERS_TOO_LARGE', 'publish, in pieces')
  assertRefused(await rawRequest(get('/healthz', big)), 431, 'LIVE_HEADERS_TOO_LARGE', 'another route')
  // A head under the limit is served as before.
  assert.equal((await rawRequest(post('/v1/topics/a/events', event, `x-fine: ${'a'.repeat(6_000)}\r\n`))).status, 202)
})

test('a Last-Event-ID that is huge, negative or not a number resumes with a reset, not an error', async () => {
  for (const id of ['99999999999999999999999', '-5', 'abc', '1e3']) {
    const sub = await rawSubscriber(server.port, 'resume-odd', `Last-Event-ID: ${id}\r\n`)
    sub.resume()
    try {
      await waitFor(() => sub.received().includes('event: reset'), { message: `reset for Last-Event-ID ${id}` })
      assert.match(sub.received(), /^HTTP\/1\.1 200 OK\r\n/)
    } finally { sub.socket.destroy() }
  }
})
