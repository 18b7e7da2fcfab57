// Slow consumers, abuse limits and graceful shutdown, each against its own in-process node.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startLiveServer } from '../../src/live/index.ts'
import { allOpen, publish, rawSubscriber, waitFor, watchTopic } from './live-helpers.ts'

const TOKEN = 'bp-secret'
const big = (n: number, from: number): { events: { type: string; data: unknown }[] } =>
  ({ events: Array.from({ length: n }, (_, i) => ({ type: 'comment', data: { n: from + i, pad: 'x'.repeat(8000) } })) })

/**
 * Publishes until the never-reading socket has overflowed its kernel buffers and the node reacted. How many events
 * that takes depends on the machine's TCP buffer sizes (net.ipv4.tcp_wmem, tcp_rmem), so the nodes of these tests
 * have no publish rate limit: a 429 would lose events the test counts as sent.
 */
async function overflow(url: string, topic: string, reacted: () => boolean): Promise<number> {
  let sent = 0
  while (!reacted() && sent < 20_000) {
    const r = await publish(url, topic, TOKEN, big(50, sent))
    assert.equal(r.status, 202, `publish answered ${r.status}: ${JSON.stringify(r.json)}`)
    sent += 50
  }
  return sent
}

test('a slow consumer is skipped, never slows the others, and is resynced (reset) when it drains', { timeout: 60_000 }, async () => {
  const server = await startLiveServer({ token: TOKEN, maxBodyBytes: 1_000_000, publishRate: 0, hub: { historySize: 100, maxBufferBytes: 64 * 1024, slowConsumer: 'resync' } })
  const fast = watchTopic(server.url, 'slow-t')
  const slow = await rawSubscriber(server.port, 'slow-t')
  try {
    await fast.opened
    await waitFor(() => server.hub.stats.connections === 2)
    const sent = await overflow(server.url, 'slow-t', () => server.hub.stats.slowResyncs > 0)
    assert.ok(server.hub.stats.slowResyncs >= 1, 'the slow consumer was detected')
    await waitFor(() => fast.of('comment').length === sent, { message: 'the fast viewer got everything' })
    assert.deepEqual(fast.of<{ n: number }>('comment').map((c) => c.n), Array.from({ length: sent }, (_, i) => i))
    const rss = process.memoryUsage().rss
    // Keep publishing while it lags: nothing more is buffered for it.
    await publish(server.url, 'slow-t', TOKEN, big(50, sent))
    await publish(server.url, 'slow-t', TOKEN, big(50, sent + 50))
    assert.ok(process.memoryUsage().rss - rss < 50e6, 'memory stays bounded')
    slow.resume()
    // It drains what was already buffered, then gets a reset (its gap is older than the 100-event history).
    await waitFor(() => slow.received().includes('event: reset\n'), { timeoutMs: 20_000, message: 'resync after drain' })
    const total = sent + 100
    assert.match(slow.received(), new RegExp(`event: reset\\nid: ${total}\\n`))
    await publish(server.url, 'slow-t', TOKEN, { type: 'comment', data: { after: true } })
    await waitFor(() => slow.received().includes('"after":true'), { message: 'live again after the resync' })
  } finally {
    slow.socket.destroy()
    await fast.stop()
    await server.close({ graceMs: 100 })
  }
})

test('a resynced slow consumer whose gap is still in history loses nothing and sees no duplicate', { timeout: 60_000 }, async () => {
  // The gap is what the kernel's socket buffers held before the node saw the consumer lag (MBs of 8 KB events where
  // TCP buffers autotune high): the history keeps it whole, by count and by bytes.
  const server = await startLiveServer({ token: TOKEN, maxBodyBytes: 1_000_000, publishRate: 0, hub: { historySize: 20_000, historyBytes: 256 * 1024 * 1024, maxBufferBytes: 64 * 1024, slowConsumer: 'resync' } })
  const slow = await rawSubscriber(server.port, 'slow-r')
  try {
    await waitFor(() => server.hub.stats.connections === 1)
    const sent = await overflow(server.url, 'slow-r', () => server.hub.stats.slowResyncs > 0)
    await publish(server.url, 'slow-r', TOKEN, big(50, sent))
    const total = sent + 50
    slow.resume()
    const ns = (): number[] => [...slow.received().matchAll(/"n":(\d+)/g)].map((m) => Number(m[1]))
    await waitFor(() => ns().length >= total, { timeoutMs: 30_000, message: 'caught up from history' })
    assert.deepEqual(ns(), Array.from({ length: total }, (_, i) => i), 'every event once, in order')
    assert.doesNotMatch(slow.received(), /event: reset/)
  } finally {
    slow.socket.destroy()
    await server.close({ graceMs: 100 })
  }
})

test('with --slow-consumer disconnect the slow one is closed with a reason, the fast one is untouched', { timeout: 60_000 }, async () => {
  const server = await startLiveServer({ token: TOKEN, maxBodyBytes: 1_000_000, publishRate: 0, hub: { historySize: 100, maxBufferBytes: 64 * 1024, slowConsumer: 'disconnect' } })
  const fast = watchTopic(server.url, 'slow-d')
  const slow = await rawSubscriber(server.port, 'slow-d')
  let ended = false
  slow.socket.on('end', () => { ended = true })
  try {
    await fast.opened
    await waitFor(() => server.hub.stats.connections === 2)
    const sent = await overflow(server.url, 'slow-d', () => server.hub.stats.slowDisconnects > 0)
    assert.equal(server.hub.stats.connections, 1)
    await waitFor(() => fast.of('comment').length === sent)
    slow.resume()
    await waitFor(() => ended, { timeoutMs: 20_000, message: 'slow socket closed' })
    assert.match(slow.received(), /event: reconnect\nretry: \d+\ndata: \{"reason":"slow-consumer"/)
  } finally {
    slow.socket.destroy()
    await fast.stop()
    await server.close({ graceMs: 100 })
  }
})

test('limits: connections per IP, new-connection rate, publish rate', async () => {
  const server = await startLiveServer({ token: TOKEN, maxConnectionsPerIp: 2, publishRate: 2 })
  const a = watchTopic(server.url, 'lim', { reconnect: false })
  const b = watchTopic(server.url, 'lim', { reconnect: false })
  try {
    await allOpen([a, b])
    const third = await fetch(`${server.url}/v1/topics/lim/events`)
    assert.equal(third.status, 429)
    assert.equal(((await third.json()) as { error: { code: string } }).error.code, 'LIVE_TOO_MANY_CONNECTIONS')
    assert.ok(third.headers.get('retry-after'))
    // 2 events/s with a burst of 2: a batch of 3 can never fit, whatever the machine's speed.
    assert.equal((await publish(server.url, 'lim', TOKEN, { type: 'comment', data: 0 })).status, 202)
    const limited = await publish(server.url, 'lim', TOKEN, { events: [1, 2, 3].map((n) => ({ type: 'comment', data: n })) })
    assert.equal(limited.status, 429)
    assert.equal((limited.json.error as { code: string }).code, 'LIVE_RATE_LIMITED')
  } finally {
    await a.stop(); await b.stop()
    await server.close({ graceMs: 100 })
  }
  const storm = await startLiveServer({ token: TOKEN, connectionRate: 1 })
  try {
    const results = await Promise.all(Array.from({ length: 8 }, async () => {
      const r = await fetch(`${storm.url}/v1/topics/storm/events`)
      const status = r.status
      await r.body?.cancel()
      return status
    }))
    // 1 new connection/s (burst 1): a storm of 8 gets one or two through however slow this machine is.
    const ok = results.filter((s) => s === 200).length
    assert.ok(ok >= 1 && ok <= 2, `admitted ${ok}`)
    assert.equal(results.filter((s) => s === 429).length, 8 - ok)
  } finally { await storm.close({ graceMs: 100 }) }
})

test('graceful shutdown sends every viewer a reconnect event (with retry:) before the node stops', async () => {
  const a = await startLiveServer({ token: TOKEN })
  const v = watchTopic(a.url, 'bye')
  try {
    await v.opened
    await publish(a.url, 'bye', TOKEN, { type: 'comment', data: 1 })
    await waitFor(() => v.of('comment').length === 1)
    await a.close({ graceMs: 1000 })
    await waitFor(() => v.events.some((e) => e.event === 'reconnect'))
    const bye = v.events.find((e) => e.event === 'reconnect')
    assert.equal((JSON.parse(bye?.data ?? '{}') as { reason: string }).reason, 'shutdown')
    assert.equal((await fetch(`${a.url}/healthz`).catch(() => undefined))?.status, undefined, 'the node stopped listening')
  } finally { await v.stop() }
})
