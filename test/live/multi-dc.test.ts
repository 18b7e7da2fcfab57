// Two (and three) data centers: forward once, no loops, no duplicates, a dead peer never slows the local DC.
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { startLiveServer, type LiveServer } from '../../src/live/index.ts'
import { freePort } from '../../support/services.ts'
import { allOpen, comments, publish, waitFor, watchTopic } from './live-helpers.ts'

const TOKEN = 'dc-secret'

test('events published in either DC reach both, exactly once, and never loop back', { timeout: 30_000 }, async () => {
  const [pa, pb] = [await freePort(), await freePort()]
  const a = await startLiveServer({ token: TOKEN, port: pa, dc: 'eu', peerDcs: [`http://127.0.0.1:${pb}`] })
  const b = await startLiveServer({ token: TOKEN, port: pb, dc: 'us', peerDcs: [`http://127.0.0.1:${pa}`] })
  const va = watchTopic(a.url, 'match')
  const vb = watchTopic(b.url, 'match')
  try {
    await allOpen([va, vb])
    await publish(a.url, 'match', TOKEN, comments(5, 0, { from: 'eu' }))
    await publish(b.url, 'match', TOKEN, comments(5, 100, { from: 'us' }))
    for (const v of [va, vb]) {
      await waitFor(() => v.of('comment').length >= 10, { message: 'both DCs delivered' })
      const ns = v.of<{ n: number }>('comment').map((c) => c.n)
      assert.deepEqual(ns.filter((n) => n < 100), [0, 1, 2, 3, 4], 'eu events once, in order')
      assert.deepEqual(ns.filter((n) => n >= 100), [100, 101, 102, 103, 104], 'us events once, in order')
    }
    // Give a loop time to show itself: nothing more may arrive.
    await new Promise((r) => setTimeout(r, 400))
    assert.equal(va.of('comment').length, 10)
    assert.equal(vb.of('comment').length, 10)
    // A retried forward (same origin id) is dropped by the receiving DC.
    const origin = 'eu:test:dup-1'
    const first = await publish(b.url, 'match', TOKEN, { events: [{ type: 'comment', data: { n: 999 }, origin }] }, { 'x-colony-dc': 'eu' })
    const again = await publish(b.url, 'match', TOKEN, { events: [{ type: 'comment', data: { n: 999 }, origin }] }, { 'x-colony-dc': 'eu' })
    assert.equal(first.json.accepted, 1)
    assert.equal(again.json.accepted, 0, 'duplicate origin dropped')
    await waitFor(() => vb.of('comment').length === 11)
    await new Promise((r) => setTimeout(r, 200))
    assert.equal(va.of('comment').length, 10, 'a forwarded event is not forwarded again')
  } finally {
    await Promise.all([va.stop(), vb.stop()])
    await Promise.all([a.close({ graceMs: 100 }), b.close({ graceMs: 100 })])
  }
})

test('a dead peer DC does not slow the local one; its queue is delivered once it comes back', { timeout: 40_000 }, async () => {
  // The worst kind of dead: it accepts connections and never answers (each forward waits for its 5 s timeout).
  const held: net.Socket[] = []
  const blackhole = net.createServer((s) => { held.push(s) })
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()))
  const peerPort = (blackhole.address() as net.AddressInfo).port
  const a = await startLiveServer({ token: TOKEN, dc: 'eu', peerDcs: [`http://127.0.0.1:${peerPort}`] })
  const local = watchTopic(a.url, 'solo')
  let peer: LiveServer | undefined
  try {
    await local.opened
    let slowest = 0
    for (let i = 0; i < 20; i++) {
      const t0 = performance.now()
      assert.equal((await publish(a.url, 'solo', TOKEN, { type: 'comment', data: { n: i } })).status, 202)
      slowest = Math.max(slowest, performance.now() - t0)
    }
    await waitFor(() => local.of('comment').length === 20)
    assert.ok(held.length >= 1, 'the forwarder is stuck on the black hole')
    assert.ok(slowest < 2_000, `no local publish waited for the peer's 5 s timeout (slowest ${slowest.toFixed(0)} ms)`)
    const queued = Number(/colony_live_peer_queued (\d+)/.exec(await (await fetch(`${a.url}/metrics`)).text())?.[1])
    assert.equal(queued, 20, 'the events wait for the peer')
    for (const s of held) s.destroy()
    await new Promise<void>((r) => blackhole.close(() => r()))
    peer = await startLiveServer({ token: TOKEN, port: peerPort, dc: 'us' })
    const remote = watchTopic(peer.url, 'solo', { lastEventId: '0' })
    await waitFor(() => remote.of('comment').length === 20, { timeoutMs: 25_000, message: 'peer caught up from the queue' })
    assert.deepEqual(remote.of<{ n: number }>('comment').map((c) => c.n), Array.from({ length: 20 }, (_, i) => i))
    await remote.stop()
  } finally {
    await local.stop()
    await a.close({ graceMs: 100 })
    await peer?.close({ graceMs: 100 })
    blackhole.close()
  }
})
