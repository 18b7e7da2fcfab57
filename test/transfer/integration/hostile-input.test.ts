// Hostile or broken classes in one catalog with good ones: `../` and encoded-slash escapes, other hosts,
// playlist loops, an absurdly large playlist, non-playlist content. Each bad class gets a clear error in
// the report, the good classes are still copied, and nothing is written outside the destination.
import assert from 'node:assert/strict'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { generateSampleLibrary, startSampleOrigin, type SampleOrigin } from '../../../src/demo/transfer-sample/index.ts'
import { makeTempDir } from '../../../support/services.ts'
import { listTree, readReport, runCli } from './run-cli.ts'

const lib = generateSampleLibrary({ classes: 2, seed: 41, nonTransferable: false, defaults: { segments: 4 } })
const bait = generateSampleLibrary({ classes: 1, seed: 42, nonTransferable: false, defaults: { segments: 2 } })
let origin: SampleOrigin
let other: SampleOrigin
let work: string
let sandbox: string

const media = (uris: string[]): string => `#EXTM3U\n#EXT-X-TARGETDURATION:4\n${uris.map((u) => `#EXTINF:4,\n${u}`).join('\n')}\n#EXT-X-ENDLIST\n`
const master = (uris: string[]): string => `#EXTM3U\n${uris.map((u, i) => `#EXT-X-STREAM-INF:BANDWIDTH=${(i + 1) * 100000}\n${u}`).join('\n')}\n`

before(async () => {
  work = await makeTempDir('colony-it-hostile-')
  sandbox = path.join(work, 'sandbox')
  await mkdir(sandbox)
  other = await startSampleOrigin({ library: bait })
  const seg = lib.read('vod/class-0001/240p/seg-00000.ts')
  // ../ past the class root, and an encoded-slash escape that only decoding the key would reveal.
  lib.addFile('hostile/escape/master.m3u8', master(['v/index.m3u8']))
  lib.addFile('hostile/escape/v/index.m3u8', media(['ok.ts', '../../../../../../tmp/colony-escaped.ts', '..%2f..%2f..%2f..%2f..%2fcolony-escaped2.ts']))
  lib.addFile('hostile/escape/v/ok.ts', seg)
  lib.addFile('tmp/colony-escaped.ts', 'must never be fetched')
  lib.addFile('hostile/escape/v/..%2f..%2f..%2f..%2f..%2fcolony-escaped2.ts', 'must never be written')
  // Another host (a real server on another port that would answer: it must receive nothing).
  lib.addFile('hostile/foreign/master.m3u8', master([`${other.url}/vod/class-0001/240p/index.m3u8`, 'v/index.m3u8']))
  lib.addFile('hostile/foreign/v/index.m3u8', media(['ok.ts', 'http://evil.example.invalid/x.ts']))
  lib.addFile('hostile/foreign/v/ok.ts', seg)
  // Loops: a master listing itself, and two playlists referencing each other.
  lib.addFile('hostile/loop/master.m3u8', master(['master.m3u8', 'a.m3u8']))
  lib.addFile('hostile/loop/a.m3u8', master(['b.m3u8']))
  lib.addFile('hostile/loop/b.m3u8', master(['a.m3u8']))
  // A media playlist of ~3 MB (more than --max-playlist-size 1MB).
  lib.addFile('hostile/huge/master.m3u8', master(['v/index.m3u8']))
  lib.addFile('hostile/huge/v/index.m3u8', media(Array.from({ length: 120_000 }, (_, i) => `s${i}.ts`)))
  // Not playlists at all.
  lib.addFile('hostile/html/master.m3u8', '<!doctype html><html><body>login required</body></html>\n', { contentType: 'text/html' })
  lib.addFile('hostile/binary/master.m3u8', seg.subarray(0, 4096), { contentType: 'video/mp2t' })
  // Impossible byte ranges (negative, fractional, past 2^53 − 1) in a variant playlist.
  for (const [id, range] of Object.entries(BYTERANGES)) {
    lib.addFile(`hostile/${id}/master.m3u8`, master(['v/index.m3u8']))
    lib.addFile(`hostile/${id}/v/index.m3u8`, `#EXTM3U\n#EXT-X-VERSION:4\n#EXT-X-TARGETDURATION:4\n#EXTINF:4,\n#EXT-X-BYTERANGE:${range}\nall.ts\n#EXT-X-ENDLIST\n`)
    lib.addFile(`hostile/${id}/v/all.ts`, seg)
  }
  origin = await startSampleOrigin({ library: lib })
})
after(async () => {
  await origin?.stop()
  await other?.stop()
  await rm(work, { recursive: true, force: true })
})

const BYTERANGES = { 'byterange-negative': '-188@0', 'byterange-fraction': '188.5@0', 'byterange-huge': '99999999999999999999@0' }
const HOSTILE = ['escape', 'foreign', 'loop', 'huge', 'html', 'binary', ...Object.keys(BYTERANGES)]

test('hostile classes fail one by one with clear errors; good classes copied; nothing outside the destination', { timeout: 120_000 }, async () => {
  const catalog = [
    ...lib.classes.map((c) => ({ id: c.id, url: `${origin.url}/${c.master}`, status: 'ready' })),
    ...HOSTILE.map((id) => ({ id, url: `${origin.url}/hostile/${id}/master.m3u8`, status: 'ready' })),
  ]
  const catalogFile = path.join(work, 'catalog.json')
  await writeFile(catalogFile, JSON.stringify(catalog))
  const dest = path.join(sandbox, 'dest')
  const reportFile = path.join(work, 'report.json')
  const r = await runCli(['transfer', '--catalog', catalogFile, '--to', dest, '--state', path.join(work, 'state'), '--report', reportFile, '--max-playlist-size', '1MB'],
    { cwd: work, timeoutMs: 110_000 })
  assert.equal(r.code, 1, `exit 1, not a crash or usage error: ${r.code}\n${r.stderr}`)

  const report = await readReport(reportFile)
  const byId = new Map(report.classes.map((c) => [c.id, c]))
  for (const c of lib.classes) {
    assert.equal(byId.get(c.id)?.state, 'verified', `${c.id} still copied`)
    for (const p of c.files) assert.ok((await readFile(path.join(dest, p))).equals(lib.read(p)), p)
  }
  const explain = (id: string): string => {
    const c = byId.get(id)
    assert.ok(c, `${id} is in the report`)
    assert.notEqual(c.state, 'verified', `${id} must not pass as verified: ${JSON.stringify(c)}`)
    const skip = (c as { skipMessage?: string }).skipMessage ?? ''
    return [c.skipReason ?? '', skip, ...c.missing.map((m) => `${m.code} ${m.key} ${m.source} ${m.message}`)].join(' | ')
  }
  assert.match(explain('escape'), /PATH_ESCAPE|hostile|escape/i)
  assert.match(explain('foreign'), /FORBIDDEN|forbidden|not allowed/i)
  assert.match(explain('loop'), /LOOP|loop|cycle/i)
  // Regression: the oversized variant playlist is itself copied and verified; its crawl problem must still
  // keep the class from reading "verified", since none of its segments were crawled.
  assert.match(explain('huge'), /TOO_LARGE|too-large|too large|bigger/i)
  assert.match(explain('html'), /NOT_PLAYLIST|not-a-playlist|not a playlist/i)
  assert.match(explain('binary'), /NOT_PLAYLIST|not-a-playlist|not a playlist/i)
  for (const id of Object.keys(BYTERANGES)) {
    assert.match(explain(id), /TRANSFER_BAD_LENGTH .*EXT-X-BYTERANGE.*not a byte count/, id)
    assert.equal(origin.getsFor(`hostile/${id}/v/all.ts`), 0, `${id}: nothing its hostile playlist lists is fetched`)
  }

  assert.equal(other.stats.requests, 0, 'the host nobody allowed received no request')
  assert.equal(origin.getsFor('tmp/colony-escaped.ts'), 0, 'a ../ escape is never fetched')
  assert.deepEqual((await listTree(sandbox)).filter((p) => !p.startsWith('dest/')), [], 'nothing written beside the destination')
  const written = await listTree(dest)
  assert.ok(written.every((p) => !p.includes('..') && !p.includes('colony-escaped')), `no escaped key: ${written.filter((p) => p.includes('escaped')).join(', ')}`)
  assert.ok(written.every((p) => !p.startsWith('hostile/huge/v/s')), 'nothing the oversized playlist lists is copied')
  await assert.rejects(readFile(path.join(work, 'colony-escaped2.ts')))
  await assert.rejects(readFile('/tmp/colony-escaped.ts'))
})
