// `--concurrency auto` in a real run: a real HTTP origin (node:http) that answers late (a far origin) or with 429
// above a number of requests at once, real copy workers, a real directory.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin } from '../fixtures/origin-fixture.ts'
import { runTransfer } from '../../../src/transfer/embedded/engine.ts'
import type { LimitChange } from '../../../src/transfer/core/limits/adaptive-limit.ts'
import type { TransferEvents } from '../../../src/transfer/core/events.ts'
import { TRANSFER_DEFAULTS } from '../../../src/transfer/defaults.ts'
import { formatSummary } from '../../../src/transfer/core/report.ts'
import { parseTransferArgs } from '../../../src/cli/transfer-command.ts'

let origin: FixtureOrigin
let tmp: string
const CLASSES = 4

before(async () => {
  origin = await startFixtureOrigin(buildLibrary(CLASSES, 120))
  tmp = await makeTempDir('colony-transfer-adaptive-')
})
after(async () => {
  await origin.stop()
  await rm(tmp, { recursive: true, force: true })
})

const masters = (): string[] => Array.from({ length: CLASSES }, (_, i) => `${origin.url}/lib/c${i}/master.m3u8`)

async function run(name: string, concurrency?: number): Promise<{ report: Awaited<ReturnType<typeof runTransfer>>; changes: LimitChange[] }> {
  const events = new EventEmitter<TransferEvents>()
  const changes: LimitChange[] = []
  events.on('concurrency', (c) => changes.push(c))
  const report = await runTransfer({ sources: masters(), to: path.join(tmp, name), stateDir: path.join(tmp, `state-${name}`), workers: 1, retryBaseMs: 5, retries: 20, events, ...(concurrency ? { concurrency } : {}) })
  return { report, changes }
}

test('far origin (400 ms before each answer): the default grows the copies in flight while goodput grows', { timeout: 60_000 }, async () => {
  origin.delayMs = 400
  origin.maxActive = 0
  const { report, changes } = await run('far')
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, origin.files.size)
  const start = TRANSFER_DEFAULTS.adaptive.initial
  assert.equal(report.concurrency?.mode, 'auto')
  // Slow start: each finished copy adds one, so the limit doubles per 400 ms round; 4x the start takes two rounds
  // that copied faster than the one before (a single slower round, the CPU taken by other work, ends nothing).
  const why = `highest ${report.concurrency?.highest}; changes ${JSON.stringify(changes)}`
  assert.ok((report.concurrency?.highest ?? 0) >= start * 4, why)
  const grows = changes.filter((c) => c.reason === 'grow')
  assert.ok(grows.length >= 2 && grows.every((c) => c.limit <= 2 * c.previous + 1), `at most a doubling per round: ${why}`)
  assert.ok(changes.every((c) => c.limit >= TRANSFER_DEFAULTS.adaptive.min && c.limit <= TRANSFER_DEFAULTS.adaptive.max))
})

test('429 above 40 requests at once: the limit backs off once per window, not once per 429, and every file is copied', { timeout: 60_000 }, async () => {
  origin.delayMs = 50
  origin.maxActive = 40
  const before = origin.throttled
  const { report, changes } = await run('throttled')
  const throttled = origin.throttled - before
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, origin.files.size)
  const overloads = changes.filter((c) => c.reason === 'overload')
  assert.ok(throttled > 0 && overloads.length > 0, `429s ${throttled}, changes ${JSON.stringify(changes)}`)
  assert.ok(overloads.length * 5 < throttled, `${overloads.length} back-offs for ${throttled} 429s`)
  assert.ok((report.concurrency?.lowest ?? 0) >= 16, `the limit collapsed to ${report.concurrency?.lowest}`)
})

test('--concurrency N pins the copies in flight: no adaptation', { timeout: 60_000 }, async () => {
  origin.delayMs = 20
  origin.maxActive = 0
  const { report, changes } = await run('pinned', 16)
  assert.equal(report.ok, true)
  assert.deepEqual(changes, [])
  assert.deepEqual(report.concurrency, { mode: 'fixed', limit: 16 })
})

test('CLI: --concurrency is auto by default, a number pins it, anything else is a usage error', () => {
  const base = ['http://127.0.0.1:1/m.m3u8', '--to', path.join(tmp, 'cli')]
  assert.equal(parseTransferArgs(base, {}).options.concurrency, 'auto')
  assert.equal(parseTransferArgs([...base, '--concurrency', 'auto'], {}).options.concurrency, 'auto')
  assert.equal(parseTransferArgs([...base, '--concurrency', '32'], {}).options.concurrency, 32)
  assert.equal(parseTransferArgs(base, { COLONY_CONCURRENCY: '48' }).options.concurrency, 48)
  assert.equal(parseTransferArgs([...base, '--concurrency-max', '200'], {}).options.concurrencyMax, 200)
  for (const bad of ['0', '-3', '2.5', 'fast']) assert.throws(() => parseTransferArgs([...base, '--concurrency', bad], {}), { code: 'COLONY_USAGE' }, bad)
})

test('the summary names the adaptive limit and its range', () => {
  const report = { run: 'r', destination: 'd', startedAt: '2026-12-06T00:00:00Z', finishedAt: '2026-12-06T00:00:01Z', ok: true,
    totals: { classes: 0, files: 0, verified: 0, skippedPresent: 0, bytes: 0, retries: 0, missing: 0, skippedClasses: 0 }, classes: [],
    concurrency: { mode: 'auto' as const, limit: 243, lowest: 64, highest: 512 } }
  assert.match(formatSummary(report), /concurrency auto: 243 copies in flight at the end \(64–512 during the run\)/)
})
