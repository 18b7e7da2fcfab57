// The agent's API against a real browser (headless Chromium over the DevTools protocol): a cross-site page and a
// DNS-rebound page cannot start downloads or read the list; the API opened under its own address still works.
// Chromium resolves every *.localhost name to loopback, which stands in for an attacker's name pointed at 127.0.0.1.
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { after, before, describe, test } from 'node:test'
import { Cdp, startChromium, type ChromiumInstance } from '../../helpers/chromium.ts'
import { makeTempDir, waitFor } from '../../../support/services.ts'
import { listDownloads, startAgent, type Agent } from '../../../src/swarm/index.ts'
import { startOrigin, type Origin } from '../swarm-fixtures.ts'

describe('swarm agent API in a browser', { timeout: 120_000 }, () => {
  let dir: string
  let origin: Origin
  let agent: Agent
  let attacker: Server
  let chromium: ChromiumInstance | undefined
  let cdp: Cdp

  /** Opens url in a fresh browser context and waits for it to load; returns an evaluator in that page. */
  const openPage = async (url: string): Promise<(expr: string) => Promise<unknown>> => {
    const { browserContextId } = await cdp.send('Target.createBrowserContext') as { browserContextId: string }
    const { targetId } = await cdp.send('Target.createTarget', { url, browserContextId }) as { targetId: string }
    const { sessionId } = await cdp.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string }
    const page = (expression: string): Promise<unknown> => cdp.evaluate(sessionId, expression)
    await waitFor(async () => await page('location.href') === url && await page('document.readyState') === 'complete', { timeoutMs: 20_000, message: `${url} loaded` })
    return page
  }
  const errorCount = async (code: string): Promise<number> => {
    const m = new RegExp(`colony_swarm_api_errors_total\\{code="${code}"\\} (\\d+)`).exec(await (await fetch(`${agent.url}/metrics`)).text())
    return Number(m?.[1] ?? 0)
  }
  const objectUrl = (name: string): string => new URL(`/browser/${name}.bin`, origin.url).href

  before(async () => {
    dir = await makeTempDir('colony-swarm-browser-')
    origin = await startOrigin({ size: 64 * 1024, path: '/browser/object.bin' })
    agent = await startAgent({ dataDir: dir, allowHosts: ['127.0.0.1'], resume: false })
    attacker = createServer((_req, res) => { res.writeHead(200, { 'content-type': 'text/html' }); res.end('<!doctype html><title>attacker</title>') })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    chromium = await startChromium()
    cdp = await Cdp.connect(chromium.webSocketDebuggerUrl)
  })
  after(async () => {
    cdp?.close()
    await chromium?.close()
    await new Promise<void>((resolve) => attacker.close(() => resolve()))
    await agent.close()
    await origin.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a page on another site can neither POST (no-cors, text/plain) nor start a download with an <img> GET', async () => {
    const page = await openPage(`http://evil.localhost:${(attacker.address() as AddressInfo).port}/`)
    const sent = await page(`(async () => {
      await fetch(${JSON.stringify(`${agent.url}/v1/downloads`)}, { method: 'POST', mode: 'no-cors', body: ${JSON.stringify(JSON.stringify({ url: objectUrl('post') }))} }).catch(() => undefined)
      await new Promise((r) => { const i = new Image(); i.onload = i.onerror = r; i.src = ${JSON.stringify(`${agent.url}/v1/objects?url=${encodeURIComponent(objectUrl('img'))}`)} })
      return 'sent'
    })()`)
    assert.equal(sent, 'sent')
    // Either both requests were refused, or one started a download (the assertion below then shows which).
    await waitFor(async () => await errorCount('SWARM_CROSS_ORIGIN') >= 2 || (await listDownloads({ agent: agent.url })).length > 0, {
      timeoutMs: 10_000, message: 'the requests reached the agent',
    })
    assert.deepEqual(await listDownloads({ agent: agent.url }), [], 'nothing started')
  })

  test('a page whose name was rebound to the agent (same origin as far as the browser knows) gets 421', async () => {
    const page = await openPage(`http://rebound.localhost:${new URL(agent.url).port}/healthz`)
    const statuses = await page(`Promise.all([
      fetch('/v1/downloads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(JSON.stringify({ url: objectUrl('rebound') }))} }).then((r) => r.status),
      fetch('/v1/downloads').then((r) => r.status),
    ])`)
    assert.deepEqual(statuses, [421, 421])
    assert.deepEqual(await listDownloads({ agent: agent.url }), [], 'nothing started')
  })

  test('the API opened at its own address works from the browser, same-origin POST included', async () => {
    const page = await openPage(`${agent.url}/v1/downloads`)
    assert.match(String(await page('document.body.innerText')), /"downloads"/)
    const status = await page(`fetch('/v1/downloads', { method: 'POST', headers: { 'content-type': 'application/json' }, body: ${JSON.stringify(JSON.stringify({ url: origin.url }))} }).then((r) => r.status)`)
    assert.equal(status, 202)
    assert.deepEqual((await listDownloads({ agent: agent.url })).map((d) => d.url), [origin.url])
  })
})
