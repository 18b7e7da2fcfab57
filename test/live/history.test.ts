// Replay history is bounded by bytes as well as by events: in the node's ring, the embedded dispatcher and Redis.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Redis } from 'ioredis'
import { RedisTransport, startLiveServer } from '../../src/live/index.ts'
import { historyBytesOf, TopicHistory } from '../../src/live/core/topic-history.ts'
import type { LiveEvent } from '../../src/live/types.ts'
import { startRedis } from '../../support/services.ts'
import { publish, rawSubscriber, waitFor, watchTopic } from './live-helpers.ts'

const TOKEN = 'history-secret'
const pad = (n: number): string => 'x'.repeat(n)
const event = (id: number, bytes: number): LiveEvent => ({ topic: 't', id, type: 'comment', data: JSON.stringify(pad(bytes)), ts: 0 })

test('the ring keeps at most its byte bound (the newest event even alone) and answers reset beyond it', () => {
  const h = new TopicHistory(100, 5_000)
  for (let id = 1; id <= 20; id++) h.push(event(id, 1_000))
  const per = historyBytesOf(event(1, 1_000))
  assert.equal(h.size, Math.floor(5_000 / per), 'as many as fit in the byte bound, not the 100 the count allows')
  assert.ok(h.bytes <= 5_000)
  assert.deepEqual(h.since(20 - h.size).kind, 'events')
  assert.deepEqual(h.since(19 - h.size), { kind: 'reset', latestId: 20 })
  h.push(event(21, 20_000))
  assert.equal(h.size, 1, 'an event over the bound on its own is still kept')
  assert.deepEqual(h.since(20), { kind: 'events', events: [event(21, 20_000)] })
  assert.deepEqual(h.since(19), { kind: 'reset', latestId: 21 })
  // The count bound still holds for small events.
  const small = new TopicHistory(3, 1_000_000)
  for (let id = 1; id <= 10; id++) small.push(event(id, 10))
  assert.equal(small.size, 3)
})

test('an embedded node replays only what its byte-bounded history holds, and a reset for older ids', { timeout: 20_000 }, async () => {
  const server = await startLiveServer({ token: TOKEN, hub: { historySize: 500, historyBytes: 10_000 } })
  const live = watchTopic(server.url, 'watched')
  try {
    await live.opened
    for (const topic of ['unwatched', 'watched']) {
      // 30 events of ~1 KB: the count bound (500) would keep them all, the byte bound (10 KB) keeps the last few.
      for (let n = 1; n <= 30; n++) assert.equal((await publish(server.url, topic, TOKEN, { type: 'comment', data: { n, pad: pad(1_000) } })).status, 202)
      const recent = watchTopic(server.url, topic, { lastEventId: '27' })
      try {
        await waitFor(() => recent.of('comment').length === 3, { message: `${topic}: the last 3 events replayed` })
        assert.deepEqual(recent.of<{ n: number }>('comment').map((c) => c.n), [28, 29, 30])
      } finally { await recent.stop() }
      const old = await rawSubscriber(server.port, topic, 'Last-Event-ID: 1\r\n')
      old.resume()
      try {
        await waitFor(() => old.received().includes('event: reset'), { message: `${topic}: a reset for ids the history no longer holds` })
        assert.match(old.received(), /"latestId":30/)
        assert.doesNotMatch(old.received(), /event: comment/)
      } finally { old.socket.destroy() }
    }
  } finally {
    await live.stop()
    await server.close({ graceMs: 100 })
  }
})

test('the Redis history is bounded by bytes too, and a list written without a byte total gets one', { timeout: 30_000 }, async () => {
  const redis = await startRedis()
  const client = new Redis(redis.url)
  const prefix = `hist${process.pid}:`
  const transport = new RedisTransport({ url: redis.url, prefix, historySize: 1000, historyBytes: 10_000 })
  try {
    await transport.start(() => undefined)
    const inputs = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ type: 'comment', data: JSON.stringify({ n: from + i, pad: pad(1_000) }) }))
    for (let n = 1; n <= 30; n += 5) await transport.publish('r', inputs(n, 5))
    const stored = await client.lrange(`${prefix}t:r:hist`, 0, -1)
    const total = stored.reduce((s, t) => s + Buffer.byteLength(t), 0)
    assert.ok(total <= 10_000, `history holds ${total} bytes`)
    assert.equal(Number(await client.get(`${prefix}t:r:histbytes`)), total, 'the byte total matches the list')
    assert.ok(stored.length >= 5 && stored.length < 30)
    assert.deepEqual(await transport.replay('r', 1), { kind: 'reset', latestId: 30 })
    const tail = await transport.replay('r', 27)
    assert.deepEqual(tail.kind === 'events' ? tail.events.map((e) => e.id) : tail, [28, 29, 30])
    // A history list from before the byte total existed: the next publish sums it once, then trims it.
    await client.del(`${prefix}t:r:histbytes`)
    await client.rpush(`${prefix}t:r:hist`, ...Array.from({ length: 20 }, () => JSON.stringify({ topic: 'r', id: 0, type: 'old', data: JSON.stringify(pad(1_000)), ts: 0 })))
    await transport.publish('r', inputs(31, 1))
    const after = await client.lrange(`${prefix}t:r:hist`, 0, -1)
    const afterTotal = after.reduce((s, t) => s + Buffer.byteLength(t), 0)
    assert.ok(afterTotal <= 10_000, `trimmed back to the bound (${afterTotal} bytes)`)
    assert.equal(Number(await client.get(`${prefix}t:r:histbytes`)), afterTotal)
  } finally {
    await transport.close()
    client.disconnect()
    await redis.stop()
  }
})
