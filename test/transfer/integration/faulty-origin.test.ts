// An origin failing a fraction of requests every way CDNs do (5xx, 429 + Retry-After, resets, truncated
// bodies, slow answers): the run still ends with every file verified and byte-identical, and the catalog's
// non-transferable entries are skipped with their reasons.
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { generateSampleLibrary, startSampleOrigin, type SampleOrigin } from '../../../src/transfer/sample/index.ts'
import { makeTempDir } from '../../helpers/services.ts'
import { listTree, readReport, runCli } from './run-cli.ts'

const lib = generateSampleLibrary({ classes: 5, varied: true, seed: 11, defaults: { segments: 8, segmentSeconds: 2 } })
let origin: SampleOrigin
let work: string

before(async () => {
  work = await makeTempDir('colony-it-faulty-')
  origin = await startSampleOrigin({
    library: lib,
    // At most 2 faults per file, so 3 retries always suffice: what is tested is that they are used.
    faults: { errorRate: 0.1, throttleRate: 0.03, retryAfterSeconds: 1, resetRate: 0.05, truncateRate: 0.08, slowRate: 0.05, slowMs: 400, maxFaultsPerPath: 2, seed: 5 },
  })
})
after(async () => {
  await origin?.stop()
  await rm(work, { recursive: true, force: true })
})

test('faulty origin: every transferable file verified and byte-identical; skips reported with reasons', { timeout: 150_000 }, async () => {
  const dest = path.join(work, 'dest')
  const reportFile = path.join(work, 'report.json')
  const r = await runCli(['transfer', '--catalog', `${origin.url}/catalog.ndjson`, '--to', dest, '--state', path.join(work, 'state'), '--report', reportFile, '--retries', '3'],
    { cwd: work, timeoutMs: 140_000 })
  assert.equal(r.code, 0, r.stderr + r.stdout)
  const faults = origin.stats.faults
  assert.ok(faults.error > 0 && faults.reset > 0 && faults.truncate > 0 && faults.throttle > 0 && faults.slow > 0, `every fault kind happened: ${JSON.stringify(faults)}`)

  const expected = lib.transferableFiles()
  assert.deepEqual(await listTree(dest), expected.map((f) => f.path).sort(), 'exactly the transferable classes, nothing of the skipped ones')
  for (const f of expected) assert.ok((await readFile(path.join(dest, f.path))).equals(lib.read(f.path)), f.path)

  const report = await readReport(reportFile)
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, expected.length)
  assert.ok(report.totals.retries > 0, 'retries are counted in the report')
  const states = Object.fromEntries(report.classes.map((c) => [c.id, c.state === 'skipped' ? `skipped:${c.skipReason ?? ''}` : c.state]))
  assert.deepEqual(states, Object.fromEntries(lib.classes.map((c) => [c.id, c.transferable ? 'verified' : `skipped:${c.reason ?? ''}`])))
})
