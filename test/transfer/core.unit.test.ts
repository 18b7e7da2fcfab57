import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { createHash } from 'node:crypto'
import { Journal, deriveRunName } from '../../src/transfer/embedded/journal.ts'
import { MeasureStream } from '../../src/transfer/core/measure-stream.ts'
import { namedHosts } from '../../src/transfer/core/plan.ts'
import { parseCatalogText, scanCatalog } from '../../src/transfer/core/catalog.ts'
import { isUnchanged } from '../../src/transfer/core/copy-file.ts'
import { TRANSFER_CODES } from '../../src/transfer/errors.ts'
import { buildReport, filesToCopy, filesToVerify, classFiles, classProblems } from './fixtures/report-model.ts'

test('catalog: JSON array, {classes}, NDJSON; invalid and non-transferable entries are skipped with a reason', () => {
  const ndjson = [
    '{"id": "a", "master": "http://o/a/master.m3u8", "status": "ready"}',
    '{"id": 2, "url": "/b/master.m3u8"}',
    'not json',
    '{"id": "c", "playlist": "http://o/c/master.m3u8", "status": "ABORTED"}',
    '{"id": "d", "master": "http://o/d/master.m3u8", "status": "test"}',
    '{"id": "e", "master": "http://o/e/master.m3u8", "status": "recording"}',
    '{"id": "f"}',
    '{"master": "http://o/g.m3u8"}',
    '{"id": "a", "master": "http://o/a2/master.m3u8"}',
    '{"id": "h", "master": "ftp://o/h.m3u8"}',
  ].join('\n')
  const scan = scanCatalog(parseCatalogText(ndjson), { baseUrl: 'http://o/catalog.ndjson' })
  assert.deepEqual(scan.classes, [{ id: 'a', source: 'http://o/a/master.m3u8', status: 'ready' }, { id: '2', source: 'http://o/b/master.m3u8' }])
  assert.deepEqual(scan.skipped.map((s) => [s.id, s.reason]), [
    ['#3', 'invalid-entry'], ['c', 'aborted'], ['d', 'test'], ['e', 'recording'], ['f', 'playlist-missing'], ['#8', 'invalid-entry'], ['a', 'invalid-entry'], ['h', 'invalid-entry'],
  ])
  assert.equal(parseCatalogText('[{"id":"x","master":"http://o/x.m3u8"}]').length, 1)
  assert.equal(parseCatalogText('{"classes":[{"id":"x"},{"id":"y"}]}').length, 2)
  assert.throws(() => parseCatalogText('[{"id": '), { code: TRANSFER_CODES.BAD_CATALOG })
})

test('catalog: a remote catalog names only http(s) masters on named hosts; a local one is trusted as typed', () => {
  const entries = parseCatalogText([
    '{"id": "rel", "master": "v/1/master.m3u8"}', '{"id": "abs", "master": "http://cat.test:8080/v/2/master.m3u8"}',
    '{"id": "allowed", "master": "https://cdn.example.com/v/3/master.m3u8"}', '{"id": "port", "master": "http://cat.test:9090/v/4/master.m3u8"}',
    '{"id": "other", "master": "http://127.0.0.2:8080/v/5/master.m3u8"}', '{"id": "file", "master": "file:///etc/passwd"}',
    '{"id": "s3", "master": "s3://private/hls/master.m3u8"}', '{"id": "bad-and-deleted", "master": "file:///etc/", "status": "deleted"}',
  ].join('\n'))
  const remote = scanCatalog(entries, { baseUrl: 'http://cat.test:8080/catalog.ndjson', remoteHosts: namedHosts(['http://cat.test:8080/catalog.ndjson'], [], ['*.example.com']) })
  assert.deepEqual(remote.classes.map((c) => c.id), ['rel', 'abs', 'allowed'])
  assert.deepEqual(remote.skipped.map((s) => [s.id, s.reason]), [['port', 'forbidden-host'], ['other', 'forbidden-host'], ['file', 'forbidden-host'], ['s3', 'forbidden-host'], ['bad-and-deleted', 'forbidden-host']])
  assert.match(remote.skipped[2]?.message ?? '', /only name http\(s\) masters, not file:/)
  assert.match(remote.skipped[0]?.message ?? '', /host cat\.test:9090 is not allowed/)
  const local = scanCatalog(entries, { baseUrl: 'file:///home/me/catalog.ndjson' })
  assert.deepEqual(local.classes.map((c) => c.id), ['rel', 'abs', 'allowed', 'port', 'other', 'file', 's3'])
})

test('journal: a key is owned once across classes; states survive reopening; verified files are not offered again', async (t) => {
  const { makeTempDir } = await import('../../support/services.ts')
  const { rm } = await import('node:fs/promises')
  const dir = await makeTempDir()
  t.after(() => rm(dir, { recursive: true, force: true }))
  const file = `${dir}/j.db`
  const j = new Journal(file)
  j.addClasses([{ id: 'c1', source: 's1' }, { id: 'c2', source: 's2' }])
  const f = (key: string) => ({ source: `http://o/${key}`, key, kind: 'segment' as const })
  assert.equal(j.recordCrawl('c1', [f('a'), f('shared')], []).length, 2)
  assert.deepEqual(j.recordCrawl('c2', [f('b'), f('shared')], [{ source: 'http://o/x', code: 'TRANSFER_NOT_FOUND', message: 'x missing' }]).map((r) => r.key), ['b'])
  j.record({ key: 'a', state: 'copied', size: 10, attempts: 1 })
  j.record({ key: 'shared', state: 'copied', size: 5, attempts: 2 })
  j.record({ key: 'a', state: 'verified' })
  j.close()
  const j2 = new Journal(file)
  assert.deepEqual(filesToCopy(j2).map((r) => r.key), ['b'])
  assert.deepEqual(filesToVerify(j2).map((r) => r.key), ['shared'])
  assert.deepEqual(classFiles(j2, 'c2').map((r) => r.key).sort(), ['b', 'shared'])
  // Verification: failures are journaled one by one, then every file still copied is marked verified at once.
  const j3 = new Journal(':memory:')
  j3.addClasses([{ id: 'c', source: 's' }])
  j3.recordCrawl('c', [f('ok'), f('bad'), f('todo')], [])
  j3.record({ key: 'ok', state: 'copied', size: 1, attempts: 1 })
  j3.record({ key: 'bad', state: 'copied', size: 1, attempts: 1 })
  j3.record({ key: 'bad', state: 'unverified', code: TRANSFER_CODES.VERIFY_MISSING, message: 'bad: not at the destination' })
  assert.equal(j3.markRemainingVerified(), 1)
  assert.deepEqual(classFiles(j3, 'c').map((r) => [r.key, r.state]).sort(), [['bad', 'failed'], ['ok', 'verified'], ['todo', 'pending']])
  j3.close()
  const report = buildReport({ run: 'r', destination: '/d', startedAt: new Date().toISOString(), classes: j2.classes().map((c) => ({ id: c.id, source: c.source, files: classFiles(j2, c.id), problems: classProblems(j2, c.id) })) })
  assert.equal(report.ok, false)
  assert.equal(report.classes[0]?.verified, 1)
  assert.deepEqual(report.classes[1]?.missing.map((m) => m.code).sort(), ['TRANSFER_NOT_FOUND', 'TRANSFER_PENDING', 'TRANSFER_COPIED'].sort())
  // A shared file counts in each class's line but once in the totals.
  assert.equal(report.totals.retries, 1)
  assert.equal(report.totals.files, 3)
  assert.equal(report.classes[0]?.retries, 1)
  assert.equal(report.classes[1]?.retries, 1)
  j2.close()
  assert.equal(deriveRunName(['b', 'a'], 'd'), deriveRunName(['a', 'b'], 'd'))
  assert.notEqual(deriveRunName(['a'], 'd'), deriveRunName(['a'], 'e'))
})

test('MeasureStream: counts, hashes (plain and S3 multipart ETag) and fails short or long bodies before they end', async () => {
  const body = Buffer.alloc(25, 1)
  const m = new MeasureStream({ expectedSize: 25, md5: true, partSize: 10 })
  await pipeline(Readable.from([body.subarray(0, 7), body.subarray(7)]), m, async function* (src) { for await (const _ of src) { /* drain */ } })
  assert.equal(m.bytes, 25)
  assert.equal(m.md5Hex, createHash('md5').update(body).digest('hex'))
  const parts = [body.subarray(0, 10), body.subarray(10, 20), body.subarray(20)].map((p) => createHash('md5').update(p).digest())
  assert.equal(m.multipartEtag, `${createHash('md5').update(Buffer.concat(parts)).digest('hex')}-3`)
  const short = new MeasureStream({ expectedSize: 30 })
  await assert.rejects(pipeline(Readable.from([body]), short, async function* (src) { for await (const _ of src) { /* drain */ } }), { code: TRANSFER_CODES.TRUNCATED })
})

test('isUnchanged: size plus origin validator, ETag or mtime', () => {
  assert.equal(isUnchanged({ size: 5, sourceEtag: '"x"' }, { size: 5, etag: '"x"' }), true)
  assert.equal(isUnchanged({ size: 5, sourceEtag: '"x"' }, { size: 5, etag: '"y"' }), false)
  assert.equal(isUnchanged({ size: 5, etag: 'abc' }, { size: 5, etag: '"abc"' }), true)
  assert.equal(isUnchanged({ size: 5, modified: 1000 }, { size: 5, modified: 1400 }), true)
  assert.equal(isUnchanged({ size: 4, modified: 1000 }, { size: 5, modified: 1000 }), false)
  assert.equal(isUnchanged({ size: 5 }, { size: 5 }), false)
})
