// Continuous sync (--watch): new catalog classes are transferred, a recording class is re-crawled until
// EXT-X-ENDLIST, and a file whose size/mtime (directory) or size/ETag (HTTP) changed at the origin is copied again.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { appendFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { makeTempDir, startNginx, startRedis, waitFor, type Service } from '../../../support/services.ts'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import { createTransferCore } from '../../../src/transfer/distributed/core-adapter.ts'
import { createKeys } from '../../../src/transfer/distributed/redis/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis/client.ts'
import { inlineLocalFiles, storeInline, submitRun } from '../../../src/transfer/distributed/submit.ts'
import { readRunStatus, type RunStatus } from '../../../src/transfer/distributed/status.ts'
import { startWorker, WORKER_ROLES } from '../../../src/transfer/distributed/worker.ts'
import { writeLibrary } from './fixtures.ts'

let work: string
let nginx: Service
let redisSvc: Service

before(async () => {
  work = await makeTempDir('colony-dist-watch-')
  await writeLibrary(path.join(work, 'origin'), { classes: 2, variants: 2, segments: 4 })
  await writeLibrary(path.join(work, 'origin-rec'), { classes: 1, variants: 2, segments: 3, endlist: false })
  await mkdir(path.join(work, 'origin', 'lib', 'live'), { recursive: true })
  for (const v of ['v0', 'v1']) {
    await mkdir(path.join(work, 'origin', 'lib', 'live', v), { recursive: true })
    for (const f of ['index.m3u8', 'seg0000.ts', 'seg0001.ts', 'seg0002.ts']) {
      await writeFile(path.join(work, 'origin', 'lib', 'live', v, f), await readFile(path.join(work, 'origin-rec', 'lib', 'class000', v, f)))
    }
  }
  await writeFile(path.join(work, 'origin', 'lib', 'live', 'master.m3u8'), await readFile(path.join(work, 'origin-rec', 'lib', 'class000', 'master.m3u8')))
  await mkdir(path.join(work, 'tree', 'docs'), { recursive: true })
  await writeFile(path.join(work, 'tree', 'docs', 'a.txt'), 'first version')
  await writeFile(path.join(work, 'tree', 'docs', 'b.txt'), 'unchanged')
  nginx = await startNginx({ root: path.join(work, 'origin') })
  redisSvc = await startRedis()
})
after(async () => {
  await nginx?.stop()
  await redisSvc?.stop()
  await rm(work, { recursive: true, force: true })
})

const same = async (a: string, b: string): Promise<boolean> => {
  const [x, y] = await Promise.all([readFile(a), readFile(b).catch(() => undefined)])
  return y !== undefined && x.equals(y)
}

test('--watch transfers new classes, follows a recording class to its ENDLIST, re-copies changed files', { timeout: 150_000 }, async () => {
  const prefix = `watch${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const dest = path.join(work, 'dest')
  const catalog = path.join(work, 'catalog.ndjson')
  const entry = (id: string, p: string, status = 'ready'): string => JSON.stringify({ id, master: `${nginx.url}${p}`, status })
  await writeFile(catalog, [
    entry('A', '/lib/class000/master.m3u8'), entry('LIVE', '/lib/live/master.m3u8', 'recording'),
    JSON.stringify({ id: 'TREE', master: pathToFileURL(path.join(work, 'tree')).href + '/', status: 'ready' }),
  ].join('\n'))
  const worker = await startWorker({ redisUrl: redisSvc.url, prefix, roles: [...WORKER_ROLES], concurrency: 8, log: createSilentLogger(), claimIdleMs: 2000, createCore: (c) => Promise.resolve(createTransferCore(c)) })
  const cls = (s: RunStatus, id: string): RunStatus['classes'][number] | undefined => s.classes.find((c) => c.record.id === id)
  try {
    const { run } = await submitRun(redis, keys, { sources: [catalog], to: dest, watchMs: 1000 })
    const status = (): Promise<RunStatus> => readRunStatus(redis, keys, run)
    await waitFor(async () => {
      const s = await status()
      const a = cls(s, 'A'); const live = cls(s, 'LIVE'); const tree = cls(s, 'TREE')
      return a?.record.state === 'verified' && tree?.record.state === 'verified' && live?.record.live === true && live.files > 0 && live.verified === live.files
    }, { timeoutMs: 60_000, intervalMs: 200, message: 'first pass: A and TREE verified, LIVE copied so far and still recording' })
    assert.ok(await same(path.join(work, 'origin', 'lib', 'live', 'v0', 'index.m3u8'), path.join(dest, 'lib', 'live', 'v0', 'index.m3u8')))
    assert.equal(cls(await status(), 'LIVE')?.files, 1 + 2 * 4)

    // The origin moves on: a new class in the catalog, two more segments recorded, a file edited.
    await appendFile(catalog, `\n${entry('B', '/lib/class001/master.m3u8')}`)
    await storeInline(redis, keys, run, await inlineLocalFiles([catalog]))
    for (const v of ['v0', 'v1']) {
      for (const n of ['0003', '0004']) {
        await writeFile(path.join(work, 'origin', 'lib', 'live', v, `seg${n}.ts`), Buffer.alloc(700 + Number(n), n))
        await appendFile(path.join(work, 'origin', 'lib', 'live', v, 'index.m3u8'), `#EXTINF:4.0,\nseg${n}.ts\n`)
      }
    }
    await new Promise((r) => setTimeout(r, 20)) // a different mtime even on coarse clocks
    await writeFile(path.join(work, 'tree', 'docs', 'a.txt'), 'second, longer version')
    // A segment of a finished HTTP class replaced at the origin (new size and ETag).
    const replaced = path.join(work, 'origin', 'lib', 'class000', 'v0', 'seg0001.ts')
    await writeFile(replaced, Buffer.alloc(1234, 'r'))
    await waitFor(async () => {
      const s = await status()
      const live = cls(s, 'LIVE')
      // A's re-copied file lands before the aggregator marks A verified again, so wait for both.
      return cls(s, 'B')?.record.state === 'verified' && cls(s, 'A')?.record.state === 'verified' &&
        live?.files === 1 + 2 * 6 && live.verified === live.files &&
        await same(path.join(work, 'origin', 'lib', 'live', 'v1', 'index.m3u8'), path.join(dest, 'lib', 'live', 'v1', 'index.m3u8')) &&
        await same(path.join(work, 'tree', 'docs', 'a.txt'), path.join(dest, 'docs', 'a.txt')) &&
        await same(replaced, path.join(dest, 'lib', 'class000', 'v0', 'seg0001.ts'))
    }, { timeoutMs: 60_000, intervalMs: 250, message: 'second pass: B copied, LIVE grew to 13 files, a.txt and the replaced HTTP segment re-copied, A verified again' })
    assert.equal(cls(await status(), 'A')?.record.state, 'verified', 'A is verified again after its re-copy')
    assert.ok(await same(path.join(work, 'origin', 'lib', 'live', 'v0', 'seg0004.ts'), path.join(dest, 'lib', 'live', 'v0', 'seg0004.ts')))
    assert.equal(cls(await status(), 'LIVE')?.record.state, 'copying', 'a recording class never finishes')

    // Recording ends.
    for (const v of ['v0', 'v1']) await appendFile(path.join(work, 'origin', 'lib', 'live', v, 'index.m3u8'), '#EXT-X-ENDLIST\n')
    await waitFor(async () => {
      const live = cls(await status(), 'LIVE')
      return live?.record.state === 'verified' && live.record.live === false &&
        (await readFile(path.join(dest, 'lib', 'live', 'v0', 'index.m3u8'), 'utf8')).includes('#EXT-X-ENDLIST')
    }, { timeoutMs: 60_000, intervalMs: 250, message: 'LIVE verified after its ENDLIST' })
    const s = await status()
    assert.equal(s.state, 'running', 'a --watch run keeps running')
    assert.ok(await same(path.join(work, 'tree', 'docs', 'b.txt'), path.join(dest, 'docs', 'b.txt')))
  } finally {
    await worker.stop()
    await closeRedis(redis)
  }
})
