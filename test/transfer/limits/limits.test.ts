// --bwlimit and --max-rps in the embedded engine, measured at a real origin: over two copy threads and the crawling
// thread together, no one-second window carries more than the rate plus the burst, plus what socket buffers hold
// ahead of the throttled readers (a connection holds at most the one response it carries: a segment).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runNodeFile } from '../../helpers/node-child.ts'
import { makeTempDir } from '../../../support/services.ts'
import { runTransfer } from '../../../src/transfer/embedded/engine.ts'
import { byteBurst } from '../../../src/transfer/core/limits/rate-limit.ts'
import { maxInWindow, startMeteredOrigin, type MeteredOrigin } from '../fixtures/metered-origin.ts'

const BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))
const SEED = 20261206
const SEGMENT = 50_000
let origin: MeteredOrigin
let tmp: string

before(async () => {
  origin = await startMeteredOrigin({ segments: 60, bytes: SEGMENT, seed: SEED })
  tmp = await makeTempDir('colony-limits-')
})
after(async () => {
  await origin?.stop()
  await rm(tmp, { recursive: true, force: true })
})

const reset = (): void => { origin.requests.length = 0; origin.sent.length = 0; origin.connections = 0 }

test('--bwlimit 1M over two copy threads: no second at the origin above 1 MB + burst', { timeout: 60_000 }, async () => {
  reset()
  const concurrency = 2
  const t0 = performance.now()
  const report = await runTransfer({ sources: [origin.playlist], to: path.join(tmp, 'bw'), stateDir: path.join(tmp, 'state'), workers: 2, concurrency, bwlimit: '1M' })
  const took = performance.now() - t0
  assert.equal(report.ok, true)
  const total = origin.sent.reduce((a, [, n]) => a + n, 0)
  assert.ok(total >= 60 * SEGMENT)
  const peak = maxInWindow(origin.sent)
  const bound = 1_000_000 + byteBurst(1_000_000) + origin.connections * SEGMENT
  assert.ok(peak <= bound, `seed ${SEED}: ${peak} bytes left the origin in one second (bound ${bound}, ${origin.connections} connections)`)
  // 3 MB at 1 MB/s: paced, not copied at once.
  assert.ok(took >= (total - byteBurst(1_000_000)) / 1000 - 300, `${total} bytes in ${Math.round(took)} ms`)
})

test('--max-rps 20 over two copy threads: no second at the origin with more than 20 requests (+ burst and jitter)', { timeout: 60_000 }, async () => {
  reset()
  const t0 = performance.now()
  const report = await runTransfer({ sources: [origin.playlist], to: path.join(tmp, 'rps'), stateDir: path.join(tmp, 'state'), workers: 2, concurrency: 8, maxRps: 20 })
  const took = performance.now() - t0
  assert.equal(report.ok, true)
  assert.ok(origin.requests.length >= 61) // the playlist (crawling counts) and 60 segments
  const peak = maxInWindow(origin.requests.map((t) => [t, 1]))
  // 20 + the burst of 1, + 1 for arrival jitter (a new connection's handshake, this process's own event loop).
  assert.ok(peak <= 22, `seed ${SEED}: ${peak} requests in one second`)
  assert.ok(took >= 2800, `61 requests at 20/s took ${Math.round(took)} ms`)
})

const colony = (args: string[]): ReturnType<typeof runNodeFile> => runNodeFile(BIN, args, 30_000)

test('a malformed rate, timetable or --max-rps: one line, exit 2, nothing fetched or journaled', { timeout: 60_000 }, async () => {
  reset()
  const state = path.join(tmp, 'bad-state')
  for (const bad of [['--bwlimit', '5'], ['--bwlimit', '19:00,off 08:00,20M'], ['--bwlimit', '08:00,fast'], ['--max-rps', '0'], ['--max-rps=-2']]) {
    const res = await colony(['transfer', origin.playlist, '--to', path.join(tmp, 'bad'), '--state', state, ...bad])
    assert.equal(res.code, 2, `${bad.join(' ')}: ${res.stderr}`)
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
    assert.match(res.stderr, /bwlimit|max-rps/)
  }
  assert.equal(origin.requests.length, 0)
  assert.equal(existsSync(state), false)
})
