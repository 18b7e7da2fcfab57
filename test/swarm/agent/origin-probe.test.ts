// The validator probe over node:http: redirects checked hop by hop, the HEAD-refused fallback, sockets given back
// to the pool, and no WebAssembly (undici's parser) compiled by a process that only probes.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'
import { HostAllowList } from '../../../src/shared/allow-host.ts'
import { SwarmError } from '../../../src/swarm/index.ts'
import { probeOrigin } from '../../../src/swarm/origin/probe.ts'

const LENGTH = 4096

/** An origin: /o (the object), /head-refused (405 to HEAD), /hop/N (redirects N more times), /away (to another host). */
function origin(): Server {
  return createServer((req, res) => {
    const path = req.url ?? ''
    const hop = /^\/hop\/(\d+)$/.exec(path)
    if (hop) {
      const n = Number(hop[1])
      res.writeHead(302, { location: n > 0 ? `/hop/${n - 1}` : '/o', 'content-length': 0 }).end()
      return
    }
    if (path === '/away') { res.writeHead(301, { location: 'http://example.com/o', 'content-length': 0 }).end(); return }
    if (path === '/head-refused' && req.method === 'HEAD') { res.writeHead(405, { 'content-length': 0 }).end(); return }
    if (req.headers.range === 'bytes=0-0') {
      res.writeHead(206, { etag: '"r"', 'content-range': `bytes 0-0/${LENGTH}`, 'content-length': 1 }).end('x')
      return
    }
    res.writeHead(200, { etag: '"v1"', 'content-length': LENGTH })
    res.end(req.method === 'HEAD' ? undefined : Buffer.alloc(LENGTH))
  })
}

describe('origin probe over node:http', { timeout: 30_000 }, () => {
  const server = origin()
  let base = ''
  let allow: HostAllowList
  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    allow = new HostAllowList([new URL(base).host])
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
  })

  test('follows allowed redirects and keys the object by the URL asked for', async () => {
    const p = await probeOrigin(`${base}/hop/2`, allow)
    assert.equal(p.fetchUrl, `${base}/o`)
    assert.equal(p.url, `${base}/hop/2`)
    assert.equal(p.length, LENGTH)
    assert.equal(p.validator, 'etag:"v1"')
  })

  test('a redirect off the allow list, or too many, is refused', async () => {
    await assert.rejects(probeOrigin(`${base}/away`, allow), (err: Error & { code?: string }) => err.code === 'COLONY_FORBIDDEN_TARGET')
    await assert.rejects(probeOrigin(`${base}/hop/9`, allow), (err: unknown) => err instanceof SwarmError && err.code === 'SWARM_ORIGIN_FAILED' && /redirects/.test(err.message))
  })

  test('HEAD refused: a one-byte GET gives the length from Content-Range', async () => {
    const p = await probeOrigin(`${base}/head-refused`, allow)
    assert.equal(p.length, LENGTH)
    assert.equal(p.validator, 'etag:"r"')
  })

  test('an origin that does not answer is SWARM_ORIGIN_FAILED', async () => {
    const closed = createServer()
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r))
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/o`
    await new Promise<void>((r) => closed.close(() => r()))
    await assert.rejects(probeOrigin(url, new HostAllowList([new URL(url).host])), (err: unknown) => err instanceof SwarmError && err.code === 'SWARM_ORIGIN_FAILED')
  })

  test('probes give their connection back: more probes than pooled sockets finish at once', async () => {
    const t0 = performance.now()
    for (let i = 0; i < 12; i++) await probeOrigin(`${base}/o`, allow)
    // A socket held by an unread HEAD answer would stall the fifth probe until the origin's keep-alive timeout (5 s).
    assert.ok(performance.now() - t0 < 3000, `12 probes took ${Math.round(performance.now() - t0)} ms`)
  })

  test('a process that only probes compiles no WebAssembly (undici parser)', async () => {
    const script = `
      let compiled = 0
      const M = WebAssembly.Module
      WebAssembly.Module = function (...a) { compiled++; return new M(...a) }
      for (const k of ['compile', 'instantiate']) { const f = WebAssembly[k]; WebAssembly[k] = (...a) => { compiled++; return f(...a) } }
      const { probeOrigin } = await import(${JSON.stringify(new URL('../../../src/swarm/origin/probe.ts', import.meta.url).href)})
      const { HostAllowList } = await import(${JSON.stringify(new URL('../../../src/shared/allow-host.ts', import.meta.url).href)})
      const allow = new HostAllowList([${JSON.stringify(new URL(base).host)}])
      // Node's TypeScript stripper is WebAssembly too: what loading the sources compiled does not count.
      const before = compiled
      await probeOrigin(${JSON.stringify(`${base}/hop/1`)}, allow)
      await probeOrigin(${JSON.stringify(`${base}/head-refused`)}, allow)
      console.log(JSON.stringify({ compiled: compiled - before }))
      process.exit(0)`
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], { timeout: 20_000 })
    assert.deepEqual(JSON.parse(stdout.trim()), { compiled: 0 })
  })
})
