// The leader's origin fetch: validator probe, resumable Range requests with retries, If-Range, hashing.
import assert from 'node:assert/strict'
import { createHash, randomBytes } from 'node:crypto'
import { createServer, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFile, rm, writeFile } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { HostAllowList } from '../../../src/shared/allow-host.ts'
import { makeTempDir } from '../../../support/services.ts'
import { SwarmError } from '../../../src/swarm/index.ts'
import { probeOrigin } from '../../../src/swarm/origin/probe.ts'
import { PieceHasher } from '../../../src/swarm/torrent-file.ts'
import { downloadFromOrigin } from '../../../src/swarm/origin/fetch.ts'

describe('origin fetch', { timeout: 30_000 }, () => {
  const body = randomBytes(700_000)
  let etag = '"v1"'
  let url = ''
  let dir = ''
  /** Requests seen (range header or "full"), and how many of the next responses to cut after 100 kB. */
  const seen: string[] = []
  let cutNext = 0
  let noValidator = false
  /** Ignore Range (answer 200 with the whole object) and cut every body after 100 kB. */
  let ignoreRangeAndCut = false
  const server = createServer((req: IncomingMessage, res) => {
    const h: Record<string, string | number> = { 'accept-ranges': 'bytes' }
    if (!noValidator) h.etag = etag
    let start = 0
    const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '')
    const rangeOk = !ignoreRangeAndCut && m && (req.headers['if-range'] === undefined || req.headers['if-range'] === etag)
    if (rangeOk && m) { start = Number(m[1]); h['content-range'] = `bytes ${start}-${body.length - 1}/${body.length}` }
    h['content-length'] = body.length - start
    res.writeHead(rangeOk ? 206 : 200, h)
    if (req.method === 'HEAD') { res.end(); return }
    seen.push(req.headers.range ?? 'full')
    if (cutNext > 0 || ignoreRangeAndCut) {
      if (cutNext > 0) cutNext--
      res.write(body.subarray(start, start + 100_000), () => res.destroy())
      return
    }
    res.end(body.subarray(start))
  })

  before(async () => {
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/o.bin`
    dir = await makeTempDir('colony-swarm-origin-')
  })
  after(async () => {
    server.closeAllConnections()
    await new Promise<void>((r) => server.close(() => r()))
    await rm(dir, { recursive: true, force: true })
  })

  const allow = (): HostAllowList => new HostAllowList([new URL(url).host])
  const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

  test('retries a cut body with Range requests and hashes the whole object', async () => {
    seen.length = 0
    cutNext = 2
    const probe = await probeOrigin(url, allow())
    assert.equal(probe.length, body.length)
    assert.equal(probe.validator, 'etag:"v1"')
    const hasher = new PieceHasher(16384)
    const file = `${dir}/a.bin`
    const r = await downloadFromOrigin({ probe, allow: allow(), file, hasher, backoffBaseMs: 5 })
    // Each retry resumes where the bytes on disk end (how much of the cut response arrived varies).
    assert.equal(seen.length, 3)
    assert.equal(seen[0], 'full')
    const offsets = seen.slice(1).map((r) => Number(/^bytes=(\d+)-$/.exec(r)?.[1]))
    assert.ok((offsets[0] ?? 0) > 0 && (offsets[1] ?? 0) > (offsets[0] ?? 0), `resumed at ${offsets.join(', ')}`)
    assert.equal(r.fromOrigin, body.length)
    assert.deepEqual(await readFile(file), body)
    const { sha256, pieces } = hasher.finish()
    assert.equal(sha256, sha(body))
    assert.equal(pieces.length, Math.ceil(body.length / 16384) * 20)
  })

  test('an origin that ignores Range and always cuts the body short is given up on after the retries', async () => {
    seen.length = 0
    ignoreRangeAndCut = true
    try {
      const probe = await probeOrigin(url, allow())
      const hasher = new PieceHasher(16384)
      // Which request last moved the furthest byte reached: how much of a cut body the client reads before it
      // sees the close varies, so a later attempt may still gain a little.
      let furthest = 0
      let lastGain = 0
      const onProgress = (have: number): void => { if (have > furthest) { furthest = have; lastGain = seen.length } }
      await assert.rejects(downloadFromOrigin({ probe, allow: allow(), file: `${dir}/never.bin`, hasher, backoffBaseMs: 1, retries: 2, onProgress }), { code: 'SWARM_ORIGIN_FAILED' })
      // Every attempt sends the object from its start again; once none gains bytes past the furthest point, the
      // failed attempt that gained plus `retries` more end the download.
      assert.ok(lastGain >= 1 && furthest <= 100_000, `furthest ${furthest} at request ${lastGain}`)
      assert.equal(seen.length, lastGain + 2, `${seen.length} requests, the last gain at request ${lastGain}`)
    } finally {
      ignoreRangeAndCut = false
    }
  })

  test('a restarted leader re-hashes its partial file and fetches only the rest', async () => {
    seen.length = 0
    const file = `${dir}/b.bin`
    await writeFile(file, body.subarray(0, 300_000))
    const probe = await probeOrigin(url, allow())
    const hasher = new PieceHasher(16384)
    const r = await downloadFromOrigin({ probe, allow: allow(), file, hasher })
    assert.deepEqual(seen, ['bytes=300000-'])
    assert.equal(r.resumedBytes, 300_000)
    assert.equal(r.fromOrigin, body.length - 300_000)
    assert.equal(hasher.finish().sha256, sha(body))
  })

  test('an object that changed under a resumed fetch is SWARM_ORIGIN_CHANGED', async () => {
    const file = `${dir}/c.bin`
    await writeFile(file, body.subarray(0, 50_000))
    const probe = await probeOrigin(url, allow())
    etag = '"v2"'
    try {
      await assert.rejects(downloadFromOrigin({ probe, allow: allow(), file, hasher: new PieceHasher(16384) }),
        (err: unknown) => err instanceof SwarmError && err.code === 'SWARM_ORIGIN_CHANGED')
    } finally { etag = '"v1"' }
  })

  test('no validator, or a host off the list, is refused before any body moves', async () => {
    noValidator = true
    try {
      await assert.rejects(probeOrigin(url, allow()), (err: unknown) => err instanceof SwarmError && err.code === 'SWARM_ORIGIN_FAILED' && /ETag/.test(err.message))
    } finally { noValidator = false }
    await assert.rejects(probeOrigin(url, new HostAllowList(['example.com'])), (err: Error & { code?: string }) => err.code === 'COLONY_FORBIDDEN_TARGET')
  })
})
