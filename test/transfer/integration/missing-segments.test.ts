// Segments a playlist references but the origin does not have: exit 1, and the report names each one
// under its class while the rest of the library is still copied and verified.
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { generateSampleLibrary, startSampleOrigin, type SampleOrigin } from '../../../src/demo/transfer-sample/index.ts'
import { makeTempDir } from '../../../support/services.ts'
import { readReport, runCli, spawnCli } from './run-cli.ts'

const lib = generateSampleLibrary({ classes: 3, varied: true, seed: 21, nonTransferable: false, defaults: { segments: 6 } })
const gone = [
  'vod/class-0001/360p/seg-00002.ts',
  'vod/class-0002/audio/fr/seg-00003.m4s',
  'vod/class-0002/240p/init.mp4',
]
let origin: SampleOrigin
let work: string

before(async () => {
  for (const p of gone) assert.ok(lib.files.has(p), `fixture has ${p}`)
  work = await makeTempDir('colony-it-missing-')
  origin = await startSampleOrigin({ library: lib, faults: { missing: gone } })
})
after(async () => {
  await origin?.stop()
  await rm(work, { recursive: true, force: true })
})

test('missing segments: exit 1, the report names them, everything else verified', { timeout: 90_000 }, async () => {
  const dest = path.join(work, 'dest')
  const reportFile = path.join(work, 'report.json')
  const masters = lib.classes.map((c) => `${origin.url}/${c.master}`)
  // --progress draws the bar on stderr without a TTY (its module is loaded only then).
  const r = await runCli(['transfer', ...masters, '--to', dest, '--state', path.join(work, 'state'), '--report', reportFile, '--progress'], { cwd: work })
  assert.equal(r.code, 1, r.stderr + r.stdout)
  for (const p of gone) assert.ok(r.stdout.includes(p), `terminal summary names ${p}:\n${r.stdout}`)
  assert.match(r.stderr, /\d+\/\d+ files \| .* failed \| (crawl|copy|verify|report)/, r.stderr)

  const report = await readReport(reportFile)
  assert.equal(report.ok, false)
  assert.equal(report.totals.missing, gone.length)
  const missing = report.classes.flatMap((c) => c.missing.map((m) => `${c.id}|${m.key}`)).sort()
  const byClass = (p: string): string => report.classes.find((c) => c.source.includes(p.split('/').slice(0, 2).join('/') + '/'))?.id ?? '?'
  assert.deepEqual(missing, gone.map((p) => `${byClass(p)}|${p}`).sort())
  assert.deepEqual(report.classes.map((c) => c.state).sort(), ['incomplete', 'incomplete', 'verified'])
  for (const c of report.classes) for (const m of c.missing) assert.match(m.code, /NOT_FOUND/)

  const total = lib.files.size
  assert.equal(report.totals.verified, total - gone.length)
  for (const f of lib.files.values()) {
    if (gone.includes(f.path)) continue
    assert.ok((await readFile(path.join(dest, f.path))).equals(lib.read(f.path)), f.path)
  }
})

test('missing segments with --json: the last NDJSON line is the done report naming them', { timeout: 90_000 }, async () => {
  const { done } = spawnCli(['transfer', `${origin.url}/${lib.classes[0]?.master ?? ''}`, '--to', path.join(work, 'dest-json'), '--state', path.join(work, 'state-json'), '--json'], { cwd: work })
  const r = await done
  assert.equal(r.code, 1, r.stderr)
  const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; report?: { ok: boolean; classes: Array<{ missing: Array<{ key: string }> }> } })
  const last = lines.at(-1)
  assert.equal(last?.type, 'done')
  assert.equal(last?.report?.ok, false)
  assert.deepEqual(last?.report?.classes.flatMap((c) => c.missing.map((m) => m.key)), [gone[0]])
  assert.ok(lines.some((l) => l.type === 'failed'), 'a failed event for the missing file')
})
