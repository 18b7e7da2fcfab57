// The index-store contract (src/swarm/index-store/swarm-index.ts): what every SwarmIndex does, whatever keeps it.
// swarmIndexContract registers the tests for one implementation; index-store.test.ts runs it for each.
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, test } from 'node:test'
import type { Claim, LeaderClaim, SwarmIndex } from '../../../src/swarm/index-store/swarm-index.ts'

const newKey = (): string => randomBytes(32).toString('hex')
const torrentOf = (text: string): Buffer => Buffer.from(`d4:infod4:name${text.length}:${text}ee`)

function asLeader(c: Claim): LeaderClaim {
  assert.equal(c.kind, 'leader')
  return c as LeaderClaim
}

/** Resolves with the parts onPart is called with once there are `n`; rejects after `timeoutMs`. */
function collectParts(n: number, timeoutMs = 10_000): { onPart: (part: number, torrent: Buffer) => void; all: Promise<Map<number, Buffer>> } {
  const seen = new Map<number, Buffer>()
  let done!: () => void
  const all = new Promise<Map<number, Buffer>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${seen.size} of ${n} parts after ${timeoutMs} ms`)), timeoutMs)
    done = () => { clearTimeout(timer); resolve(seen) }
  })
  return { onPart: (part, torrent) => { seen.set(part, torrent); if (seen.size === n) done() }, all }
}

/** Registers the contract's tests for the index `make` creates (one per suite, plus one per test that closes it). */
export function swarmIndexContract(name: string, make: () => SwarmIndex): void {
  describe(`index store contract: ${name}`, { timeout: 30_000 }, () => {
    let index: SwarmIndex
    before(() => { index = make() })
    after(async () => { await index.close() })

    test('one leader at a time: the others wait for its release, a publication wakes them all', async () => {
      const key = newKey()
      const first = asLeader(await index.claim(key, { candidate: 'a' }))
      let released = false
      const settledWhileHeld: string[] = []
      const waiting = ['b', 'c'].map((candidate) => index.claim(key, { candidate }).then((c) => {
        if (!released) settledWhileHeld.push(candidate)
        return c
      }))
      // The leader works through the index while it holds the key: a round trip each, in which a wrongly elected
      // waiter would settle.
      await first.publishPart(0, torrentOf('part-0'))
      assert.equal((await index.lookupParts(key)).size, 1)
      assert.equal(await index.lookup(key), undefined)
      released = true
      await first.release()
      assert.deepEqual(settledWhileHeld, [], 'no waiter settled while the leader held the key')
      const next = asLeader(await Promise.race(waiting))
      const torrent = torrentOf('whole')
      await next.publish(torrent)
      await next.release()
      const [b, c] = await Promise.all(waiting)
      const other = b === next ? c : b
      assert.equal(other?.kind, 'torrent', 'the last waiter received the publication')
      if (other?.kind === 'torrent') assert.deepEqual(other.torrent, torrent)
      assert.deepEqual(await index.lookup(key), torrent)
      assert.equal((await index.claim(key, { candidate: 'd' })).kind, 'torrent', 'a published key never elects again')
    })

    test('release is idempotent and hands the key to the next candidate once', async () => {
      const key = newKey()
      const leader = asLeader(await index.claim(key, { candidate: 'a' }))
      const next = index.claim(key, { candidate: 'b' })
      await leader.release()
      await leader.release()
      const b = asLeader(await next)
      await b.release()
    })

    test('an aborted wait leaves the queue with the abort reason', async () => {
      const key = newKey()
      const leader = asLeader(await index.claim(key, { candidate: 'a' }))
      const ac = new AbortController()
      const waiting = index.claim(key, { candidate: 'b', signal: ac.signal })
      ac.abort(new Error('stop'))
      await assert.rejects(waiting, /stop/)
      const after = index.claim(key, { candidate: 'c' })
      await leader.release()
      await asLeader(await after).release()
    })

    test('segment torrents: lookupParts, watchParts (published before and after), remove drops them all', async () => {
      const key = newKey()
      const leader = asLeader(await index.claim(key, { candidate: 'a' }))
      await leader.publishPart(0, torrentOf('p0'))
      await leader.publishPart(1, torrentOf('p1'))
      const watcher = collectParts(3)
      const stop = new AbortController()
      await index.watchParts(key, watcher.onPart, stop.signal)
      await leader.publishPart(2, torrentOf('p2'))
      const seen = await watcher.all
      stop.abort()
      assert.deepEqual([...seen.keys()].sort(), [0, 1, 2])
      assert.deepEqual(seen.get(2), torrentOf('p2'))
      assert.deepEqual([...(await index.lookupParts(key)).entries()].sort(([a], [b]) => a - b), [[0, torrentOf('p0')], [1, torrentOf('p1')], [2, torrentOf('p2')]])
      await leader.publish(torrentOf('whole'))
      await leader.release()
      await index.remove(key)
      assert.equal(await index.lookup(key), undefined)
      assert.equal((await index.lookupParts(key)).size, 0)
      const again = asLeader(await index.claim(key, { candidate: 'b' }))
      await again.release()
    })

    test('close rejects the claims still waiting with SWARM_INDEX_UNAVAILABLE', async () => {
      const own = make()
      const key = newKey()
      const leader = asLeader(await own.claim(key, { candidate: 'a' }))
      const waiting = own.claim(key, { candidate: 'b' })
      await own.lookup(key)
      await own.close()
      await assert.rejects(waiting, { code: 'SWARM_INDEX_UNAVAILABLE' })
      await leader.release().catch(() => undefined)
    })

    test('peers: a watch sees the agents registered before and after it; an ended registration is gone for the next watch', async () => {
      const key = newKey()
      const peerA = { address: '10.0.0.1:6881', peerId: 'a'.repeat(40) }
      const peerB = { address: '[::1]:6882', peerId: 'b'.repeat(40) }
      const regA = new AbortController()
      const regB = new AbortController()
      await index.registerPeer(key, 'agent-a', peerA, regA.signal)
      const seen = new Map<string, string>()
      const watching = new AbortController()
      let both!: () => void
      const gotBoth = new Promise<void>((resolve) => { both = resolve })
      await index.watchPeers(key, (p) => { seen.set(p.address, p.peerId); if (seen.size === 2) both() }, watching.signal)
      assert.equal(seen.get(peerA.address), peerA.peerId, 'registered before the watch')
      await index.registerPeer(key, 'agent-b', peerB, regB.signal)
      await gotBoth
      assert.equal(seen.get(peerB.address), peerB.peerId, 'registered after the watch')
      watching.abort()
      regA.abort()
      const after = new Map<string, string>()
      // etcd revokes the lease asynchronously: poll with a deadline.
      for (const until = Date.now() + 5000; ;) {
        after.clear()
        const stop = new AbortController()
        await index.watchPeers(key, (p) => after.set(p.address, p.peerId), stop.signal)
        stop.abort()
        if (!after.has(peerA.address) || Date.now() > until) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      assert.deepEqual([...after.keys()], [peerB.address])
      regB.abort()
    })

    test('reports its kind', () => {
      assert.equal(typeof index.kind, 'string')
      assert.ok(index.kind.length > 0)
    })
  })
}
