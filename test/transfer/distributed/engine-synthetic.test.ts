// The Redis machinery end to end on a synthetic library (no origin): submit, four roles, report.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { startRedis, waitFor, type Service } from '../../helpers/services.ts'
import { createSilentLogger } from '../../../src/shared/logger.ts'
import { createKeys } from '../../../src/transfer/distributed/keys.ts'
import { closeRedis, createRedis } from '../../../src/transfer/distributed/redis-client.ts'
import { submitRun } from '../../../src/transfer/distributed/submit.ts'
import { readRunStatus } from '../../../src/transfer/distributed/status.ts'
import { startWorker, WORKER_ROLES } from '../../../src/transfer/distributed/worker.ts'
import { createTransferCore } from '../../../src/transfer/distributed/core-adapter.ts'

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
    const worker = await startWorker({ redisUrl: redisSvc.url, prefix, roles: [...WORKER_ROLES], concurrency: 32, createCore: (c) => Promise.resolve(createTransferCore(c)), log: createSilentLogger(), claimIdleMs: 2000 })
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
