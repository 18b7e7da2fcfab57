// --rewrite-uri: absolute URIs inside copied playlists move to the new host; segments, keys and maps stay
// byte-identical; verification, the report, and `check` with and without the same rule agree.
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { makeTempDir, startS3rver } from '../../../support/services.ts'
import { startFixtureOrigin, type FixtureOrigin } from '../fixtures/origin-fixture.ts'
import { absoluteLibrary } from '../fixtures/absolute-library.ts'
import { getS3, listTree, readReport, runCli, s3Client, S3_ENV } from './run-cli.ts'
import { parseRewriteRule, rewritePlaylist } from '../../../src/transfer/core/rewrite-uri.ts'
import type { CheckReport } from '../../../src/transfer/core/check/check-report.ts'

const NEW = 'https://new-cdn.example.com/media/'
let origin: FixtureOrigin
let work: string
let rule: string

before(async () => {
  origin = await startFixtureOrigin(new Map())
  for (const [k, v] of absoluteLibrary(origin.url)) origin.files.set(k, v)
  rule = `${origin.url}/abs/=${NEW}`
  work = await makeTempDir('colony-rewrite-')
})
after(async () => { await origin.stop(); await rm(work, { recursive: true, force: true }) })

test('rewritePlaylist: URI lines and URI= attributes, longest FROM first, other bytes untouched', () => {
  const rules = [parseRewriteRule('https://old.example/=https://new.example/'), parseRewriteRule('https://old.example/v/=https://v.example/')]
  const body = Buffer.concat([Buffer.from('#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,URI="https://old.example/k.key"\r\n# https://old.example/comment\r\n#EXTINF:4,caf\xe9\r\n'), Buffer.from([0xff]), Buffer.from('\r\n  https://old.example/v/s0.ts\r\nhttps://elsewhere/s1.ts\r\n')])
  const expected = Buffer.concat([Buffer.from('#EXTM3U\r\n#EXT-X-KEY:METHOD=AES-128,URI="https://new.example/k.key"\r\n# https://old.example/comment\r\n#EXTINF:4,caf\xe9\r\n'), Buffer.from([0xff]), Buffer.from('\r\n  https://v.example/s0.ts\r\nhttps://elsewhere/s1.ts\r\n')])
  const out = rewritePlaylist(body, rules)
  assert.ok(out?.equals(expected), out?.toString('latin1'))
  assert.equal(rewritePlaylist(Buffer.from('#EXTM3U\ns0.ts\n'), rules), undefined)
  for (const bad of ['nonsense', '=https://x/', 'ftp://a/=https://b/', 'https://a/=', 'https://a/=/relative', 'old.example=https://b/']) {
    assert.throws(() => parseRewriteRule(bad), { code: 'TRANSFER_BAD_REWRITE_RULE' }, bad)
  }
})

test('transfer --rewrite-uri: playlists rewritten, segments byte-identical, verified, counted; check agrees only with the rule', async () => {
  const dest = path.join(work, 'copy')
  const master = `${origin.url}/abs/master.m3u8`
  const reportFile = path.join(work, 'report.json')
  const r = await runCli(['transfer', master, '--to', dest, '--rewrite-uri', rule, '--report', reportFile, '--workers', '1', '--state', path.join(work, 'state'), '--checksum'], { cwd: work })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  assert.match(r.stdout, /4 playlists rewritten/)
  const report = await readReport(reportFile)
  assert.equal(report.totals.rewrittenPlaylists, 4)
  assert.equal(report.totals.verified, origin.files.size)
  assert.deepEqual(await listTree(dest), [...origin.files.keys()].map((k) => k.slice(1)).sort())
  for (const [p, f] of origin.files) {
    const stored = await readFile(path.join(dest, p))
    if (!p.endsWith('.m3u8')) { assert.ok(stored.equals(f.body), `${p} byte-identical`); continue }
    const text = stored.toString()
    assert.ok(!text.includes(origin.url), `${p} still names the origin:\n${text}`)
    assert.equal(text, f.body.toString().split(`${origin.url}/abs/`).join(NEW), p)
  }
  assert.match(await readFile(path.join(dest, 'abs/master.m3u8'), 'utf8'), /URI="https:\/\/new-cdn\.example\.com\/media\/audio\/index\.m3u8"\r\n/)

  const checkArgs = ['transfer', 'check', master, '--to', dest, '--checksum']
  const withRule = await runCli([...checkArgs, '--rewrite-uri', rule], { cwd: work })
  assert.equal(withRule.code, 0, withRule.stderr + withRule.stdout)
  const without = await runCli([...checkArgs, '--json'], { cwd: work })
  assert.equal(without.code, 1, without.stderr + without.stdout)
  const done = JSON.parse(without.stdout.trim().split('\n').at(-1) as string) as { report: CheckReport }
  assert.deepEqual(done.report.classes.flatMap((c) => c.items.map((i) => `${i.type} ${i.key}`)).sort(),
    ['abs/audio/index.m3u8', 'abs/master.m3u8', 'abs/video/iframes.m3u8', 'abs/video/index.m3u8'].map((k) => `differs ${k}`))
})

test('transfer --rewrite-uri to S3: the ETag check passes on the rewritten body', async () => {
  const s3 = await startS3rver(['dest'])
  try {
    const r = await runCli(['transfer', `${origin.url}/abs/master.m3u8`, '--to', 's3://dest/hls', '--s3-endpoint', s3.url, '--rewrite-uri', rule, '--workers', '1', '--state', path.join(work, 'state-s3')], { cwd: work, env: S3_ENV })
    assert.equal(r.code, 0, r.stderr + r.stdout)
    const stored = await getS3(s3Client(s3.url), 'dest', 'hls/abs/video/index.m3u8')
    assert.match(stored.body.toString(), /URI="https:\/\/new-cdn\.example\.com\/media\/keys\/k\.key"/)
    const check = await runCli(['transfer', 'check', `${origin.url}/abs/master.m3u8`, '--to', 's3://dest/hls', '--s3-endpoint', s3.url, '--rewrite-uri', rule], { cwd: work, env: S3_ENV })
    assert.equal(check.code, 0, check.stderr + check.stdout)
  } finally {
    await s3.stop()
  }
})

test('transfer: a malformed --rewrite-uri is one line on stderr and exit 2, before any request', async () => {
  const before = origin.log.length
  for (const bad of ['no-equals-sign', '=https://new/', 'https://old/=relative/path', 'file:///x=https://new/']) {
    const r = await runCli(['transfer', `${origin.url}/abs/master.m3u8`, '--to', path.join(work, 'never'), '--rewrite-uri', bad], { cwd: work })
    assert.equal(r.code, 2, `${bad}: ${r.stderr}`)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /--rewrite-uri/)
  }
  assert.equal(origin.log.length, before)
  assert.deepEqual(await listTree(path.join(work, 'never')), [])
})
