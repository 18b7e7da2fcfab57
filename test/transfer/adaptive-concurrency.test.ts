// `--concurrency auto` in a real run: a real HTTP origin (node:http) that answers late (a far origin) or with 429
// above a number of requests at once, real copy workers, a real directory.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir } from '../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin } from './origin-fixture.ts'
import { runTransfer } from '../../src/transfer/embedded/engine.ts'
import type { LimitChange } from '../../src/transfer/core/adaptive-limit.ts'
import type { TransferEvents } from '../../src/transfer/core/events.ts'
import { TRANSFER_DEFAULTS } from '../../src/transfer/defaults.ts'

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

test('far origin (400 ms before each answer): the default doubles the copies in flight while goodput grows', { timeout: 60_000 }, async () => {
  origin.delayMs = 400
  origin.maxActive = 0
  const { report, changes } = await run('far')
  assert.equal(report.ok, true)
  assert.equal(report.totals.verified, origin.files.size)
  const start = TRANSFER_DEFAULTS.adaptive.initial
  assert.equal(report.concurrency?.mode, 'auto')
  // The first window at 64 copies doubles the limit; only a window at 128 that copied faster doubles it again.
  assert.ok((report.concurrency?.highest ?? 0) >= start * 4, `highest ${report.concurrency?.highest}; changes ${JSON.stringify(changes)}`)
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
