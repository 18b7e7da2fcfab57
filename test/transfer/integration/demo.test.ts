// `colony demo`'s transfer part must work on a bare machine: sample origin up, library copied and verified
// despite the injected faults, the skipped catalog entries explained, the report written where it says.
import assert from 'node:assert/strict'
import { readFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { test } from 'node:test'
import { runTransferDemo } from '../../../src/demo/transfer.ts'
import type { RunReport } from '../../../src/transfer/core/types.ts'
import { makeTempDir } from '../../../support/services.ts'
import { listTree } from './run-cli.ts'

test('runTransferDemo copies and verifies the sample library and says where to look', { timeout: 90_000 }, async () => {
  const work = await makeTempDir('colony-it-demo-')
  try {
    const out = path.join(work, 'colony-demo')
    const lines: string[] = []
    const { ok, report } = await runTransferDemo({ outDir: out, log: (l) => lines.push(l) })
    const text = lines.join('\n')
    assert.equal(ok, true, text)
    const r = report as RunReport
    assert.equal(r.totals.missing, 0)
    assert.ok(r.totals.verified > 100, `a few hundred files: ${r.totals.verified}`)
    assert.equal(r.totals.skippedClasses, 5)
    const files = await listTree(out)
    assert.ok(files.includes('colony-transfer-report.json'))
    assert.equal(files.filter((f) => f.startsWith('vod/')).length, r.totals.verified)
    assert.match(text, /where to look/)
    assert.ok(text.includes(path.join(out, 'colony-transfer-report.json')))
    assert.match(text, /skipped aborted-0001 \(aborted\)/)
    const saved = JSON.parse(await readFile(path.join(out, 'colony-transfer-report.json'), 'utf8')) as RunReport
    assert.equal(saved.ok, true)
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})

test('runTransferDemo --json mode logs NDJSON events only, ending with the done report', { timeout: 90_000 }, async () => {
  const work = await makeTempDir('colony-it-demo-json-')
  try {
    const lines: string[] = []
    const { ok } = await runTransferDemo({ outDir: path.join(work, 'out'), json: true, log: (l) => lines.push(l), classes: 2 })
    assert.equal(ok, true)
    const events = lines.map((l) => JSON.parse(l) as { type: string })
    assert.equal(events.at(-1)?.type, 'done')
    assert.ok(events.some((e) => e.type === 'copied'))
  } finally {
    await rm(work, { recursive: true, force: true })
  }
})
