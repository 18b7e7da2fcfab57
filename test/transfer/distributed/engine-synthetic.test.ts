// The Redis machinery end to end on a synthetic library (no origin): submit, four roles, report.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, waitFor, type Service } from '../../../support/services.ts'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import { createKeys } from '../../../src/transfer/distributed/redis/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis/client.ts'
import { submitRun } from '../../../src/transfer/distributed/submit.ts'
import { readRunStatus } from '../../../src/transfer/distributed/status.ts'
import { startWorker, WORKER_ROLES } from '../../../src/transfer/distributed/worker.ts'
import { createSyntheticCore } from '../../../support/transfer-synthetic.ts'

let redisSvc: Service
before(async () => { redisSvc = await startRedis() })
after(async () => { await redisSvc.stop() })

test('a synthetic run goes through scanner, crawler, copier, aggregator and reports every file', { timeout: 60_000 }, async () => {
  const prefix = `t${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  try {
    const { run, created } = await submitRun(redis, keys, { sources: ['synthetic:?classes=7&files=333&size=10&fail=0.05'], to: 'null:', batchSize: 50, retries: 3 })
    assert.equal(created, true)
    const again = await submitRun(redis, keys, { sources: ['synthetic:?classes=7&files=333&size=10&fail=0.05'], to: 'null:' })
    assert.equal(again.created, false)
    assert.equal(again.run, run)
    const worker = await startWorker({ redisUrl: redisSvc.url, prefix, roles: [...WORKER_ROLES], concurrency: 32, createCore: (c) => Promise.resolve(createSyntheticCore(c)), log: createSilentLogger(), claimIdleMs: 2000 })
    try {
      const status = await waitFor(async () => { const s = await readRunStatus(redis, keys, run); return s.state === 'finished' ? s : undefined }, { timeoutMs: 45_000, message: 'run finished' })
      assert.ok(status.report)
      assert.equal(status.report.ok, true)
      assert.equal(status.report.totals.classes, 7)
      assert.equal(status.report.totals.files, 7 * 333)
      assert.equal(status.report.totals.verified, 7 * 333)
      assert.equal(status.report.totals.bytes, 7 * 333 * 10)
      assert.ok(status.report.totals.retries > 0, 'the 5% injected first-attempt failures were retried')
      assert.deepEqual(status.queues.copy, { length: 0, pending: 0 })
      assert.deepEqual(status.queues.retry, { length: 0, pending: 0 })
    } finally {
      await worker.stop()
    }
  } finally {
    await closeRedis(redis)
  }
})

test('retries are taken before new work, and a dead consumer\'s entry is reclaimed after the idle time', { timeout: 30_000 }, async () => {
  const { StreamConsumer } = await import('../../../src/transfer/distributed/redis/stream-queue.ts')
  const redis = createRedis(redisSvc.url)
  const blocking = createRedis(redisSvc.url)
  const stream = (q: string): string => `prio${Date.now()}:${q}`
  const copy = stream('copy')
  const retry = stream('retry')
  try {
    for (let k = 0; k < 5; k++) await redis.xadd(copy, '*', 'j', JSON.stringify({ n: `new${k}` }))
    const mk = (consumer: string): InstanceType<typeof StreamConsumer<{ n: string }>> => new StreamConsumer<{ n: string }>({ redis, blocking, streams: [retry, copy], group: 'copiers', consumer, log: createSilentLogger(), claimIdleMs: 1000, blockMs: 100 })
    const a = mk('a')
    await a.init()
    assert.deepEqual((await a.take(2)).map((e) => e.job.n), ['new0', 'new1'])
    await redis.xadd(retry, '*', 'j', JSON.stringify({ n: 'retry0' }))
    assert.deepEqual((await a.take(2)).map((e) => e.job.n), ['retry0', 'new2'], 'a retry jumps ahead of queued new work')
    // "a" dies holding new0, new1, retry0, new2 (no heartbeat, no ack); "b" gets them once idle > 1 s.
    const b = mk('b')
    const t0 = Date.now()
    const got = await waitFor(async () => { const e = await b.take(10); return e.some((x) => x.claimed) ? e : undefined }, { timeoutMs: 10_000, intervalMs: 100, message: 'reclaimed' })
    const ms = Date.now() - t0
    assert.deepEqual(got.filter((e) => e.claimed).map((e) => e.job.n).sort(), ['new0', 'new1', 'new2', 'retry0'])
    assert.ok(ms < 4000, `reclaimed after ${ms} ms`)
  } finally {
    await closeRedis(redis)
    await closeRedis(blocking)
  }
})

test('housekeeping removes consumers and heartbeats of long-gone workers, never ones holding jobs', async () => {
  const { housekeep } = await import('../../../src/transfer/distributed/roles/aggregator.ts')
  type Ctx = Parameters<typeof housekeep>[0]
  const prefix = `house${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  try {
    await redis.xgroup('CREATE', keys.queue('copy'), 'copiers', '0', 'MKSTREAM')
    await redis.xadd(keys.queue('copy'), '*', 'j', '{}')
    await redis.xreadgroup('GROUP', 'copiers', 'holder', 'COUNT', 1, 'STREAMS', keys.queue('copy'), '>')
    await redis.xgroup('CREATECONSUMER', keys.queue('copy'), 'copiers', 'idle-one')
    await redis.hset(keys.workers, 'gone', JSON.stringify({ seen: Date.now() - 10_000 }))
    await new Promise((r) => setTimeout(r, 20))
    const removed = await housekeep({ redis, keys, consumer: 'me' } as unknown as Ctx, { idleMs: 5 })
    assert.equal(removed, 1)
    const left = (await redis.xinfo('CONSUMERS', keys.queue('copy'), 'copiers') as Array<Array<string | number>>).map((c) => c[c.indexOf('name') + 1])
    assert.deepEqual(left, ['holder'])
    assert.equal(await redis.hexists(keys.workers, 'gone'), 0)
  } finally {
    await closeRedis(redis)
  }
})

test('the settle script ORs a batch\'s done bits in one step and counts only bits that flip (a batch settled twice)', async () => {
  const { settleBatch } = await import('../../../src/transfer/distributed/redis/scripts.ts')
  const prefix = `settle${Date.now()}`
  const keys = createKeys(prefix)
  const redis = createRedis(redisSvc.url)
  const stream = keys.queue('copy')
  const settle = async (id: string, done: Parameters<typeof settleBatch>[1]['done']): Promise<[number, number, number]> => {
    const res = await settleBatch(redis, { keys, run: 'r', classId: 'c1', stream, entryId: id, done, failures: [] })
    return [res.acked ? 1 : 0, res.files, res.failures]
  }
  try {
    await redis.xgroup('CREATE', stream, 'copiers', '0', 'MKSTREAM')
    const a = await redis.xadd(stream, '*', 'j', '{}') as string
    const b = await redis.xadd(stream, '*', 'j', '{}') as string
    await redis.xreadgroup('GROUP', 'copiers', 'me', 'COUNT', 2, 'STREAMS', stream, '>')
    // File 5 had failed for good before; a later verified copy clears its fail bit and its problem.
    await redis.setbit(keys.failed('r', 'c1'), 5, 1)
    await redis.hset(keys.problems('r', 'c1'), '5', '{}')
    // Unsorted on purpose; fingerprints ride along (as in --watch runs).
    // Files 3 and 10 are playlists stored rewritten (--rewrite-uri).
    assert.deepEqual(await settle(a, [{ i: 10, bytes: 4, skipped: false, fp: 0x0a0b0c0d, rewritten: true }, { i: 3, bytes: 1, skipped: false, fp: 1, rewritten: true }, { i: 4, bytes: 2, skipped: true, fp: 2 }, { i: 5, bytes: 3, skipped: false, fp: 3 }]), [1, 4, 0])
    // The same files again plus new ones (a reclaimed batch also finished by its first, slow owner): only 6, 7 and 12
    // count; of the rewritten playlists 3, 7 and 12, only 7 and 12 are new.
    assert.deepEqual(await settle(b, [3, 4, 5, 6, 7, 12].map((i) => ({ i, bytes: 100 + i, skipped: i === 6 || i === 4, rewritten: i === 3 || i === 7 || i === 12 }))), [1, 3, 0])
    assert.deepEqual(await settle(b, [{ i: 13, bytes: 1, skipped: false }]).then((r) => r[0]), 0, 'an entry acked before is not acked again')
    const bits: number[] = []
    for (let i = 0; i < 16; i++) if (await redis.getbit(keys.done('r', 'c1'), i)) bits.push(i)
    assert.deepEqual(bits, [3, 4, 5, 6, 7, 10, 12, 13])
    assert.equal(await redis.bitcount(keys.failed('r', 'c1')), 0)
    assert.equal(await redis.hexists(keys.problems('r', 'c1'), '5'), 0)
    assert.equal(Number(await redis.hget(keys.bytes('r'), 'c1')), 1 + 2 + 3 + 4 + 106 + 107 + 112 + 1)
    assert.equal(Number(await redis.hget(keys.skipped('r'), 'c1')), 2)
    assert.equal(Number(await redis.hget(keys.rewritten('r'), 'c1')), 4)
    assert.equal(Number(await redis.hget(keys.stats('r'), 'files')), 8)
    const fp = await redis.getrangeBuffer(keys.fingerprint('r', 'c1'), 40, 43)
    assert.equal(fp.readUInt32BE(0), 0x0a0b0c0d)
    assert.equal((await redis.getrangeBuffer(keys.fingerprint('r', 'c1'), 16, 19)).readUInt32BE(0), 2)
  } finally {
    await closeRedis(redis)
  }
})
