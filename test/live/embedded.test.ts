// One in-process node (LocalTransport): the HTTP API, protocol details, limits and backpressure.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { signJwtHs256, startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { allOpen, comments, publish, rawSubscriber, waitFor, watchTopic } from './live-helpers.ts'

const TOKEN = 'embedded-secret'
const JWT_KEY = 'jwt-key-for-tests'
let server: LiveServer

before(async () => {
  server = await startLiveServer({ token: TOKEN, jwtKey: JWT_KEY, hub: { historySize: 50, coalesce: new Map([['like', 100]]), heartbeatMs: 600, retryMs: 1234 }, maxBodyBytes: 4096, corsOrigins: ['https://app.example'] })
})
after(async () => { await server.close({ graceMs: 200 }) })

test('every viewer gets comments in order with ids, likes coalesced into {"likes":N}', async () => {
  const viewers = [watchTopic(server.url, 'room-a'), watchTopic(server.url, 'room-a'), watchTopic(server.url, 'room-a')]
  const other = watchTopic(server.url, 'room-b')
  try {
    await allOpen([...viewers, other])
    const likes = Array.from({ length: 37 }, () => ({ type: 'like', data: {} }))
    const r = await publish(server.url, 'room-a', TOKEN, { events: [{ type: 'comment', data: { n: 0 } }, ...likes, { type: 'comment', data: { n: 1 } }] })
    assert.equal(r.status, 202)
    assert.equal(r.json.accepted, 39)
    for (const v of viewers) {
      await waitFor(() => v.likes() === 37 && v.of('comment').length === 2, { message: 'viewer got comments and likes' })
      assert.deepEqual(v.of<{ n: number }>('comment').map((c) => c.n), [0, 1])
      assert.ok(v.of('like').length < 5, `37 likes arrive in a few frames, got ${v.of('like').length}`)
      const ids = v.events.map((e) => Number(e.id))
      assert.deepEqual(ids, [...ids].sort((a, b) => a - b), 'ids never go backwards')
      assert.equal(v.events.at(-1)?.id, '39')
    }
    assert.equal(other.events.length, 0, 'a viewer of another topic receives nothing')
    await waitFor(async () => ((await (await fetch(`${server.url}/v1/topics/room-a`)).json()) as { viewers: number }).viewers === 3, { message: 'viewer count 3' })
  } finally {
    await Promise.all([...viewers, other].map((v) => v.stop()))
  }
})

test('response head, retry:, heartbeat comments and CORS on the raw stream', async () => {
  const raw = await rawSubscriber(server.port, 'raw-1', 'Origin: https://app.example\r\n')
  raw.resume()
  try {
    await waitFor(() => raw.received().includes('\r\n\r\nretry: 1234\n\n'), { message: 'head + retry' })
    const head = raw.received().split('\r\n\r\n')[0] ?? ''
    assert.match(head, /^HTTP\/1\.1 200 OK\r\n/)
    assert.match(head, /content-type: text\/event-stream/i)
    assert.match(head, /cache-control: no-cache/i)
    assert.match(head, /access-control-allow-origin: https:\/\/app\.example/i)
    assert.doesNotMatch(head, /transfer-encoding/i, 'no chunked framing on the stream')
    await waitFor(() => raw.received().includes('\n\n:\n\n'), { timeoutMs: 5000, message: 'heartbeat comment' })
  } finally { raw.socket.destroy() }
  const other = await rawSubscriber(server.port, 'raw-2', 'Origin: https://evil.example\r\n')
  other.resume()
  try {
    await waitFor(() => other.received().includes('\r\n\r\n'))
    assert.doesNotMatch(other.received(), /access-control-allow-origin/i, 'an origin not listed gets no CORS grant')
  } finally { other.socket.destroy() }
  const pre = await fetch(`${server.url}/v1/topics/x/events`, { method: 'OPTIONS', headers: { origin: 'https://app.example', 'access-control-request-method': 'POST' } })
  assert.equal(pre.status, 204)
  assert.match(pre.headers.get('access-control-allow-headers') ?? '', /authorization/)
})

test('Last-Event-ID (header or ?lastEventId=) replays what was missed; too old gets an explicit reset', async () => {
  await publish(server.url, 'replay', TOKEN, comments(10))
  const fromHeader = watchTopic(server.url, 'replay', { lastEventId: '7' })
  const viaQuery = await fetch(`${server.url}/v1/topics/replay/events?lastEventId=8`)
  try {
    await waitFor(() => fromHeader.of('comment').length === 3)
    assert.deepEqual(fromHeader.events.map((e) => e.id), ['8', '9', '10'])
    const reader = viaQuery.body?.getReader()
    let text = ''
    while (!text.includes('id: 10\n')) text += new TextDecoder().decode((await reader?.read())?.value)
    assert.ok(text.includes('id: 9\n') && !text.includes('id: 8\n'))
    await reader?.cancel()
    // History holds 50: after 60 more events, id 3 is out of reach.
    await publish(server.url, 'replay', TOKEN, comments(60, 10))
    const stale = watchTopic(server.url, 'replay', { lastEventId: '3' })
    await waitFor(() => stale.events.length > 0)
    assert.equal(stale.events[0]?.event, 'reset')
    assert.deepEqual(JSON.parse(stale.events[0]?.data ?? '{}'), { reason: 'history-gap', latestId: 70 })
    assert.equal(stale.events[0]?.id, '70', 'the reset carries the id to continue from')
    await stale.stop()
  } finally { await fromHeader.stop() }
})

test('publishing needs a valid token: missing, wrong, tampered or expired JWT, topic outside claim', async () => {
  const bodies = { type: 'comment', data: 'x' }
  const noAuth = await fetch(`${server.url}/v1/topics/sec/events`, { method: 'POST', body: JSON.stringify(bodies) })
  assert.equal(noAuth.status, 401)
  assert.equal(((await noAuth.json()) as { error: { code: string } }).error.code, 'LIVE_UNAUTHORIZED')
  assert.equal((await publish(server.url, 'sec', 'wrong', bodies)).status, 401)
  const exp = Math.floor(Date.now() / 1000) + 60
  assert.equal((await publish(server.url, 'sec', signJwtHs256({ exp }, JWT_KEY), bodies)).status, 202, 'a valid JWT publishes')
  assert.equal((await publish(server.url, 'sec', signJwtHs256({ exp }, 'not-the-key'), bodies)).status, 401)
  assert.equal((await publish(server.url, 'sec', signJwtHs256({ exp: 1 }, JWT_KEY), bodies)).status, 401)
  const scoped = await publish(server.url, 'sec', signJwtHs256({ exp, topics: ['room-*'] }, JWT_KEY), bodies)
  assert.equal(scoped.status, 403)
  assert.equal((scoped.json.error as { code: string }).code, 'LIVE_FORBIDDEN_TOPIC')
  assert.equal((await publish(server.url, 'room-9', signJwtHs256({ exp, topics: ['room-*'] }, JWT_KEY), bodies)).status, 202)
  assert.equal((await publish(server.url, 'sec', TOKEN, 'x'.repeat(5000))).status, 413, 'body over --max-body')
  assert.equal((await publish(server.url, 'sec', TOKEN, { type: 'reset', data: 1 })).status, 400, 'server event names are reserved')
  assert.equal((await fetch(`${server.url}/v1/topics/bad%0Atopic/events`)).status, 400)
  assert.equal((await fetch(`${server.url}/nope`)).status, 404)
  const metrics = await (await fetch(`${server.url}/metrics`)).text()
  assert.match(metrics, /colony_live_refused_total\{code="LIVE_UNAUTHORIZED"\} [1-9]/)
  assert.match(metrics, /colony_live_deliveries_total \d+/)
  assert.equal(((await (await fetch(`${server.url}/healthz`)).json()) as { ok: boolean }).ok, true)
})

test('the page is served at /', async () => {
  const res = await fetch(`${server.url}/`)
  assert.equal(res.status, 200)
  const html = await res.text()
  assert.match(html, /new EventSource/)
  assert.match(html, /id="like"/)
})
