// The page at `/` in headless Chromium, driven over the DevTools protocol (Node's global WebSocket):
// two isolated browser contexts watch the same stream and see each other's likes and comments, publishing with
// a viewer token issued by POST /v1/tokens (the publish secret never reaches the browser).
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { Cdp, startChromium, type ChromiumInstance } from '../helpers/chromium.ts'
import { waitFor } from '../../support/services.ts'

const TOKEN = 'page-secret'
let server: LiveServer
let chromium: ChromiumInstance | undefined
let cdp: Cdp

/** A page in its own browser context (separate cookies/storage: a second "browser"). */
async function openPage(url: string): Promise<(expr: string) => Promise<unknown>> {
  const { browserContextId } = await cdp.send('Target.createBrowserContext') as { browserContextId: string }
  const { targetId } = await cdp.send('Target.createTarget', { url, browserContextId }) as { targetId: string }
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
  return (expression: string) => cdp.evaluate(sessionId, expression)
}

before(async () => {
  server = await startLiveServer({ token: TOKEN, hub: { coalesce: new Map([['like', 100]]) } })
  chromium = await startChromium()
  cdp = await Cdp.connect(chromium.webSocketDebuggerUrl)
})

after(async () => {
  cdp?.close()
  await chromium?.close()
  await server.close({ graceMs: 100 })
})

async function viewerToken(topic: string): Promise<string> {
  const res = await fetch(`${server.url}/v1/tokens`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: JSON.stringify({ topics: [topic], types: ['like', 'comment'], ttl: '10m' }) })
  assert.equal(res.status, 201)
  return ((await res.json()) as { token: string }).token
}

test('two browser contexts see each other\'s likes, comments and the viewer count', { timeout: 60_000 }, async () => {
  const pageUrl = `${server.url}/?topic=concert#viewer=${await viewerToken('concert')}`
  const alice = await openPage(`${pageUrl.replace('?', '?name=alice&')}`)
  const bob = await openPage(`${pageUrl.replace('?', '?name=bob&')}`)
  for (const page of [alice, bob]) await waitFor(async () => await page('document.body.dataset.connected') === '1', { timeoutMs: 20_000, message: 'page connected' })
  await waitFor(() => server.hub.viewers('concert') === 2)
  assert.equal(await alice('location.hash'), '', 'the token leaves the address bar once read')

  await alice(`document.getElementById('like').click()`)
  await waitFor(async () => await bob(`document.getElementById('likes-total').textContent`) === '1', { message: 'bob sees alice\'s like' })
  await bob(`document.getElementById('like').click(); document.getElementById('like').click()`)
  await waitFor(async () => await alice(`document.getElementById('likes-total').textContent`) === '3', { message: 'alice sees bob\'s likes' })
  assert.equal(await bob(`document.getElementById('likes-total').textContent`), '3')
  assert.ok(Number(await alice(`document.querySelectorAll('#hearts .heart').length`)) >= 1, 'likes float over the video')

  await bob(`document.getElementById('comment-text').value = 'hello <b>alice</b>'; document.getElementById('comment-form').requestSubmit()`)
  await waitFor(async () => await alice(`document.querySelector('#comments li')?.textContent ?? ''`) === 'bobhello <b>alice</b>', { message: 'alice sees bob\'s comment (as text)' })
  assert.equal(await alice(`document.querySelectorAll('#comments li b').length`), 1, 'comment text is not parsed as HTML')
  await waitFor(async () => await alice(`document.getElementById('viewer-count').textContent`) === '2', { timeoutMs: 10_000, message: 'viewer count on the page' })
})

test('a page given the publish secret instead of a viewer token stays read-only', { timeout: 60_000 }, async () => {
  const page = await openPage(`${server.url}/?topic=secret-room#token=${TOKEN}`)
  await waitFor(async () => await page('document.body.dataset.connected') === '1', { timeoutMs: 20_000, message: 'page connected' })
  await page(`document.getElementById('like').click()`)
  await waitFor(async () => String(await page(`document.getElementById('status').textContent`)).startsWith('read-only'), { message: 'read-only status' })
  // The page refuses before any request, so the topic's first event is the one published now.
  const res = await fetch(`${server.url}/v1/topics/secret-room/events`, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` }, body: '{"type":"comment","data":1}' })
  assert.deepEqual(((await res.json()) as { ids: number[] }).ids, [1], 'the page published nothing')
})
