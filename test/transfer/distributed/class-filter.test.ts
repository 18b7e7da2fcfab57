// --include-class / --exclude-class on a distributed submit: two waves over one catalog copy disjoint classes
// (nginx origin, real Redis, the real CLI with its --local-worker), each report says what it filtered, and each wave
// is its own run, so submitting a wave again resumes it.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir, startNginx, startRedis, type Service } from '../../../support/services.ts'
import type { RunReport } from '../../../src/transfer/core/types.ts'
import { runCli } from '../integration/run-cli.ts'
import { compareTrees, writeLibrary, type LibraryFile } from './fixtures.ts'

let work: string
let nginx: Service
let redisSvc: Service
let files: LibraryFile[]
let catalog: string

before(async () => {
  work = await makeTempDir('colony-dist-filter-')
  const lib = await writeLibrary(path.join(work, 'origin'), { classes: 4, variants: 2, segments: 3 })
  files = lib.files
  nginx = await startNginx({ root: path.join(work, 'origin') })
  redisSvc = await startRedis()
  catalog = path.join(work, 'catalog.json')
  await writeFile(catalog, JSON.stringify(lib.catalog.map((c) => ({ id: `2024/${c.id}`, master: `${nginx.url}${c.path}` }))))
})
after(async () => {
  await nginx?.stop()
  await redisSvc?.stop()
  await rm(work, { recursive: true, force: true })
})

test('distributed: two filtered waves copy disjoint classes, report the filtered count, and resume by name', { timeout: 120_000 }, async () => {
  const prefix = `filter${Date.now()}`
  const dest = path.join(work, 'dest')
  const submit = async (filter: string[], report: string): Promise<{ stderr: string; report: RunReport }> => {
    const res = await runCli(['transfer', catalog, '--to', dest, '--redis', redisSvc.url, '--prefix', prefix, '--local-worker', '--report', report, ...filter], { cwd: work, timeoutMs: 90_000 })
    assert.equal(res.code, 0, res.stderr)
    return { stderr: res.stderr, report: JSON.parse(await readFile(report, 'utf8')) as RunReport }
  }
  const wave1 = await submit(['--include-class', '2024/class00[01]'], path.join(work, 'r1.json'))
  assert.deepEqual(wave1.report.classes.map((c) => [c.id, c.state]), [['2024/class000', 'verified'], ['2024/class001', 'verified']])
  assert.deepEqual(wave1.report.filtered, { classes: 2, include: ['2024/class00[01]'], exclude: [] })
  assert.deepEqual((await readdir(path.join(dest, 'lib'))).sort(), ['class000', 'class001'])

  const wave2 = await submit(['--exclude-class', '*/class00[01]'], path.join(work, 'r2.json'))
  assert.deepEqual(wave2.report.classes.map((c) => c.id), ['2024/class002', '2024/class003'])
  assert.equal(wave2.report.filtered?.classes, 2)
  assert.notEqual(wave1.report.run, wave2.report.run)
  assert.deepEqual(await compareTrees(path.join(work, 'origin'), dest, files), [], 'together the waves copied the whole library')

  const again = await submit(['--include-class', '2024/class00[01]'], path.join(work, 'r3.json'))
  assert.match(again.stderr, new RegExp(`resuming run ${wave1.report.run}`))

  const bad = await runCli(['transfer', catalog, '--to', dest, '--redis', redisSvc.url, '--prefix', prefix, '--include-class', '{a,b'], { cwd: work, timeoutMs: 30_000 })
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--include-class: class filter "\{a,b": unclosed \{/)
})
