// The index contract, on both implementations: one leader per key, hand-over on release, publish wakes waiters.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import { Etcd3 } from 'etcd3'
import { startEtcd, type Service } from '../../support/services.ts'
import { createEtcdIndex, createMemoryIndex, type Claim, type SwarmIndex } from '../../src/swarm/index.ts'

function contract(name: string, make: () => SwarmIndex): void {
  describe(`${name} index`, { timeout: 30_000 }, () => {
    let index: SwarmIndex
    before(() => { index = make() })
    after(async () => { await index.close() })

    test('one leader; release without publishing hands over; publish wakes the rest', async () => {
      const key = randomBytes(32).toString('hex')
      const first = await index.claim(key, { candidate: 'a' })
      assert.equal(first.kind, 'leader')
      let secondSettled: Claim | undefined
      let thirdSettled: Claim | undefined
      const second = index.claim(key, { candidate: 'b' }).then((c) => { secondSettled = c; return c })
      const third = index.claim(key, { candidate: 'c' }).then((c) => { thirdSettled = c; return c })
      await new Promise((r) => setTimeout(r, 300))
      assert.equal(secondSettled, undefined, 'others wait while a leader holds the key')
      assert.equal(thirdSettled, undefined)
      if (first.kind === 'leader') await first.release()
      const next = await Promise.race([second, third])
      assert.equal(next.kind, 'leader', 'a waiting candidate takes over')
      const torrent = Buffer.from('d4:infod6:lengthi1eee')
      if (next.kind === 'leader') { await next.publish(torrent); await next.release() }
      const other = next === secondSettled ? await third : await second
      assert.equal(other.kind, 'torrent')
      if (other.kind === 'torrent') assert.deepEqual(other.torrent, torrent)
      assert.deepEqual(await index.lookup(key), torrent)
      const late = await index.claim(key, { candidate: 'd' })
      assert.equal(late.kind, 'torrent', 'a published key never elects again')
      await index.remove(key)
      assert.equal(await index.lookup(key), undefined)
    })

    test('an aborted wait leaves the queue', async () => {
      const key = randomBytes(32).toString('hex')
      const leader = await index.claim(key, { candidate: 'a' })
      const ac = new AbortController()
      const waiting = index.claim(key, { candidate: 'b', signal: ac.signal })
      ac.abort(new Error('stop'))
      await assert.rejects(waiting, /stop/)
      const after = index.claim(key, { candidate: 'c' })
      if (leader.kind === 'leader') await leader.release()
      const c = await after
      assert.equal(c.kind, 'leader')
      if (c.kind === 'leader') await c.release()
    })
  })
}

contract('memory', () => createMemoryIndex())

let etcd: Service | undefined
before(async () => { etcd = await startEtcd() })
after(async () => { await etcd?.stop() })
contract('etcd', () => createEtcdIndex({ hosts: [etcd?.url as string], prefix: `idx-test-${process.pid}/`, leaseTtlSeconds: 2 }))

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
