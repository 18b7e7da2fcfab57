// --watch in the embedded engine, against a real HTTP origin whose library changes while the watch runs: a class
// added to the catalog and segments appended to a recording playlist reach the destination; verified segments are
// never fetched again; a stop and a rerun on the same journal resume; the CLI prints a line per cycle.
import { test, after, before } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { makeTempDir, waitFor } from '../../../support/services.ts'
import { buildLibrary, startFixtureOrigin, type FixtureOrigin } from '../fixtures/origin-fixture.ts'
import { spawnCli } from '../integration/run-cli.ts'
import { watchTransfer } from '../../../src/transfer/embedded/watch.ts'
import type { TransferEvents, WatchCycleEvent } from '../../../src/transfer/core/events.ts'

let origin: FixtureOrigin
let tmp: string
const M3U8 = 'application/vnd.apple.mpegurl'

before(async () => {
  origin = await startFixtureOrigin(buildLibrary(3, 3))
  tmp = await makeTempDir('colony-watch-')
})
after(async () => {
  await origin.stop()
  await rm(tmp, { recursive: true, force: true })
})

/** A recording class at /<name>/: a master and one media playlist without EXT-X-ENDLIST, with `n` segments. */
function startRecording(name: string, n: number): void {
  origin.files.set(`/${name}/master.m3u8`, { type: M3U8, body: Buffer.from('#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=500000\nv0/index.m3u8\n') })
  origin.files.set(`/${name}/v0/index.m3u8`, { type: M3U8, body: Buffer.from('#EXTM3U\n#EXT-X-TARGETDURATION:4\n') })
  record(name, 0, n)
}

/** Appends segments `from`…`to - 1` (and, with `end`, EXT-X-ENDLIST) to the recording's playlist. */
function record(name: string, from: number, to: number, end = false): void {
  let text = origin.files.get(`/${name}/v0/index.m3u8`)?.body.toString() ?? ''
  for (let s = from; s < to; s++) {
    origin.files.set(`/${name}/v0/s${s}.ts`, { type: 'video/mp2t', body: Buffer.alloc(900 + s, s) })
    text += `#EXTINF:4,\ns${s}.ts\n`
  }
  origin.files.set(`/${name}/v0/index.m3u8`, { type: M3U8, body: Buffer.from(end ? `${text}#EXT-X-ENDLIST\n` : text) })
}

const same = async (dest: string, p: string): Promise<boolean> => {
  const got = await readFile(path.join(dest, p)).catch(() => undefined)
  return got !== undefined && got.equals(origin.files.get(`/${p}`)?.body ?? Buffer.alloc(0))
}
const gets = (log: string[], re: RegExp): string[] => log.filter((l) => l.startsWith('GET ') && re.test(l))

test('watch (API): new catalog class and growing playlist copied, verified segments never refetched, stop and rerun resume', { timeout: 60_000 }, async () => {
  startRecording('live', 2)
  const catalog = path.join(tmp, 'catalog.ndjson')
  const entry = (id: string, p: string, status = 'ready'): string => JSON.stringify({ id, master: `${origin.url}${p}`, status })
  await writeFile(catalog, [entry('A', '/lib/c0/master.m3u8'), entry('LIVE', '/live/master.m3u8', 'recording')].join('\n'))
  const to = path.join(tmp, 'dest')
  const stateDir = path.join(tmp, 'state')
  const events = new EventEmitter<TransferEvents>()
  const cycles: WatchCycleEvent[] = []
  const copiedKeys: string[] = []
  events.on('cycle', (e) => cycles.push(e))
  events.on('copied', (e) => { if (!e.skipped) copiedKeys.push(e.key) })
  const controller = new AbortController()
  const options = { sources: [], catalogs: [catalog], to, stateDir, workers: 0, intervalMs: 100, events }
  const running = watchTransfer({ ...options, signal: controller.signal })
  try {
    await waitFor(async () => cycles.length > 0 && await same(to, 'lib/c0/ts/s2.ts') && await same(to, 'live/v0/index.m3u8') && await same(to, 'live/v0/s1.ts'),
      { timeoutMs: 20_000, message: 'first cycle: A and the recording so far at the destination' })
    assert.equal(cycles[0]?.recording, 1, 'the catalog\'s "recording" class is copied, not skipped')

    // The origin moves on: a class added to the catalog, two segments recorded.
    const mark = origin.log.length
    await appendFile(catalog, `\n${entry('B', '/lib/c1/master.m3u8')}`)
    record('live', 2, 4)
    await waitFor(async () => await same(to, 'lib/c1/fmp4/s2.m4s') && await same(to, 'live/v0/s3.ts') && await same(to, 'live/v0/index.m3u8'),
      { timeoutMs: 20_000, message: 'B and the two new segments at the destination, the playlist up to date' })
    const since = origin.log.slice(mark)
    assert.deepEqual(gets(since, /\/lib\/c0\//), [], 'a finished class is not crawled nor copied again')
    assert.deepEqual(gets(since, /\/live\/v0\/s[01]\.ts$/), [], 'verified segments of the recording are not fetched again')
    assert.equal(copiedKeys.filter((k) => k === 'live/master.m3u8').length, 1, 'an unchanged playlist is not copied again')
    assert.ok(copiedKeys.filter((k) => k === 'live/v0/index.m3u8').length >= 2, 'the changed playlist is copied again')
    assert.ok(cycles.some((c) => c.changedPlaylists > 0))
  } finally {
    controller.abort()
    await running.catch(() => undefined)
  }

  // Stopped. The recording ends meanwhile; one more cycle on the same journal picks up only what is new.
  record('live', 4, 5, true)
  const mark = origin.log.length
  const report = await watchTransfer({ ...options, maxCycles: 1 })
  assert.equal(report?.ok, true, JSON.stringify(report?.classes.map((c) => c.missing)))
  assert.equal(cycles.at(-1)?.recording, 0, 'the class is no longer recording')
  assert.ok(await same(to, 'live/v0/s4.ts'))
  assert.ok(await same(to, 'live/v0/index.m3u8'))
  assert.match(await readFile(path.join(to, 'live/v0/index.m3u8'), 'utf8'), /#EXT-X-ENDLIST/)
  const since = origin.log.slice(mark)
  assert.deepEqual(gets(since, /\/live\/v0\/s[0-3]\.ts$/), [], 'the rerun fetched no verified segment')
  assert.deepEqual(gets(since, /\/lib\//), [], 'nor anything of the finished classes')
  assert.deepEqual(report?.classes.map((c) => [c.id, c.state]), [['A', 'verified'], ['LIVE', 'verified'], ['B', 'verified']])
})

test('watch (CLI): `--watch 200ms` prints a line per cycle, copies a class added to the catalog, stops on SIGINT', { timeout: 60_000 }, async () => {
  const catalog = path.join(tmp, 'cli-catalog.ndjson')
  const entry = (id: string, c: number): string => JSON.stringify({ id, master: `${origin.url}/lib/c${c}/master.m3u8` })
  await writeFile(catalog, entry('X', 2))
  const to = path.join(tmp, 'cli-dest')
  const { child, done } = spawnCli(['transfer', '--catalog', catalog, '--to', to, '--state', path.join(tmp, 'cli-state'), '--workers', '0', '--watch', '200ms'], { cwd: tmp })
  let stdout = ''
  child.stdout?.on('data', (b: Buffer) => { stdout += b.toString() })
  try {
    await waitFor(() => /watch cycle 1 .*OK/.test(stdout), { timeoutMs: 30_000, message: 'a first cycle line' })
    await appendFile(catalog, `\n${entry('Y', 1)}`)
    await waitFor(async () => await same(to, 'lib/c1/fmp4/s2.m4s') && /classes 2 /.test(stdout), { timeoutMs: 20_000, message: 'the added class copied and counted' })
  } finally {
    child.kill('SIGINT')
  }
  const res = await done
  assert.ok(res.code === 0 || res.code === 130, `exit ${res.code}: ${res.stderr}`)
  assert.match(res.stderr, /stopping/)
  assert.match(stdout, /watch cycle \d+ .*\+\d+ files .*· files \d+\/\d+ verified/)
})

test('watch (API) on a directory source: each cycle re-lists it; a grown playlist and its new segment are copied, nothing else', { timeout: 30_000 }, async () => {
  const lib = path.join(tmp, 'dir-lib')
  await mkdir(path.join(lib, 'v0'), { recursive: true })
  let playlist = '#EXTM3U\n#EXT-X-TARGETDURATION:4\n'
  const addSegment = async (s: number): Promise<void> => {
    await writeFile(path.join(lib, 'v0', `s${s}.ts`), Buffer.alloc(500 + s, s))
    playlist += `#EXTINF:4,\ns${s}.ts\n`
    await writeFile(path.join(lib, 'v0', 'index.m3u8'), playlist)
  }
  await addSegment(0)
  await addSegment(1)
  const to = path.join(tmp, 'dir-dest')
  const events = new EventEmitter<TransferEvents>()
  const copied: string[] = []
  events.on('copied', (e) => { if (!e.skipped) copied.push(e.key) })
  const options = { sources: [lib], to, stateDir: path.join(tmp, 'dir-state'), workers: 0, intervalMs: 10, maxCycles: 1, events }
  assert.equal((await watchTransfer(options))?.ok, true)
  assert.deepEqual(copied.sort(), ['v0/index.m3u8', 'v0/s0.ts', 'v0/s1.ts'])
  copied.length = 0
  assert.equal((await watchTransfer(options))?.ok, true)
  assert.deepEqual(copied, [], 'nothing changed, nothing copied')
  await addSegment(2)
  const report = await watchTransfer(options)
  assert.equal(report?.ok, true)
  assert.deepEqual(copied.sort(), ['v0/index.m3u8', 'v0/s2.ts'], 'the new segment and the grown playlist only')
  assert.equal(await readFile(path.join(to, 'v0', 'index.m3u8'), 'utf8'), playlist)
  assert.equal(report?.totals.verified, 4)
})
