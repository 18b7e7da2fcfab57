// Adaptive batching: a topic whose events are sparse is written at once; a busy one is held so that several
// events share one write per viewer, still in order.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { startLiveServer } from '../../src/live/index.ts'
import { publish, rawSubscriber, waitFor } from './live-helpers.ts'

const TOKEN = 'batch-secret'
const ids = (text: string): number[] => [...text.matchAll(/^data: \{"n":(\d+)\}$/gm)].map((m) => Number(m[1]))

test('a sparse topic is written in the turn its event arrives, not after the batch window', { timeout: 30_000 }, async () => {
  // A window far longer than the test's timeout: if the event were held for it, the test would fail.
  const server = await startLiveServer({ token: TOKEN, hub: { batchWindowMs: 600_000 } })
  const viewer = await rawSubscriber(server.port, 'sparse')
  viewer.resume()
  try {
    await waitFor(() => server.hub.stats.connections === 1)
    for (let n = 0; n < 3; n++) {
      await publish(server.url, 'sparse', TOKEN, { type: 'comment', data: { n } })
      await waitFor(() => ids(viewer.received()).length === n + 1, { timeoutMs: 10_000, message: `event ${n} written without waiting for the window` })
    }
    assert.deepEqual(ids(viewer.received()), [0, 1, 2])
  } finally {
    viewer.socket.destroy()
    await server.close({ graceMs: 100 })
  }
})

test('a busy topic is held for the window: its events share writes and keep their order', { timeout: 30_000 }, async () => {
  const server = await startLiveServer({ token: TOKEN, hub: { batchWindowMs: 2_000 } })
  // 10 viewers: holding pays (≥ 100 writes/s saved) while requests are < 100 ms apart, even on a loaded machine.
  const viewers = await Promise.all(Array.from({ length: 10 }, () => rawSubscriber(server.port, 'busy')))
  for (const v of viewers) v.resume()
  try {
    await waitFor(() => server.hub.stats.connections === 10)
    const writesBefore = server.hub.stats.writes
    // 20 single-event publishes, each in its own request, a few ms apart: far closer than the 2 s window.
    for (let n = 0; n < 20; n++) await publish(server.url, 'busy', TOKEN, { type: 'comment', data: { n } })
    const expected = Array.from({ length: 20 }, (_, n) => n)
    for (const v of viewers) await waitFor(() => ids(v.received()).length === 20, { timeoutMs: 10_000, message: 'every event arrives' })
    for (const v of viewers) assert.deepEqual(ids(v.received()), expected)
    const writes = server.hub.stats.writes - writesBefore
    // The first event goes at once (no arrival gap known yet); the rest are merged into one or a few writes.
    assert.ok(writes <= 10 * 4, `${writes} writes for 20 events × 10 viewers`)
  } finally {
    for (const v of viewers) v.socket.destroy()
    await server.close({ graceMs: 100 })
  }
})
