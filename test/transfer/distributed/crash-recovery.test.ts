// Several worker processes of each role copy an nginx-served HLS library to a directory while workers are
// kill -9'd at random and Redis (AOF on) is restarted; every file must end byte-identical, each counted once.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { writeFile, rm } from 'node:fs/promises'
import path from 'node:path'
import { freePort, makeTempDir, startNginx, startRedis, waitFor, type Service } from '../../../support/services.ts'
import { createKeys } from '../../../src/transfer/distributed/redis/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis/client.ts'
import { submitRun } from '../../../src/transfer/distributed/submit.ts'
import { readRunStatus, type RunStatus } from '../../../src/transfer/distributed/status.ts'
import { compareTrees, killHard, spawnWorker, stopGracefully, writeLibrary, type LibraryFile, type WorkerProc } from './fixtures.ts'
import { createRandom } from '../../../src/shared/seeded-random.ts'

let work: string
let nginx: Service
let files: LibraryFile[]
let catalogFile: string

before(async () => {
  work = await makeTempDir('colony-dist-crash-')
  const lib = await writeLibrary(path.join(work, 'origin'), { classes: 16, variants: 2, segments: 8, segmentBytes: [6000, 12000] })
  files = lib.files
  // A slow origin keeps the run going long enough to kill workers in the middle, however fast the machine:
  // nginx sends the first second's allowance at once, so segments are larger than the 4 KB/s rate (1–2 s each).
  nginx = await startNginx({ root: path.join(work, 'origin'), server: 'location /lib/ { limit_rate 4k; }' })
  catalogFile = path.join(work, 'catalog.ndjson')
  await writeFile(catalogFile, lib.catalog.map((c) => JSON.stringify({ id: c.id, master: `${nginx.url}${c.path}`, status: 'ready' })).join('\n'))
})

after(async () => {
  await nginx?.stop()
  await rm(work, { recursive: true, force: true })
})

test('kill -9 of random workers and a Redis restart lose nothing and count nothing twice', { timeout: 240_000 }, async () => {
  const seed = Number(process.env.COLONY_TEST_SEED) || Date.now() % 2 ** 31
  const redisDir = path.join(work, 'redis')
  const port = await freePort()
  await import('node:fs/promises').then((fs) => fs.mkdir(redisDir))
  let redisSvc = await startRedis({ appendonly: true, dir: redisDir, port })
  const prefix = `crash${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const dest = path.join(work, 'dest')
  const common = ['--redis', redisSvc.url, '--prefix', prefix, '--claim-idle', '2s', '--metrics', 'off']
  const workers: WorkerProc[] = []
  const roleArgs: Record<string, string[]> = { scanner: [], crawler: [], copier: ['--concurrency', '6'], aggregator: [] }
  const start = (role: string): void => { workers.push(spawnWorker([...common, ...(roleArgs[role] ?? [])], role)) }
  try {
    const { run } = await submitRun(redis, keys, { sources: [catalogFile], to: dest, retries: 5, batchSize: 20 })
    for (const role of ['scanner', 'scanner', 'crawler', 'crawler', 'copier', 'copier', 'aggregator', 'aggregator']) start(role)

    const status = async (): Promise<RunStatus> => readRunStatus(redis, keys, run)
    await waitFor(async () => (await status()).totals.verified > 50, { timeoutMs: 90_000, intervalMs: 250, message: 'copying started' })

    // Chaos: kill -9 a random live worker every ~1.5 s and replace it; restart Redis once in the middle.
    let kills = 0
    let restarted = false
    const random = createRandom(seed)
    const rnd = (n: number): number => Math.floor(random() * n)
    for (let round = 0; round < 12; round++) {
      const s = await status().catch(() => undefined)
      if (s?.state === 'finished') break
      const alive = workers.filter((w) => w.proc.exitCode === null && w.proc.signalCode === null)
      const victim = alive[rnd(alive.length)]
      if (victim) {
        await killHard(victim)
        kills++
        start(victim.role)
      }
      if (round === 1 && !restarted) {
        await redisSvc.proc?.kill('SIGTERM')
        await new Promise<void>((r) => redisSvc.proc?.once('exit', () => r()))
        redisSvc = await startRedis({ appendonly: true, dir: redisDir, port })
        restarted = true
      }
      await new Promise((r) => setTimeout(r, 1000 + rnd(1000)))
    }
    assert.ok(kills >= 3, `killed ${kills} workers`)
    assert.ok(restarted, 'Redis was restarted mid-run')

    const final = await waitFor(async () => { const s = await status(); return s.state === 'finished' ? s : undefined }, { timeoutMs: 120_000, intervalMs: 500, message: 'run finished after the chaos' })
    const report = final.report
    assert.ok(report)
    assert.equal(report.ok, true, JSON.stringify(report.classes.filter((c) => c.state !== 'verified').slice(0, 3)))
    assert.equal(report.totals.classes, 16)
    assert.equal(report.totals.files, files.length)
    assert.equal(report.totals.verified, files.length)
    // Bytes are counted when a done bit flips: a batch settled twice after a reclaim is not counted twice.
    assert.equal(report.totals.bytes, files.reduce((a, f) => a + f.size, 0))
    assert.deepEqual(await compareTrees(path.join(work, 'origin'), dest, files), [])
    assert.deepEqual(final.queues.copy, { length: 0, pending: 0 })
  } catch (err) {
    process.stderr.write(`chaos seed ${seed} (run again with COLONY_TEST_SEED=${seed})\n`)
    for (const w of workers) if (w.output()) process.stderr.write(`--- ${w.role} ---\n${w.output().slice(-3000)}\n`)
    process.stderr.write(`${JSON.stringify(await readRunStatus(redis, keys, (await redis.smembers(keys.runs))[0] ?? '').catch((e: unknown) => String(e)), null, 1).slice(0, 3000)}\n`)
    throw err
  } finally {
    await Promise.all(workers.map(stopGracefully))
    await closeRedis(redis)
    await redisSvc.stop()
  }
})
