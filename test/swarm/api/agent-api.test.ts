// The agent's REST API against hostile requests: Host (DNS rebinding), Origin / Sec-Fetch-Site (cross-site), Content-Type
// (no-preflight bodies) and per-client start quotas; each rule refuses the hostile request and lets the legitimate one through.
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { makeTempDir } from '../../../support/services.ts'
import { createMemoryIndex, listDownloads, requestDownload, startAgent, type Agent, type AgentOptions } from '../../../src/swarm/index.ts'
import { apiCall, postDownload } from './api-fixtures.ts'
import { startOrigin, type Origin } from '../swarm-fixtures.ts'

describe('swarm agent API: Host, Origin, Content-Type and per-client quotas', { timeout: 60_000 }, () => {
  let dir: string
  let origin: Origin
  const stalled: Origin[] = []
  const open: Agent[] = []
  const index = createMemoryIndex()
  const agent = async (name: string, extra: Partial<AgentOptions> = {}): Promise<Agent> => {
    const a = await startAgent({ dataDir: `${dir}/${name}`, index, allowHosts: ['127.0.0.1'], resume: false, ...extra })
    open.push(a)
    return a
  }
  const port = (a: Agent): number => Number(new URL(a.url).port)
  const downloadsOf = async (a: Agent): Promise<string[]> => (await listDownloads({ agent: a.url })).map((d) => d.url)

  before(async () => {
    dir = await makeTempDir('colony-swarm-api-')
    origin = await startOrigin({ size: 64 * 1024, path: '/api/object.bin' })
    // Objects whose origin sends nothing after the headers: their downloads stay running until deleted.
    for (let i = 0; i < 3; i++) {
      const o = await startOrigin({ size: 1024 * 1024, rate: 64 * 1024, path: `/stalled/${i}.bin` })
      o.holdAt = 0
      stalled.push(o)
    }
  })
  after(async () => {
    for (const a of open) await a.close().catch(() => undefined)
    for (const o of [origin, ...stalled]) await o.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a Host that is neither the bind address nor an allowed name is refused (421 SWARM_BAD_HOST)', async () => {
    const a = await agent('host', { apiAllowedHosts: ['agent.internal'] })
    const p = port(a)
    for (const host of [`evil.example:${p}`, `127.0.0.1:${p + 1}`, `10.1.2.3:${p}`, `[::1]:${p}`, `evil.example@127.0.0.1:${p}`, `agent.internal.evil:${p}`]) {
      for (const path of ['/healthz', '/metrics', '/v1/downloads']) {
        const r = await apiCall(a.url, path, { headers: { host } })
        assert.equal(r.status, 421, `${host} ${path}`)
        assert.equal(r.code, 'SWARM_BAD_HOST', `${host} ${path}`)
      }
    }
    const posted = await postDownload(a.url, origin.url, { headers: { host: `rebound.example:${p}` } })
    assert.equal(posted.status, 421)
    assert.deepEqual(await downloadsOf(a), [], 'nothing started')
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `LOCALHOST:${p}`, `agent.internal:${p}`, 'agent.internal:1']) {
      assert.equal((await apiCall(a.url, '/healthz', { headers: { host } })).status, 200, host)
      assert.equal((await apiCall(a.url, '/v1/downloads', { headers: { host } })).status, 200, host)
    }
    assert.match(await (await fetch(`${a.url}/metrics`)).text(), /colony_swarm_api_errors_total\{code="SWARM_BAD_HOST"\} 19/)

    // Bound to every interface: any IP literal with the API's port passes (an IP literal never comes from DNS); names do not.
    const wild = await agent('host-wild', { apiHost: '0.0.0.0' })
    const w = `http://127.0.0.1:${port(wild)}`
    for (const host of [`10.1.2.3:${port(wild)}`, `[fe80::1]:${port(wild)}`, `localhost:${port(wild)}`]) {
      assert.equal((await apiCall(w, '/v1/downloads', { headers: { host } })).status, 200, host)
    }
    assert.equal((await apiCall(w, '/v1/downloads', { headers: { host: `evil.example:${port(wild)}` } })).code, 'SWARM_BAD_HOST')
    assert.equal((await apiCall(w, '/v1/downloads', { headers: { host: `10.1.2.3:${port(wild) + 1}` } })).code, 'SWARM_BAD_HOST')

    const any = await agent('host-any', { apiAllowedHosts: ['*'] })
    assert.equal((await apiCall(any.url, '/v1/downloads', { headers: { host: 'whatever.example' } })).status, 200)
  })

  test('a cross-origin browser request is refused (403 SWARM_CROSS_ORIGIN); the own origin and clients without Origin pass', async () => {
    const a = await agent('origin')
    const refused: Record<string, string>[] = [
      { origin: 'http://evil.example' }, { origin: 'null' }, { origin: `http://localhost:${port(a)}` },
      { 'sec-fetch-site': 'cross-site' }, { 'sec-fetch-site': 'same-site' },
    ]
    for (const headers of refused) {
      const r = await postDownload(a.url, origin.url, { headers })
      assert.equal(r.status, 403, JSON.stringify(headers))
      assert.equal(r.code, 'SWARM_CROSS_ORIGIN', JSON.stringify(headers))
      // An <img> or link GET carries no Origin, only Sec-Fetch-Site; reads from another origin are refused too.
      const get = await apiCall(a.url, `/v1/objects?url=${encodeURIComponent(origin.url)}`, { headers: { 'sec-fetch-site': 'cross-site', ...headers } })
      assert.equal(get.code, 'SWARM_CROSS_ORIGIN', JSON.stringify(headers))
    }
    assert.equal((await apiCall(a.url, '/v1/downloads', { headers: { origin: 'http://evil.example' } })).status, 403)
    assert.deepEqual(await downloadsOf(a), [], 'nothing started')

    const own = await postDownload(a.url, origin.url, { headers: { origin: a.url, 'sec-fetch-site': 'same-origin' } })
    assert.equal(own.status, 202, own.text)
    assert.equal((await apiCall(a.url, '/healthz', { headers: { 'sec-fetch-site': 'none' } })).status, 200, 'typed in the address bar')
    assert.deepEqual(await downloadsOf(a), [origin.url], 'colony\'s client (no Origin) lists it')
  })

  test('a POST whose Content-Type is not application/json is refused (415 SWARM_UNSUPPORTED_MEDIA_TYPE) and starts nothing', async () => {
    const a = await agent('media')
    const body = JSON.stringify({ url: origin.url })
    for (const type of ['text/plain', 'text/plain;charset=UTF-8', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', undefined]) {
      const r = await apiCall(a.url, '/v1/downloads', { method: 'POST', body, headers: type ? { 'content-type': type } : {} })
      assert.equal(r.status, 415, String(type))
      assert.equal(r.code, 'SWARM_UNSUPPORTED_MEDIA_TYPE', String(type))
    }
    const del = await apiCall(a.url, '/v1/downloads/0000000000000000', { method: 'DELETE', body: 'x', headers: { 'content-type': 'text/plain' } })
    assert.equal(del.code, 'SWARM_UNSUPPORTED_MEDIA_TYPE', 'a DELETE with a body is held to the same rule')
    assert.deepEqual(await downloadsOf(a), [], 'nothing started')

    const json = await apiCall(a.url, '/v1/downloads', { method: 'POST', body, headers: { 'content-type': 'Application/JSON; charset=utf-8' } })
    assert.equal(json.status, 202, json.text)
    const viaClient = await requestDownload(origin.url, { agent: a.url })
    assert.equal(viaClient.url, origin.url, 'colony\'s client sends application/json')
    assert.equal((await apiCall(a.url, `/v1/downloads/${viaClient.id}`, { method: 'DELETE' })).status, 200, 'a DELETE without a body needs no type')
  })

  test('one client address may have at most --api-max-active running downloads it started (429 SWARM_QUOTA)', async () => {
    const a = await agent('quota', { apiMaxActive: 2, apiStartRate: 0 })
    const [s0, s1, s2] = stalled.map((o) => o.url) as [string, string, string]
    assert.equal((await postDownload(a.url, s0)).status, 202)
    assert.equal((await postDownload(a.url, s1)).status, 202)
    const over = await postDownload(a.url, s2)
    assert.equal(over.status, 429, over.text)
    assert.equal(over.code, 'SWARM_QUOTA')
    assert.ok(Number(over.headers['retry-after']) >= 1, `Retry-After ${String(over.headers['retry-after'])}`)
    const pull = await apiCall(a.url, `/v1/objects?url=${encodeURIComponent(s2)}`, { method: 'HEAD' })
    assert.equal(pull.status, 429, 'a GET /v1/objects that would start a download is counted too')
    assert.equal((await postDownload(a.url, s0)).status, 202, 'asking again for a running download is free')
    assert.deepEqual((await downloadsOf(a)).sort(), [s0, s1].sort())

    assert.equal((await postDownload(a.url, s2, { localAddress: '127.0.0.2' })).status, 202, 'another client address has its own quota')
    const [d0] = (await listDownloads({ agent: a.url })).filter((d) => d.url === s0)
    assert.equal((await apiCall(a.url, `/v1/downloads/${d0?.id}`, { method: 'DELETE' })).status, 200)
    assert.equal((await postDownload(a.url, s0)).status, 202, 'a slot frees when a download stops running')

    // Requests in flight together are counted as they start, not as they finish.
    const together = await agent('quota-together', { apiMaxActive: 2, apiStartRate: 0 })
    const statuses = (await Promise.all([s0, s1, s2].map(async (u) => (await postDownload(together.url, u)).status))).sort()
    assert.deepEqual(statuses, [202, 202, 429])
  })

  test('one client address may start downloads no faster than --api-start-rate (429 SWARM_RATE_LIMITED)', async () => {
    const a = await agent('rate', { apiMaxActive: 0, apiStartRate: 0.01, apiStartBurst: 2 })
    const missing = (i: number): string => new URL(`/missing/${i}.bin`, origin.url).href
    assert.equal((await postDownload(a.url, missing(1))).status, 202)
    assert.equal((await postDownload(a.url, missing(2))).status, 202)
    const over = await postDownload(a.url, missing(3))
    assert.equal(over.status, 429, over.text)
    assert.equal(over.code, 'SWARM_RATE_LIMITED')
    assert.ok(Number(over.headers['retry-after']) >= 60, `Retry-After ${String(over.headers['retry-after'])} (one start per 100 s)`)
    assert.equal((await postDownload(a.url, missing(3), { localAddress: '127.0.0.2' })).status, 202, 'another client address has its own bucket')
    assert.equal((await apiCall(a.url, '/v1/downloads')).status, 200, 'reads are not rate limited')
  })
})
