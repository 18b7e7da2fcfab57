// The index-store contract run against both stores (memory, etcd), and what only the etcd store does.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { startEtcd, type Service } from '../../support/services.ts'
import { createEtcdIndex, createMemoryIndex } from '../../src/swarm/index.ts'
import { swarmIndexContract } from './contracts/swarm-index.contract.ts'

swarmIndexContract('memory', () => createMemoryIndex())

let etcd: Service | undefined
before(async () => { etcd = await startEtcd() })
after(async () => { await etcd?.stop() })
swarmIndexContract('etcd', () => createEtcdIndex({ hosts: [etcd?.url as string], prefix: `idx-test-${process.pid}/`, leaseTtlSeconds: 2 }))

describe('etcd index warm-up', { timeout: 30_000 }, () => {
  test('runs a campaign and a watch at start-up and leaves no key behind; the index works after it', async () => {
    const prefix = `idx-warm-${process.pid}/`
    const index = createEtcdIndex({ hosts: [etcd?.url as string], prefix, leaseTtlSeconds: 2 })
    const client = new Etcd3({ hosts: etcd?.url as string })
    try {
      await index.warmUp?.('agent-a')
      assert.deepEqual(await client.getAll().prefix(prefix).keys(), [], 'the warm-up election and watch key are gone')
      const key = randomBytes(32).toString('hex')
      const claim = await index.claim(key, { candidate: 'agent-a' })
      assert.equal(claim.kind, 'leader')
      if (claim.kind === 'leader') await claim.release()
    } finally {
      await index.close()
      client.close()
    }
  })

  test('an etcd that does not answer does not hold up the start-up', async () => {
    const index = createEtcdIndex({ hosts: ['http://127.0.0.1:9'], prefix: 'nowhere/', timeoutMs: 500 })
    const started = Date.now()
    try {
      await index.warmUp?.('agent-a')
      assert.ok(Date.now() - started < 10_000, `warm-up returned after ${Date.now() - started} ms`)
    } finally { await index.close() }
  })
})
