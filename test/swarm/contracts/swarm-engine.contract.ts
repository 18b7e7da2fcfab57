// The engine contract (src/swarm/engines/engine.ts): what every SwarmEngine does, whichever moves the bytes.
// swarmEngineContract registers the tests for one engine kind; engine-contract.test.ts runs it for each.
import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import { whenComplete, type EngineOptions, type EngineTorrent, type SwarmEngine } from '../../../src/swarm/engines/engine.ts'
import { makeTempDir } from '../../../support/services.ts'
import { startTracker, type Tracker } from '../swarm-fixtures.ts'
import { makeObject, type TestObject } from '../native/wire/wire-fixtures.ts'

const PIECE = 64 * 1024
/** Not a whole number of pieces: the last piece is short. */
const SIZE = 20 * PIECE + 12_345

/** `size` bytes that depend only on `seed` (SHA-256 in counter mode). */
function seededBytes(seed: string, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  for (let at = 0, n = 0; at < size; n++) at += createHash('sha256').update(`${seed}:${n}`).digest().copy(out, at)
  return out
}

const makeSeededObject = (seed: string, announce: string[]): Promise<TestObject> => makeObject(SIZE, PIECE, announce, seededBytes(seed, SIZE))

const done = (t: EngineTorrent, ms = 30_000): Promise<void> => whenComplete(t, AbortSignal.timeout(ms))

/** Registers the contract's tests for engines `start` creates (each test starts what it needs; all close after). */
export function swarmEngineContract(kind: string, start: (options: EngineOptions) => Promise<SwarmEngine>): void {
  describe(`engine contract: ${kind}`, { timeout: 90_000 }, () => {
    let dir: string
    let tracker: Tracker
    const engines: SwarmEngine[] = []
    const engine = async (): Promise<SwarmEngine> => {
      const e = await start({ listenPort: 0, uploadLimit: 0, downloadLimit: 0, dataDir: path.join(dir, `engine-${engines.length}`), log: createSilentLogger() })
      engines.push(e)
      return e
    }
    const folder = async (name: string, data?: Buffer): Promise<string> => {
      const d = path.join(dir, name)
      await mkdir(d, { recursive: true })
      if (data) await writeFile(path.join(d, 'obj.bin'), data)
      return d
    }

    before(async () => {
      dir = await makeTempDir(`colony-engine-contract-${kind}-`)
      tracker = await startTracker()
    })
    after(async () => {
      for (const e of engines) await e.close()
      await tracker.close()
      await rm(dir, { recursive: true, force: true })
    })

    test('reports its kind and a BitTorrent port', async () => {
      const e = await engine()
      assert.equal(e.kind, kind)
      assert.ok(e.port > 0 && e.port < 65536, `port ${e.port}`)
    })

    test('a complete torrent seeds; another engine downloads it through the tracker, verified, every piece', async () => {
      const obj = await makeSeededObject(`${kind}-download`, [tracker.announce])
      const [seeder, leecher] = [await engine(), await engine()]
      const seed = await seeder.add(obj.torrent, obj.infoHash, { dir: await folder('dl-seed', obj.data), complete: true, trackers: [] })
      assert.equal(seed.infoHash, obj.infoHash)
      assert.equal(seed.length, SIZE)
      assert.equal(seed.pieceLength, PIECE)
      await done(seed)
      const leechDir = await folder('dl-leech')
      const t = await leecher.add(obj.torrent, obj.infoHash, { dir: leechDir, complete: false, trackers: [tracker.announce] })
      assert.equal(t.resumed, 0, 'nothing was on disk')
      await done(t)
      const st = t.status()
      assert.equal(st.complete, true)
      assert.equal(st.done, SIZE)
      for (let p = 0; p < obj.pieces; p++) assert.equal(t.hasPiece(p), true, `piece ${p}`)
      assert.ok((await readFile(path.join(leechDir, 'obj.bin'))).equals(obj.data), 'the file is the seeder\'s')
      await t.stop()
      await seed.stop()
    })

    test('data already on disk is re-checked when added and counts as resumed', async () => {
      const obj = await makeSeededObject(`${kind}-resume`, [])
      const e = await engine()
      const t = await e.add(obj.torrent, obj.infoHash, { dir: await folder('resume', obj.data), complete: false, trackers: [] })
      await done(t)
      assert.equal(t.resumed, SIZE)
      assert.equal(t.status().complete, true)
      await t.stop()
    })

    test('stop keeps the counters, waits for the file with wait: true, and the torrent can be added again', async () => {
      const obj = await makeSeededObject(`${kind}-stop`, [])
      const e = await engine()
      const at = await folder('stop', obj.data)
      const t = await e.add(obj.torrent, obj.infoHash, { dir: at, complete: true, trackers: [] })
      await done(t)
      const before = t.status()
      await t.stop({ wait: true })
      await t.stop()
      const stopped = t.status()
      assert.equal(stopped.done, before.done, 'the bytes on disk are still counted')
      assert.equal(stopped.peers, 0)
      const again = await e.add(obj.torrent, obj.infoHash, { dir: at, complete: true, trackers: [] })
      await done(again)
      await again.stop()
    })

    test('a torrent that does not parse is refused with SWARM_TORRENT_INVALID', async () => {
      const e = await engine()
      await assert.rejects(e.add(Buffer.from('not a torrent'), '00'.repeat(20), { dir: await folder('bad'), complete: false, trackers: [] }), { code: 'SWARM_TORRENT_INVALID' })
    })
  })
}
