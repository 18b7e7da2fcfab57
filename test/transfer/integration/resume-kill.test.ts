// kill -9 in the middle of a run, then the same command again: it completes, and no file that was already
// at the destination is fetched from the origin a second time (proved by the origin's per-path GET counts).
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { after, before, test } from 'node:test'
import { generateSampleLibrary, startSampleOrigin, type SampleOrigin } from '../../../src/demo/transfer-sample/index.ts'
import { makeTempDir, waitFor } from '../../../support/services.ts'
import { readReport, runCli, spawnCli } from './run-cli.ts'

const lib = generateSampleLibrary({ classes: 4, varied: true, seed: 31, nonTransferable: false, defaults: { segments: 12, segmentSeconds: 2 } })
const MEDIA = /\.(ts|m4s|aac|mp4)$/
const CONCURRENCY = 4
let origin: SampleOrigin
let work: string

before(async () => {
  work = await makeTempDir('colony-it-resume-')
  // Slow media answers stretch the run so the kill lands in the middle of copying.
  origin = await startSampleOrigin({ library: lib, faults: { slowRate: 1, slowMs: 150, match: MEDIA } })
})
after(async () => {
  await origin?.stop()
  await rm(work, { recursive: true, force: true })
})

async function completeAtDestination(dest: string): Promise<Set<string>> {
  const done = new Set<string>()
  for (const f of lib.files.values()) {
    const got = await readFile(path.join(dest, f.path)).catch(() => undefined)
    if (got?.equals(lib.read(f.path))) done.add(f.path)
  }
  return done
}

test('kill -9 mid-run, run again: completes and re-copies nothing already copied', { timeout: 150_000 }, async () => {
  const dest = path.join(work, 'dest')
  const reportFile = path.join(work, 'report.json')
  const args = ['transfer', `${origin.url}/catalog.json`, '--to', dest, '--state', path.join(work, 'state'), '--concurrency', String(CONCURRENCY), '--report', reportFile]
  const media = [...lib.files.values()].filter((f) => MEDIA.test(f.path))

  const first = spawnCli(args, { cwd: work })
  const mediaGets = (): number => media.reduce((n, f) => n + origin.getsFor(f.path), 0)
  try {
    await waitFor(() => mediaGets() >= media.length * 0.4, { timeoutMs: 90_000, intervalMs: 20, message: '40% of the media requested' })
  } finally {
    first.child.kill('SIGKILL')
  }
  const killed = await first.done
  assert.equal(killed.signal, 'SIGKILL', 'the first run was killed, not finished')

  const doneAtKill = await completeAtDestination(dest)
  assert.ok(doneAtKill.size > 0 && doneAtKill.size < lib.files.size, `killed mid-run: ${doneAtKill.size}/${lib.files.size} files complete`)

  origin.resetStats()
  origin.setFaults(undefined)
  const second = await runCli(args, { cwd: work })
  assert.equal(second.code, 0, second.stderr + second.stdout)

  const refetched = [...doneAtKill].filter((p) => origin.getsFor(p) > 0)
  assert.deepEqual(refetched, [], 'no file complete at the destination was fetched again')
  const mediaLeft = media.filter((f) => !doneAtKill.has(f.path)).length
  assert.ok(mediaGets() <= mediaLeft, `second run fetched only what was missing (${mediaGets()} GETs for ${mediaLeft} missing media files)`)

  assert.equal((await completeAtDestination(dest)).size, lib.files.size, 'everything complete after the second run')
  const report = await readReport(reportFile)
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, lib.files.size)
})
