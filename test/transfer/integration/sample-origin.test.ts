// The sample library and origin are the ground truth for the transfer tests, the demo and the bench,
// so their own promises (determinism, every referenced URI exists, faults as asked) are checked here.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import HLS from 'hls-parser'
import { generateSampleLibrary, startSampleOrigin, type SampleLibrary, type SampleOrigin } from '../../../src/demo/transfer-sample/index.ts'
import { makeTempDir } from '../../../support/services.ts'

/** Every URI a playlist references, resolved against the playlist URL (what a crawler must find). */
function referencedUris(text: string, url: string): string[] {
  const out = new Set<string>()
  for (const m of text.matchAll(/URI="([^"]+)"/g)) if (m[1]) out.add(new URL(m[1], url).href)
  for (const line of text.split('\n')) if (line && !line.startsWith('#')) out.add(new URL(line.trim(), url).href)
  return [...out]
}

let lib: SampleLibrary
let origin: SampleOrigin

before(async () => {
  lib = generateSampleLibrary({ classes: 5, varied: true, seed: 3 })
  origin = await startSampleOrigin({ library: lib })
})
after(async () => { await origin.stop() })

test('the same options give the same library, byte for byte', () => {
  const again = generateSampleLibrary({ classes: 5, varied: true, seed: 3 })
  assert.deepEqual([...again.files.keys()], [...lib.files.keys()])
  for (const p of [...lib.files.keys()].slice(0, 40)) assert.ok(again.read(p).equals(lib.read(p)), p)
  const other = generateSampleLibrary({ classes: 5, varied: true, seed: 4 })
  assert.notDeepEqual([...other.files.values()].map((f) => f.size), [...lib.files.values()].map((f) => f.size))
})

test('sizes stay within 100 B – 2 MB for media and every class has its expected outcome', () => {
  for (const f of lib.files.values()) {
    if (f.kind === 'segment' && !/\/media\./.test(f.path)) assert.ok(f.size >= 100 && f.size <= 2 * 1024 * 1024, `${f.path} ${f.size}`)
    assert.equal(lib.read(f.path).length, f.size)
  }
  const reasons = Object.fromEntries(lib.classes.map((c) => [c.id, c.reason ?? 'ok']))
  assert.deepEqual(reasons, {
    'class-0001': 'ok', 'class-0002': 'ok', 'class-0003': 'ok', 'class-0004': 'ok', 'class-0005': 'ok',
    'aborted-0001': 'aborted', 'test-0001': 'test', 'recording-0001': 'recording', 'unfinished-0001': 'recording', 'missing-0001': 'playlist-missing',
  })
  const kinds = new Set([...lib.files.values()].map((f) => f.kind))
  for (const k of ['master', 'media', 'segment', 'init', 'key', 'session-data']) assert.ok(kinds.has(k as never), k)
})

test('every playlist parses and every URI it references is served (crawl closure = class files)', async () => {
  for (const c of lib.classes.filter((x) => x.files.length)) {
    const seen = new Set<string>()
    const queue = [`${origin.url}/${c.master}`]
    while (queue.length) {
      const url = queue.pop() ?? ''
      const p = new URL(url).pathname.slice(1)
      if (seen.has(p)) continue
      seen.add(p)
      const res = await fetch(url)
      assert.equal(res.status, 200, url)
      if (!p.endsWith('.m3u8')) { await res.arrayBuffer(); continue }
      const text = await res.text()
      assert.ok(HLS.parse(text), url)
      queue.push(...referencedUris(text, url))
    }
    assert.deepEqual([...seen].sort(), [...c.files].sort(), c.id)
  }
  assert.ok(!lib.read('vod/recording-0001/240p/index.m3u8').toString().includes('#EXT-X-ENDLIST'))
  assert.ok(lib.read('vod/class-0001/240p/index.m3u8').toString().includes('#EXT-X-ENDLIST'))
})

test('HTTP semantics: Content-Type, Content-Length, ETag/304, Range/206/416, 404, catalog, ops routes', async () => {
  const f = [...lib.files.values()].find((x) => x.path.endsWith('.ts') && x.size > 1000)
  assert.ok(f)
  const full = await fetch(`${origin.url}/${f.path}`)
  assert.equal(full.headers.get('content-type'), 'video/mp2t')
  assert.equal(Number(full.headers.get('content-length')), f.size)
  const etag = full.headers.get('etag') ?? ''
  assert.ok(Buffer.from(await full.arrayBuffer()).equals(lib.read(f.path)))
  assert.equal((await fetch(`${origin.url}/${f.path}`, { headers: { 'if-none-match': etag } })).status, 304)
  const part = await fetch(`${origin.url}/${f.path}`, { headers: { range: 'bytes=100-199' } })
  assert.equal(part.status, 206)
  assert.equal(part.headers.get('content-range'), `bytes 100-199/${f.size}`)
  assert.ok(Buffer.from(await part.arrayBuffer()).equals(lib.read(f.path).subarray(100, 200)))
  const tail = await fetch(`${origin.url}/${f.path}`, { headers: { range: 'bytes=-10' } })
  assert.ok(Buffer.from(await tail.arrayBuffer()).equals(lib.read(f.path).subarray(f.size - 10)))
  assert.equal((await fetch(`${origin.url}/${f.path}`, { headers: { range: `bytes=${f.size}-` } })).status, 416)
  assert.equal((await fetch(`${origin.url}/vod/missing-0001/master.m3u8`)).status, 404)
  const head = await fetch(`${origin.url}/${f.path}`, { method: 'HEAD' })
  assert.equal(Number(head.headers.get('content-length')), f.size)
  const catalog = await (await fetch(`${origin.url}/catalog.json`)).json() as Array<{ id: string; url: string; status: string }>
  assert.equal(catalog.length, lib.classes.length)
  assert.ok(catalog.every((e) => e.url.startsWith(origin.url)))
  assert.equal((await fetch(`${origin.url}/healthz`)).status, 200)
  assert.match(await (await fetch(`${origin.url}/metrics`)).text(), /colony_sample_origin_requests_total/)
})

test('faults: 5xx, 429 + Retry-After, resets, truncation, slow, missing — bounded per path', async () => {
  const seg = [...lib.files.values()].filter((x) => x.kind === 'segment' && x.size > 1000).slice(0, 30)
  const first = seg[0]
  assert.ok(first)
  origin.setFaults({ errorRate: 1, maxFaultsPerPath: 2 })
  assert.ok([500, 502, 503].includes((await fetch(`${origin.url}/${first.path}`)).status))
  assert.ok([500, 502, 503].includes((await fetch(`${origin.url}/${first.path}`)).status))
  assert.equal((await fetch(`${origin.url}/${first.path}`)).status, 200, 'faults stop after maxFaultsPerPath')
  origin.setFaults({ throttleRate: 1, retryAfterSeconds: 3 })
  const t = await fetch(`${origin.url}/${first.path}`)
  assert.equal(t.status, 429)
  assert.equal(t.headers.get('retry-after'), '3')
  origin.setFaults({ resetRate: 1 })
  await assert.rejects(fetch(`${origin.url}/${first.path}`))
  origin.setFaults({ truncateRate: 1 })
  await assert.rejects(async () => { const r = await fetch(`${origin.url}/${first.path}`); await r.arrayBuffer() })
  origin.setFaults({ slowRate: 1, slowMs: 300 })
  const t0 = Date.now()
  assert.equal((await fetch(`${origin.url}/${first.path}`)).status, 200)
  assert.ok(Date.now() - t0 >= 290)
  origin.setFaults({ missing: [first.path], errorRate: 0.5, match: /\.m3u8$/ })
  assert.equal((await fetch(`${origin.url}/${first.path}`)).status, 404)
  for (const s of seg.slice(1)) assert.equal((await fetch(`${origin.url}/${s.path}`)).status, 200, 'match spares segments')
  origin.setFaults(undefined)
  assert.ok(origin.stats.faults.error >= 2 && origin.stats.faults.reset === 1 && origin.stats.faults.truncate === 1)
  assert.ok(origin.getsFor(first.path) >= 8)
})

test('writeTo writes every file byte-identical under the directory', async () => {
  const small = generateSampleLibrary({ classes: 2, varied: true, defaults: { segments: 3 }, nonTransferable: false })
  const dir = await makeTempDir('colony-sample-')
  try {
    const r = await small.writeTo(dir)
    assert.equal(r.files, small.files.size)
    for (const f of small.files.values()) {
      const got = await readFile(path.join(dir, f.path))
      assert.equal(createHash('sha1').update(got).digest('hex'), createHash('sha1').update(small.read(f.path)).digest('hex'), f.path)
    }
  } finally { await rm(dir, { recursive: true, force: true }) }
})
