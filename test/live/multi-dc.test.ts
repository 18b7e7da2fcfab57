// Two (and three) data centers: forward once, no loops, no duplicates, a dead peer never slows the local DC.
import assert from 'node:assert/strict'
import http from 'node:http'
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
    // Each DC forwards in order through one queue per peer: a marker published on each after the comments
    // arrives behind any copy a loop would have sent back, so once both markers are in, nothing more may come.
    await publish(a.url, 'match', TOKEN, { type: 'marker', data: { from: 'eu' } })
    await publish(b.url, 'match', TOKEN, { type: 'marker', data: { from: 'us' } })
    for (const v of [va, vb]) await waitFor(() => v.of('marker').length === 2, { message: 'both markers delivered in both DCs' })
    assert.equal(va.of('comment').length, 10)
    assert.equal(vb.of('comment').length, 10)
    // A retried forward (same origin id) is dropped by the receiving DC.
    const origin = 'eu:test:dup-1'
    const first = await publish(b.url, 'match', TOKEN, { events: [{ type: 'comment', data: { n: 999 }, origin }] }, { 'x-colony-dc': 'eu' })
    const again = await publish(b.url, 'match', TOKEN, { events: [{ type: 'comment', data: { n: 999 }, origin }] }, { 'x-colony-dc': 'eu' })
    assert.equal(first.json.accepted, 1)
    assert.equal(again.json.accepted, 0, 'duplicate origin dropped')
    await waitFor(() => vb.of('comment').length === 11)
    // Anything us forwarded to eu before this marker has arrived once the marker has.
    await publish(b.url, 'match', TOKEN, { type: 'marker', data: { from: 'us', after: 'dup' } })
    await waitFor(() => va.of('marker').length === 3, { message: 'the second us marker reached eu' })
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

/** A stand-in peer DC: a real HTTP server that refuses bodies over `limit` with 413 and records what it accepts. */
async function startSmallPeer(limit: number, options: { failFirst?: number } = {}): Promise<{ url: string; events: { n: number; pad: string }[]; statuses: number[]; close: () => Promise<void> }> {
  const events: { n: number; pad: string }[] = []
  const statuses: number[] = []
  let failures = options.failFirst ?? 0
  const server = http.createServer((req, res) => {
    const answer = (status: number, body: unknown): void => {
      statuses.push(status)
      res.writeHead(status, { 'content-type': 'application/json', ...(status === 413 ? { connection: 'close' } : {}) })
      res.end(JSON.stringify(body))
    }
    if (Number(req.headers['content-length']) > limit) { req.resume(); answer(413, { error: { code: 'COLONY_BODY_TOO_LARGE' } }); return }
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      if (failures > 0) { failures--; answer(503, { error: { code: 'LIVE_TRANSPORT' } }); return }
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { events: { data: { n: number; pad: string } }[] }
      for (const e of body.events) events.push(e.data)
      answer(202, { accepted: body.events.length })
    })
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()))
  return {
    url: `http://127.0.0.1:${(server.address() as net.AddressInfo).port}`, events, statuses,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()) }),
  }
}

async function metric(url: string, name: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text()
  return Number(new RegExp(`^${name} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN)
}

const pad = (bytes: number): string => 'x'.repeat(bytes)

test('large events, each under the body limit and together far over it, all reach the peer DC in order', { timeout: 40_000 }, async () => {
  // The peer starts late, so the whole backlog (40 × 50 KB = 2 MB, eight times the 256 KB body limit) waits in one queue.
  const pb = await freePort()
  const a = await startLiveServer({ token: TOKEN, dc: 'eu', peerDcs: [`http://127.0.0.1:${pb}`] })
  let b: LiveServer | undefined
  try {
    for (let n = 0; n < 40; n++) assert.equal((await publish(a.url, 'big', TOKEN, { type: 'comment', data: { n, pad: pad(50_000) } })).status, 202)
    assert.equal(await metric(a.url, 'colony_live_peer_queued'), 40)
    // B's history holds the whole 2 MB, so the viewer gets every event whether it attaches before or after they arrive.
    b = await startLiveServer({ token: TOKEN, port: pb, dc: 'us', hub: { historyBytes: 4 * 1_048_576 } })
    const remote = watchTopic(b.url, 'big', { lastEventId: '0' })
    try {
      await waitFor(() => remote.of('comment').length >= 40, { timeoutMs: 25_000, message: 'every large event reached the peer' })
      const got = remote.of<{ n: number; pad: string }>('comment')
      assert.deepEqual(got.map((c) => c.n), Array.from({ length: 40 }, (_, i) => i), 'all of them, once, in order')
      assert.ok(got.every((c) => c.pad.length === 50_000), 'intact')
    } finally { await remote.stop() }
    assert.equal(await metric(a.url, 'colony_live_peer_sent_total'), 40)
    assert.equal(await metric(a.url, 'colony_live_peer_refused_total'), 0)
    assert.equal(await metric(a.url, 'colony_live_peer_dropped_total'), 0)
  } finally {
    await a.close({ graceMs: 100 })
    await b?.close({ graceMs: 100 })
  }
})

test('a batch the peer refuses as too large is split and resent; only an event too large on its own is refused, and counted', { timeout: 30_000 }, async () => {
  // The peer takes 4 KB bodies; this DC batches up to 1 MB, so the first batches are refused whole.
  const peer = await startSmallPeer(4_096, { failFirst: 1 })
  const a = await startLiveServer({ token: TOKEN, dc: 'eu', peerDcs: [peer.url], peerBatchBytes: 1_000_000 })
  try {
    const small = (from: number, count: number): { events: { type: string; data: unknown }[] } =>
      ({ events: Array.from({ length: count }, (_, i) => ({ type: 'comment', data: { n: from + i, pad: pad(400) } })) })
    assert.equal((await publish(a.url, 'split', TOKEN, small(0, 30))).status, 202)
    assert.equal((await publish(a.url, 'split', TOKEN, { type: 'comment', data: { n: 30, pad: pad(6_000) } })).status, 202)
    assert.equal((await publish(a.url, 'split', TOKEN, small(31, 10))).status, 202)
    await waitFor(() => peer.events.length >= 40, { timeoutMs: 20_000, message: 'the peer received every deliverable event' })
    const expected = Array.from({ length: 41 }, (_, i) => i).filter((n) => n !== 30)
    assert.deepEqual(peer.events.map((e) => e.n), expected, 'in order, each once, nothing lost for its neighbours')
    assert.ok(peer.statuses.includes(413), 'the peer did refuse batches as too large')
    assert.ok(peer.statuses.includes(503), 'and failed one request, which was retried')
    await waitFor(async () => await metric(a.url, 'colony_live_peer_refused_total') === 1, { message: 'the one oversize event is counted' })
    assert.equal(await metric(a.url, 'colony_live_peer_sent_total'), 40)
    assert.equal(await metric(a.url, 'colony_live_peer_dropped_total'), 0)
    assert.ok(await metric(a.url, 'colony_live_peer_failures_total') >= 1)
  } finally {
    await a.close({ graceMs: 100 })
    await peer.close()
  }
})

test('a peer queue over its byte bound drops its oldest events and counts them', { timeout: 30_000 }, async () => {
  const pb = await freePort()
  const a = await startLiveServer({ token: TOKEN, dc: 'eu', peerDcs: [`http://127.0.0.1:${pb}`], peerQueueBytes: 20_000 })
  let b: LiveServer | undefined
  try {
    for (let n = 0; n < 50; n++) assert.equal((await publish(a.url, 'flood', TOKEN, { type: 'comment', data: { n, pad: pad(1_000) } })).status, 202)
    const queued = await metric(a.url, 'colony_live_peer_queued')
    const dropped = await metric(a.url, 'colony_live_peer_dropped_total')
    assert.ok(await metric(a.url, 'colony_live_peer_queued_bytes') <= 20_000, 'the queue stays within its byte bound')
    assert.equal(queued + dropped, 50, `every event is either waiting or counted as dropped (queued ${queued}, dropped ${dropped})`)
    assert.ok(dropped >= 25, `most of 50 KB did not fit in 20 KB (dropped ${dropped})`)
    b = await startLiveServer({ token: TOKEN, port: pb, dc: 'us' })
    const remote = watchTopic(b.url, 'flood', { lastEventId: '0' })
    try {
      await waitFor(() => remote.of('comment').length >= queued, { timeoutMs: 20_000, message: 'the queued events arrive' })
      // The oldest went first; the batch already in flight when the queue overflowed (event 0) is never dropped.
      const got = remote.of<{ n: number }>('comment').map((c) => c.n)
      assert.equal(got.length, queued)
      assert.deepEqual(got, [0, ...Array.from({ length: queued - 1 }, (_, i) => 51 - queued + i)])
    } finally { await remote.stop() }
  } finally {
    await a.close({ graceMs: 100 })
    await b?.close({ graceMs: 100 })
  }
})

test('with peer DCs, an event that could not be forwarded alone within the body limit is refused at publish (413)', { timeout: 20_000 }, async () => {
  const peer = await startSmallPeer(4_096)
  const a = await startLiveServer({ token: TOKEN, dc: 'eu', peerDcs: [peer.url], maxBodyBytes: 4_096 })
  try {
    // 4,080 bytes as published; the forwarded form adds ts and origin and would pass 4,096.
    const body = JSON.stringify({ type: 'comment', data: { n: 0, pad: '' } })
    const near = JSON.stringify({ type: 'comment', data: { n: 0, pad: pad(4_080 - Buffer.byteLength(body)) } })
    assert.equal(Buffer.byteLength(near), 4_080)
    const r = await publish(a.url, 'edge', TOKEN, near)
    assert.equal(r.status, 413)
    assert.equal((r.json.error as { code: string }).code, 'LIVE_EVENT_TOO_LARGE')
    assert.equal((await publish(a.url, 'edge', TOKEN, { type: 'comment', data: { n: 1, pad: pad(3_000) } })).status, 202)
    await waitFor(() => peer.events.length === 1, { message: 'the event that fits is forwarded' })
    assert.equal(peer.events[0]?.n, 1)
  } finally {
    await a.close({ graceMs: 100 })
    await peer.close()
  }
})
