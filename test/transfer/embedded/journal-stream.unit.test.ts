// The embedded engine's journal-backed structures: the copy queue read a page at a time, the report built from SQL
// (same figures as the in-memory report model), the --report file streamed, key order as UTF-8 bytes.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import { makeTempDir } from '../../../support/services.ts'
import { Journal } from '../../../src/transfer/embedded/journal.ts'
import { JournalQueue } from '../../../src/transfer/embedded/journal-queue.ts'
import { reportFromJournal, writeJournalReport } from '../../../src/transfer/embedded/journal-report.ts'
import { compareUtf8 } from '../../../src/transfer/embedded/verify-run.ts'
import type { RunReport } from '../../../src/transfer/core/types.ts'
import { buildReport, classFiles, classProblems } from '../fixtures/report-model.ts'

const f = (key: string) => ({ source: `http://o/${key}`, key, kind: 'segment' as const })

test('journal queue: pages of the todo table in order, retries first, a withdrawn class skipped, backlog counted', () => {
  const j = new Journal(':memory:')
  j.addClasses([{ id: 'a', source: 'sa' }, { id: 'b', source: 'sb' }])
  const q = new JournalQueue(j, 2)
  q.added(j.addFiles('a', [f('a1'), f('a2'), f('a3')]))
  q.added(j.recordCrawl('b', [f('b1'), f('a1')], []).length)
  assert.equal(q.backlog, 4)
  const first = q.takeNow()
  assert.equal(first?.ref.key, 'a1')
  q.pushFront({ ...(first as NonNullable<typeof first>), attempts: 1 })
  assert.equal(q.takeNow()?.ref.key, 'a1')
  q.withdraw('a')
  assert.deepEqual([q.takeNow()?.ref.key, q.takeNow()], ['b1', undefined])
  assert.equal(q.backlog, 0)
  // Rows added later are found by the next take; a file already copied is not offered again.
  q.added(j.addFiles('b', [f('b2'), f('b3')]))
  j.record({ key: 'b2', state: 'copied', size: 1, attempts: 1 })
  assert.deepEqual([q.takeNow()?.ref.key, q.takeNow()], ['b3', undefined])
  j.close()
})

test('journal report: SQL figures equal the report model; over the cap a class lists the first files, the file names all', async (t) => {
  const dir = await makeTempDir()
  t.after(() => rm(dir, { recursive: true, force: true }))
  const j = new Journal(':memory:')
  j.addClasses([{ id: 'c1', source: 's1' }, { id: 'c2', source: 's2' }, { id: 'gone', source: 's3' }])
  j.recordCrawl('c1', [f('a'), f('shared'), f('m1'), f('m2'), f('m3')], [])
  j.recordCrawl('c2', [f('b'), f('shared')], [{ source: 'http://o/x', key: 'x', code: 'TRANSFER_NOT_FOUND', message: 'x missing' }])
  j.recordCrawl('gone', [], [{ source: 's3', code: 'TRANSFER_NOT_FOUND', message: 'no master' }], { reason: 'playlist-missing', message: 'no master' })
  for (const k of ['a', 'shared', 'b']) j.record({ key: k, state: 'copied', size: 10, attempts: k === 'shared' ? 3 : 1 })
  j.record({ key: 'a', state: 'verified' })
  j.record({ key: 'shared', state: 'verified' })
  j.record({ key: 'm1', state: 'failed', code: 'TRANSFER_HTTP_STATUS', message: 'm1: 500', attempts: 4 })
  const input = { dryRun: false, run: 'r', destination: '/d', startedAt: '2026-12-06T00:00:00.000Z' }
  const sql = reportFromJournal(j, input)
  const model = buildReport({ ...input, classes: j.classes().map((c) => ({ id: c.id, source: c.source, skipReason: c.skipReason, skipMessage: c.message, files: classFiles(j, c.id), problems: classProblems(j, c.id) })) })
  const strip = (r: RunReport): unknown => ({ ...r, finishedAt: '', classes: r.classes.map((c) => ({ ...c, missing: [...c.missing].sort((x, y) => x.key.localeCompare(y.key)) })) })
  assert.deepEqual(strip(sql), strip(model))
  // Capped at 2 missing per class: c1 has m1, m2, m3 missing.
  const capped = reportFromJournal(j, { ...input, maxMissing: 2 })
  const c1 = capped.classes.find((c) => c.id === 'c1')
  assert.equal(c1?.missing.length, 2)
  assert.equal(c1?.missingTotal, 3)
  const file = `${dir}/report.json`
  await writeJournalReport(file, capped, j)
  const written = await readFile(file, 'utf8')
  const full = { ...capped, classes: capped.classes.map(({ missingTotal: _t, ...c }) => (c.id === 'c1' ? { ...c, missing: model.classes[0]?.missing ?? [] } : c)) }
  assert.equal(written, `${JSON.stringify(full, null, 2)}\n`)
  j.close()
})

test('compareUtf8 orders keys as their UTF-8 bytes (S3 listings, sqlite), not as UTF-16 units', () => {
  const keys = ['b', 'a\u{1F600}', 'a\uFF01', 'a', 'ab', 'a~']
  const bytes = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
  assert.deepEqual([...keys].sort(compareUtf8), bytes)
  assert.notDeepEqual([...keys].sort(), bytes)
})
