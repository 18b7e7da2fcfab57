// Viewer tokens against a real node: issued over HTTP behind the publish secret, publishing only within their
// topics and types and lifetime, refused when forged (other key, tampered, alg none / HS512, too long-lived),
// and rate-limited per token. The node's clock is injected so expiry needs no waiting.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { SignJWT } from 'jose'
import { deriveViewerKey, signJwtHs256, signViewerToken, startLiveServer, VIEWER_AUDIENCE, type LiveServer } from '../../src/live/index.ts'
import { allOpen, publish, waitFor, watchTopic } from './live-helpers.ts'

const SECRET = 'viewer-test-secret'
const JWT_KEY = 'publisher-jwt-key'
let server: LiveServer
let now = Date.UTC(2030, 0, 1)

before(async () => {
  server = await startLiveServer({ token: SECRET, jwtKey: JWT_KEY, viewerRate: 5, viewerMaxTtlMs: 3_600_000, clock: () => now, hub: { coalesce: new Map() } })
})
after(async () => { await server.close({ graceMs: 100 }) })

async function issue(body: unknown, bearer = SECRET): Promise<{ status: number; json: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/v1/tokens`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: typeof body === 'string' ? body : JSON.stringify(body) })
  return { status: res.status, json: await res.json() as Record<string, unknown> }
}

async function viewerToken(topics: string[], types = ['like', 'comment'], ttl: unknown = '10m'): Promise<string> {
  const r = await issue({ topics, types, ttl })
  assert.equal(r.status, 201, JSON.stringify(r.json))
  return r.json.token as string
}

function code(r: { json: Record<string, unknown> }): string {
  return (r.json.error as { code: string } | undefined)?.code ?? ''
}

test('POST /v1/tokens issues a scoped JWT to the publish secret only; bad requests are 400 with a code', async () => {
  const r = await issue({ topics: ['match-1'], types: 'like,comment', ttl: 600 })
  assert.equal(r.status, 201)
  assert.deepEqual(r.json.topics, ['match-1'])
  assert.deepEqual(r.json.types, ['like', 'comment'])
  assert.equal(r.json.exp, Math.floor(now / 1000) + 600, 'exp from the node\'s clock')
  assert.match(String(r.json.jti), /^[0-9a-f-]{36}$/)
  const [, payload] = String(r.json.token).split('.')
  const claims = JSON.parse(Buffer.from(payload ?? '', 'base64url').toString()) as Record<string, unknown>
  assert.equal(claims.aud, VIEWER_AUDIENCE)
  assert.ok(typeof claims.iat === 'number' && typeof claims.jti === 'string')
  const viewer = r.json.token as string
  for (const bearer of ['wrong', viewer, signJwtHs256({ exp: Math.floor(now / 1000) + 60 }, JWT_KEY)]) {
    const refused = await issue({ topics: ['x'], types: ['like'], ttl: 60 }, bearer)
    assert.equal(refused.status, 401, 'only the publish secret issues viewer tokens')
    assert.equal(code(refused), 'LIVE_UNAUTHORIZED')
  }
  const bad = [
    { topics: ['x'], types: ['like'], ttl: '2h' },
    { topics: ['*'], types: ['like'], ttl: 60 },
    { topics: [], types: ['like'], ttl: 60 },
    { topics: ['bad/topic'], types: ['like'], ttl: 60 },
    { topics: ['x'], types: ['reset'], ttl: 60 },
    { topics: ['x'], types: ['like'] },
    'not json',
  ]
  for (const body of bad) {
    const refused = await issue(body)
    assert.equal(refused.status, 400, JSON.stringify(body))
    assert.equal(code(refused), 'LIVE_BAD_TOKEN_REQUEST')
  }
})

test('a viewer token publishes its types to its topics; other topics 403, other types 403', async () => {
  const token = await viewerToken(['match-2', 'cup-*'])
  const v = watchTopic(server.url, 'match-2')
  try {
    await allOpen([v])
    assert.equal((await publish(server.url, 'match-2', token, { type: 'comment', data: { text: 'hi' } })).status, 202)
    assert.equal((await publish(server.url, 'cup-final', token, { type: 'like', data: {} })).status, 202, 'prefix* covers cup-final')
    await waitFor(() => v.of('comment').length === 1, { message: 'the viewer got the comment' })
    const topic = await publish(server.url, 'other', token, { type: 'like', data: {} })
    assert.equal(topic.status, 403)
    assert.equal(code(topic), 'LIVE_FORBIDDEN_TOPIC')
    const type = await publish(server.url, 'match-2', token, { events: [{ type: 'like', data: {} }, { type: 'goal', data: {} }] })
    assert.equal(type.status, 403)
    assert.equal(code(type), 'LIVE_FORBIDDEN_TYPE')
    assert.equal(v.events.length, 1, 'a refused batch publishes nothing')
  } finally { await v.stop() }
})

test('expired, re-signed, tampered, alg none / HS512 and too long-lived tokens are refused with JSON errors', async () => {
  const token = await viewerToken(['match-3'], ['like'], '60s')
  now += 61_000
  try {
    const expired = await publish(server.url, 'match-3', token, { type: 'like', data: {} })
    assert.equal(expired.status, 401)
    assert.equal(code(expired), 'LIVE_TOKEN_EXPIRED')
  } finally { now -= 61_000 }
  assert.equal((await publish(server.url, 'match-3', token, { type: 'like', data: {} })).status, 202, 'the same token within its ttl')

  const grant = { topics: ['match-3'], types: ['like'], ttlMs: 60_000 }
  const otherKey = (await signViewerToken(deriveViewerKey('not-the-secret'), grant, now)).token
  const [h, p, sig] = token.split('.') as [string, string, string]
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>
  const widened = Buffer.from(JSON.stringify({ ...claims, topics: ['*'] })).toString('base64url')
  const none = `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`
  const key = deriveViewerKey(SECRET)
  const hs512 = await new SignJWT({ topics: ['match-3'], types: ['like'] }).setProtectedHeader({ alg: 'HS512' }).setAudience(VIEWER_AUDIENCE).setIssuer('colony-live')
    .setIssuedAt(Math.floor(now / 1000)).setExpirationTime(Math.floor(now / 1000) + 60).setJti('x').sign(new Uint8Array(Buffer.concat([key, key])))
  const longLived = (await signViewerToken(key, { ...grant, ttlMs: 48 * 3_600_000 }, now)).token
  const cases: Array<[string, string]> = [['other key', otherKey], ['tampered claims', `${h}.${widened}.${sig}`], ['alg none', none], ['HS512', hs512], ['lifetime over the max', longLived]]
  for (const [what, bearer] of cases) {
    const r = await publish(server.url, 'match-3', bearer, { type: 'like', data: {} })
    assert.equal(r.status, 401, what)
    assert.equal(code(r), 'LIVE_UNAUTHORIZED', what)
    assert.match(String((r.json.error as { message: string }).message), /viewer token/, what)
  }
  // A viewer token is not a publisher JWT either way: the --jwt-key path never sees it.
  const asJwt = await publish(server.url, 'match-3', signJwtHs256({ exp: Math.floor(Date.now() / 1000) + 60, aud: VIEWER_AUDIENCE }, JWT_KEY), { type: 'like', data: {} })
  assert.equal(asJwt.status, 401)
})

test('each viewer token has its own rate limit: over it 429 with Retry-After; another token is unaffected', async () => {
  const a = await viewerToken(['match-4'], ['like'])
  const b = await viewerToken(['match-4'], ['like'])
  const likes = (n: number): unknown => ({ events: Array.from({ length: n }, () => ({ type: 'like', data: {} })) })
  // 5 events/s with a burst of 10, and the node's clock stands still: the eleventh like must wait.
  assert.equal((await publish(server.url, 'match-4', a, likes(10))).status, 202)
  const res = await fetch(`${server.url}/v1/topics/match-4/events`, { method: 'POST', headers: { authorization: `Bearer ${a}`, 'content-type': 'application/json' }, body: JSON.stringify({ type: 'like', data: {} }) })
  assert.equal(res.status, 429)
  assert.ok(Number(res.headers.get('retry-after')) >= 1)
  assert.equal(((await res.json()) as { error: { code: string } }).error.code, 'LIVE_RATE_LIMITED')
  assert.equal((await publish(server.url, 'match-4', b, likes(3))).status, 202, 'token b has its own bucket')
  now += 1_000
  assert.equal((await publish(server.url, 'match-4', a, likes(5))).status, 202, 'a second later token a has 5 more')
  assert.equal((await publish(server.url, 'match-4', SECRET, likes(50))).status, 202, 'the publish secret is not held to viewer rates')
})
