// --include-class / --exclude-class in the embedded engine: the glob matcher, and a migration in two waves against a
// real HTTP origin (disjoint classes copied, the other wave's classes never fetched, each wave resuming its journal).
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin } from '../fixtures/origin-fixture.ts'
import { runCli } from '../integration/run-cli.ts'
import { journalPath, runTransfer } from '../../../src/transfer/embedded/engine.ts'
import { ClassFilter, compileGlob } from '../../../src/transfer/core/class-filter.ts'
import { TRANSFER_CODES } from '../../../src/transfer/errors.ts'

let origin: FixtureOrigin
let tmp: string

before(async () => {
  origin = await startFixtureOrigin(buildLibrary(4, 3))
  tmp = await makeTempDir('colony-class-filter-')
})
after(async () => {
  await origin.stop()
  await rm(tmp, { recursive: true, force: true })
})

const masters = (): string[] => [0, 1, 2, 3].map((i) => `${origin.url}/lib/c${i}/master.m3u8`)
const fetchedClasses = (log: string[]): string[] => [...new Set(log.map((l) => /\/lib\/(c\d)\//.exec(l)?.[1]).filter((c): c is string => c !== undefined))].sort()
async function topDirs(dir: string): Promise<string[]> {
  return (await readdir(path.join(dir, 'lib')).catch(() => [] as string[])).sort()
}

test('glob semantics: * stays within a segment, ** crosses, sets, braces, escapes; exclude beats include', () => {
  const m = (glob: string, id: string): boolean => compileGlob(glob).test(id)
  assert.equal(m('lib/*/master.m3u8', 'lib/c0/master.m3u8'), true)
  assert.equal(m('lib/*', 'lib/c0/master.m3u8'), false, '* does not cross /')
  assert.equal(m('lib/**', 'lib/c0/master.m3u8'), true)
  assert.equal(m('**/master.m3u8', 'a/b/c/master.m3u8'), true)
  assert.equal(m('2024-0?', '2024-03'), true)
  assert.equal(m('c[0-2]', 'c3'), false)
  assert.equal(m('c[!0-2]', 'c3'), true)
  assert.equal(m('c[!0-2]', 'c/'), false, 'a negated set never matches /')
  assert.equal(m('{2023,2024}/**', '2024/x/y'), true)
  assert.equal(m('{2023,2024}/**', '2025/x'), false)
  assert.equal(m('a\\*b', 'a*b'), true)
  assert.equal(m('a\\*b', 'axb'), false)
  assert.equal(m('a.b', 'axb'), false, 'regex characters are literal')
  assert.equal(m('s3://old/**', 's3://old/hls/'), true)
  assert.equal(m('Lib/**', 'lib/x'), false, 'case-sensitive')
  for (const bad of ['[ab', '{a,b', 'x\\']) assert.throws(() => compileGlob(bad), (e: Error & { code?: string }) => e.code === TRANSFER_CODES.BAD_FILTER)
  const f = new ClassFilter({ include: ['lib/**'], exclude: ['**/c1/**'] })
  assert.deepEqual(['lib/c0/m', 'lib/c1/m', 'other/c0'].map((id) => f.selects(id)), [true, false, false])
  assert.equal(new ClassFilter({ exclude: ['x'] }).selects('y'), true, 'no include: everything not excluded')
  assert.equal(new ClassFilter({ include: ['b', 'a'] }).identity(), new ClassFilter({ include: ['a', 'b'] }).identity(), 'order does not name a different run')
})

test('two waves copy disjoint classes, report what they filtered, and each resumes its own journal', { timeout: 60_000 }, async () => {
  const to = path.join(tmp, 'waves')
  const stateDir = path.join(tmp, 'state-waves')
  const wave1 = { include: ['lib/c[01]/**'] }
  const wave2 = { exclude: ['lib/c[01]/**'] }
  origin.log.length = 0
  const r1 = await runTransfer({ sources: masters(), to, stateDir, workers: 0, classFilter: wave1 })
  assert.equal(r1.ok, true)
  assert.deepEqual(r1.classes.map((c) => c.id), ['lib/c0/master.m3u8', 'lib/c1/master.m3u8'])
  assert.deepEqual(r1.filtered, { classes: 2, include: ['lib/c[01]/**'], exclude: [] })
  assert.deepEqual(fetchedClasses(origin.log), ['c0', 'c1'], 'filtered-out classes are not even crawled')
  assert.deepEqual(await topDirs(to), ['c0', 'c1'])

  origin.log.length = 0
  const r2 = await runTransfer({ sources: masters(), to, stateDir, workers: 0, classFilter: wave2 })
  assert.equal(r2.ok, true)
  assert.deepEqual(r2.classes.map((c) => c.id), ['lib/c2/master.m3u8', 'lib/c3/master.m3u8'])
  assert.equal(r2.filtered?.classes, 2)
  assert.deepEqual(fetchedClasses(origin.log), ['c2', 'c3'])
  assert.deepEqual(await topDirs(to), ['c0', 'c1', 'c2', 'c3'])
  assert.notEqual(r1.run, r2.run, 'each wave has its own journal')
  assert.notEqual(r1.run, journalPath({ sources: masters(), to }).run, 'and neither is the unfiltered run')
  assert.equal(journalPath({ sources: masters(), to, classFilter: { exclude: [] } }).run, journalPath({ sources: masters(), to }).run, 'empty filters name the unfiltered run')

  // Wave 1 again: its journal says everything is verified, so nothing is fetched.
  origin.log.length = 0
  const again = await runTransfer({ sources: masters(), to, stateDir, workers: 0, classFilter: wave1 })
  assert.equal(again.run, r1.run)
  assert.equal(again.totals.verified, r1.totals.verified)
  assert.deepEqual(origin.log, [])
})

test('catalog ids with /: filters apply to set-aside entries too; CLI summary and usage errors', { timeout: 60_000 }, async () => {
  const catalog = path.join(tmp, 'catalog.ndjson')
  const entry = (id: string, c: number, status = 'ready'): string => JSON.stringify({ id, master: `${origin.url}/lib/c${c}/master.m3u8`, status })
  await writeFile(catalog, [entry('2024/a', 0), entry('2024/b', 1), entry('2025/a', 2), entry('2025/t', 3, 'test')].join('\n'))
  const to = path.join(tmp, 'cat')
  const report = await runTransfer({ sources: [], catalogs: [catalog], to, stateDir: path.join(tmp, 'state-cat'), workers: 0, classFilter: { include: ['2024/*', '2025/*'], exclude: ['*/b'] } })
  assert.deepEqual(report.classes.map((c) => [c.id, c.state]), [['2024/a', 'verified'], ['2025/a', 'verified'], ['2025/t', 'skipped']])
  assert.equal(report.filtered?.classes, 1)

  const cwd = tmp
  const res = await runCli(['transfer', '--catalog', catalog, '--to', path.join(tmp, 'cli'), '--state', path.join(tmp, 'state-cli'), '--workers', '0', '--include-class', '2024/**', '--report', path.join(tmp, 'cli.json')], { cwd, timeoutMs: 60_000 })
  assert.equal(res.code, 0, res.stderr)
  assert.match(res.stdout, /classes 2 \(0 skipped, 2 filtered out\)/)
  const bad = await runCli(['transfer', '--catalog', catalog, '--to', path.join(tmp, 'cli'), '--exclude-class', 'lib/[c0'], { cwd, timeoutMs: 30_000 })
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /--exclude-class: class filter "lib\/\[c0": unclosed \[/)
  assert.equal(bad.stderr.trim().split('\n').length, 1, 'one line')
})
