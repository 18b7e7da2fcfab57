// colony's own engine at the engine level: a super-seeding leader and its followers, the upload cap for the whole
// agent, the rule two agents use to keep one of two crossed connections.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { pino } from 'pino'
import { createSilentLogger, type Logger } from '../../../src/shared/logger.ts'
import type { EngineTorrent, SwarmEngine } from '../../../src/swarm/engines/engine.ts'
import { keepsNewConnection } from '../../../src/swarm/engines/native/peer.ts'
import { PEER_ID_PREFIX } from '../../../src/swarm/wire-format.ts'
import { startNativeEngine, uploadBurst } from '../../../src/swarm/engines/native/engine.ts'
import { buildTorrentFile, PieceHasher } from '../../../src/swarm/torrent-file.ts'
import { END_GAME_AFTER_MS, END_GAME_PIECES, END_GAME_SLOW_FACTOR, endGameAfterMs, pickEndGame } from '../../../src/swarm/engines/native/pieces/piece-picker.ts'
import { makeTempDir, waitFor } from '../../../support/services.ts'
import { startTracker, type Tracker } from '../swarm-fixtures.ts'

const PIECE = 64 * 1024

function whenDone(t: EngineTorrent): Promise<void> {
  return new Promise((resolve, reject) => {
    if (t.status().complete) { resolve(); return }
    t.once('done', () => resolve())
    t.once('error', reject)
  })
}

describe('native engine', { timeout: 60_000 }, () => {
  let dir: string
  let tracker: Tracker
  const engines: SwarmEngine[] = []
  const engine = async (uploadLimit = 0, log: Logger = createSilentLogger()): Promise<SwarmEngine> => {
    const e = await startNativeEngine({ listenPort: 0, uploadLimit, downloadLimit: 0, dataDir: dir, log })
    engines.push(e)
    return e
  }
  const object = async (size: number): Promise<{ data: Buffer; torrent: Buffer; infoHash: string }> => {
    const data = randomBytes(size)
    const h = new PieceHasher(PIECE)
    h.update(data)
    const { torrent, parsed } = await buildTorrentFile({ name: 'obj.bin', length: size, pieceLength: PIECE, pieces: h.finish().pieces, announce: [tracker.announce] })
    return { data, torrent, infoHash: parsed.infoHash }
  }
  const seedDir = async (name: string, data?: Buffer): Promise<string> => {
    const d = path.join(dir, name)
    await mkdir(d, { recursive: true })
    if (data) await writeFile(path.join(d, 'obj.bin'), data)
    return d
  }

  before(async () => {
    dir = await makeTempDir('colony-native-engine-')
    tracker = await startTracker()
  })
  after(async () => {
    for (const e of engines) await e.close()
    await tracker.close()
    await rm(dir, { recursive: true, force: true })
  })

  test('a super-seeding leader (pieces revealed a few at a time) completes three followers byte-identical, uploading about one copy', async () => {
    const size = 4 * 1024 * 1024 + 999
    const { data, torrent, infoHash } = await object(size)
    const leader = await engine(2 * 1024 * 1024)
    const seed = await leader.add(torrent, infoHash, { dir: await seedDir('leader', data), complete: true, superSeed: true, trackers: [] })
    const followers = await Promise.all([0, 1, 2].map(async (i) => {
      const e = await engine(2 * 1024 * 1024)
      return e.add(torrent, infoHash, { dir: await seedDir(`f${i}`), complete: false, trackers: [] })
    }))
    await Promise.all(followers.map(whenDone))
    for (let i = 0; i < 3; i++) assert.ok((await readFile(path.join(dir, `f${i}`, 'obj.bin'))).equals(data), `follower ${i} has the object`)
    const up = seed.status().uploaded
    // The followers see only what the leader revealed to each, so they must trade the rest among themselves.
    assert.ok(up >= size && up < 1.6 * size, `leader uploaded ${(up / size).toFixed(2)} × the object`)
    const traded = followers.reduce((a, f) => a + f.status().uploaded, 0)
    assert.ok(traded >= 3 * size - up, `followers uploaded ${traded} to each other`)
  })

  test('the upload cap holds for the agent as a whole', async () => {
    const size = 3 * 1024 * 1024
    const { data, torrent, infoHash } = await object(size)
    const rate = 1024 * 1024
    const seeder = await engine(rate)
    await seeder.add(torrent, infoHash, { dir: await seedDir('capped', data), complete: true, trackers: [] })
    const started = performance.now()
    const leechers = await Promise.all([0, 1].map(async (i) => (await engine()).add(torrent, infoHash, { dir: await seedDir(`l${i}`), complete: false, trackers: [] })))
    await Promise.all(leechers.map(whenDone))
    const seconds = (performance.now() - started) / 1000
    // The two leechers share one seeder capped at 1 MiB/s; they also trade with each other (uncapped), so the
    // seeder had to send the object once at least: ≥ size / rate minus the bucket's burst.
    assert.ok(seconds >= (size - uploadBurst(rate)) / rate, `done in ${seconds.toFixed(2)} s, faster than the cap allows`)
  })

  test('a seed waits to be dialled: two seeds of a torrent never connect, a leecher still gets it from them', async () => {
    const size = 2 * 1024 * 1024 + 7
    const { data, torrent, infoHash } = await object(size)
    const dials: string[] = []
    const dialsOf = (name: string): Logger => pino({ level: 'debug' }, { write: (line: string) => { if (line.includes('"dialing peer"')) dials.push(name) } })
    // Seeds the tracker knows of, from its scrape: b's announce answer names a (b dialled it before a seed waited).
    const scrapeUrl = `${tracker.announce.replace(/\/announce$/, '/scrape')}?info_hash=${infoHash.replace(/../g, '%$&')}`
    const seeds = async (): Promise<number> => Number(/8:completei(\d+)e/.exec(await (await fetch(scrapeUrl)).text())?.[1] ?? 0)
    await (await engine(0, dialsOf('a'))).add(torrent, infoHash, { dir: await seedDir('seed-a', data), complete: true, trackers: [tracker.announce] })
    await waitFor(async () => (await seeds()) >= 1, { message: 'seed a announced' })
    await (await engine(0, dialsOf('b'))).add(torrent, infoHash, { dir: await seedDir('seed-b', data), complete: true, trackers: [tracker.announce] })
    await waitFor(async () => (await seeds()) >= 2, { message: 'seed b announced' })
    const leecher = await (await engine()).add(torrent, infoHash, { dir: await seedDir('leech-c'), complete: false, trackers: [tracker.announce] })
    await whenDone(leecher)
    assert.ok((await readFile(path.join(dir, 'leech-c', 'obj.bin'))).equals(data), 'the leecher has the object')
    assert.deepEqual(dials, [], 'no seed dialled anyone')
  })

  test('end game: a piece one other peer is sending, among the last few or when it has been on its way long for this torrent', () => {
    const now = 100_000
    const fresh = { at: now - 100 }
    const old = { at: now - END_GAME_AFTER_MS - 1 }
    const me = 'me'
    const active = (entries: [number, Map<string, { at: number }>][]): Map<number, Map<string, { at: number }>> => new Map(entries)
    const all = (): boolean => true
    // Five fresh pieces on their way elsewhere: too early.
    const five = active([0, 1, 2, 3, 4].map((i) => [i, new Map([['other', fresh]])]))
    assert.equal(pickEndGame(five, me, all, now), -1)
    // One of them on its way for long: that one.
    five.set(3, new Map([['other', old]]))
    assert.equal(pickEndGame(five, me, all, now), 3)
    // The last END_GAME_PIECES: any, but not one we already fetch, one two peers send, or one we do not want.
    const last = active([[7, new Map([['me', fresh]])], [8, new Map([['a', fresh], ['b', fresh]])], [9, new Map([['c', fresh]])], [10, new Map([['d', fresh]])]])
    assert.equal(last.size, END_GAME_PIECES)
    assert.equal(pickEndGame(last, me, (i) => i !== 9, now), 10)
    // Where a piece typically takes 2 s (slow uploads), one on its way 1.5 s is not stuck yet; one on its way 3× as long is.
    assert.equal(endGameAfterMs(0), END_GAME_AFTER_MS)
    assert.equal(endGameAfterMs(2000), END_GAME_SLOW_FACTOR * 2000)
    const slow = active([0, 1, 2, 3, 4].map((i) => [i, new Map([['other', fresh]])]))
    slow.set(2, new Map([['other', old]]))
    assert.equal(pickEndGame(slow, me, all, now, endGameAfterMs(2000)), -1)
    slow.set(2, new Map([['other', { at: now - END_GAME_SLOW_FACTOR * 2000 - 1 }]]))
    assert.equal(pickEndGame(slow, me, all, now, endGameAfterMs(2000)), 2)
  })

  test('two agents dialing each other keep the same connection; another client keeps the first one', () => {
    const lo = `${PEER_ID_PREFIX}${'00'.repeat(12)}`
    const hi = `${PEER_ID_PREFIX}${'ff'.repeat(12)}`
    // lo's view: keep what lo dialed; hi's view: keep what lo dialed (incoming for hi).
    assert.equal(keepsNewConnection(lo, hi, true), true)
    assert.equal(keepsNewConnection(lo, hi, false), false)
    assert.equal(keepsNewConnection(hi, lo, false), true)
    assert.equal(keepsNewConnection(hi, lo, true), false)
    const other = Buffer.from('-TR3000-abcdefghijkl').toString('hex')
    assert.equal(keepsNewConnection(lo, other, true), false)
    assert.equal(keepsNewConnection(lo, other, false), false)
  })
})
