// Streaming crawl: a finished media playlist's segments are copied while the rest of its class, and of the run, is
// still being crawled. The origin holds some playlists back until the first copy has happened, so the order of
// events proves the overlap without timing anything (a deadline only turns a missing overlap into a failure).
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin } from '../fixtures/origin-fixture.ts'
import { runTransfer } from '../../../src/transfer/embedded/engine.ts'
import type { TransferEvents } from '../../../src/transfer/core/events.ts'

let origin: FixtureOrigin
let tmp: string

before(async () => {
  origin = await startFixtureOrigin(buildLibrary(2, 6))
  tmp = await makeTempDir('colony-transfer-streaming-')
})
after(async () => {
  await origin.stop()
  await rm(tmp, { recursive: true, force: true })
})

type Seen = { type: keyof TransferEvents; classId?: string; key?: string }

/** Records events in order; `firstCopy` settles at the first copy, or after 15 s so that a run without overlap ends. */
function record(events: EventEmitter<TransferEvents>): { seen: Seen[]; firstCopy: Promise<unknown>; index: (type: string, classId?: string) => number } {
  const seen: Seen[] = []
  for (const type of ['playlist-parsed', 'first-copy', 'copied', 'discovered', 'class-skipped'] as const) {
    events.on(type, (e: { classId: string; key?: string }) => { seen.push({ type, classId: e.classId, ...(e.key ? { key: e.key } : {}) }) })
  }
  let timer: NodeJS.Timeout | undefined
  const firstCopy = new Promise((resolve) => { events.once('copied', resolve); timer = setTimeout(resolve, 15_000) }).finally(() => clearTimeout(timer))
  return { seen, firstCopy, index: (type, classId) => seen.findIndex((s) => s.type === type && (classId === undefined || s.classId === classId)) }
}

test('streaming crawl: copying starts while a class and the run are still being crawled', { timeout: 60_000 }, async () => {
  const events = new EventEmitter<TransferEvents>()
  const { seen, firstCopy, index } = record(events)
  // c0's second variant and c1's master come only after something was copied.
  origin.holds.set('/lib/c0/fmp4/index.m3u8', firstCopy)
  origin.holds.set('/lib/c1/master.m3u8', firstCopy)
  try {
    const report = await runTransfer({ sources: [`${origin.url}/lib/c0/master.m3u8`, `${origin.url}/lib/c1/master.m3u8`], to: path.join(tmp, 'overlap'), stateDir: path.join(tmp, 'state-overlap'), workers: 0, concurrency: 4, events })
    assert.equal(report.ok, true, JSON.stringify(report.classes.map((c) => c.missing)))
    assert.equal(report.totals.verified, origin.files.size)
    const copy = index('copied')
    assert.ok(index('playlist-parsed') < index('first-copy') && index('first-copy') < copy, 'a playlist is parsed, then a copy starts, then ends')
    assert.match(seen[copy]?.key ?? '', /^lib\/c0\/(ts\/s\d+\.ts|keys\/k\.key)$/, 'the first copy is a file of the first finished playlist')
    assert.ok(copy < index('discovered', 'lib/c0/master.m3u8'), 'the first copy precedes the end of its own class crawl')
    assert.ok(copy < index('discovered', 'lib/c1/master.m3u8'), 'the first copy precedes the end of the last class crawl')
    // A class's playlists are copied once the whole class is known to be finished.
    const master = seen.findIndex((s) => s.type === 'copied' && s.key === 'lib/c0/master.m3u8')
    assert.ok(master > index('discovered', 'lib/c0/master.m3u8'))
  } finally {
    origin.holds.clear()
  }
})

test('streaming crawl: a class found recording after one of its playlists was queued copies none of its playlists and is skipped', { timeout: 60_000 }, async () => {
  const events = new EventEmitter<TransferEvents>()
  const { seen, firstCopy } = record(events)
  const live = '/lib/c0/fmp4/index.m3u8'
  const finished = origin.files.get(live)
  assert.ok(finished)
  origin.files.set(live, { ...finished, body: Buffer.from(finished.body.toString().replace('#EXT-X-ENDLIST\n', '')) })
  origin.holds.set(live, firstCopy)
  // The second segment is answered only once the class is skipped: what was queued behind it must not be copied.
  origin.holds.set('/lib/c0/ts/s1.ts', new Promise((resolve) => events.once('class-skipped', resolve)))
  try {
    const report = await runTransfer({ sources: [`${origin.url}/lib/c0/master.m3u8`], to: path.join(tmp, 'recording'), stateDir: path.join(tmp, 'state-recording'), workers: 0, concurrency: 1, events })
    assert.equal(report.classes[0]?.state, 'skipped')
    assert.equal(report.classes[0]?.skipReason, 'recording')
    assert.equal(report.ok, true)
    const copied = seen.filter((s) => s.type === 'copied').map((s) => s.key ?? '')
    // The finished playlist's files were streamed before the recording one was read; its queued segments were
    // withdrawn (the one in flight completes); no playlist of the class was copied.
    // With one copy at a time, s0 is taken as the key's copy completes, s1 (if taken before the skip) is held until it.
    const got = new Set(copied)
    assert.ok(got.has('lib/c0/keys/k.key') && got.has('lib/c0/ts/s0.ts'), copied.join(' '))
    assert.deepEqual(copied.filter((k) => !['lib/c0/keys/k.key', 'lib/c0/ts/s0.ts', 'lib/c0/ts/s1.ts'].includes(k)), [])
  } finally {
    origin.holds.clear()
    origin.files.set(live, finished)
  }
})
