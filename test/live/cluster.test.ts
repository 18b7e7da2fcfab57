// `colony live serve --workers 3` without Redis: worker processes share the port and relay through the primary.
import assert from 'node:assert/strict'
import type { ChildProcess } from 'node:child_process'
import http from 'node:http'
import { after, before, test } from 'node:test'
import { freePort, stopProcess } from '../../support/services.ts'
import { allOpen, comments, publish, startColony, waitFor, watchTopic, type Viewer } from './live-helpers.ts'

const TOKEN = 'cluster-secret'
let proc: ChildProcess
let url: string

/** A fresh TCP connection per call, so the kernel may hand it to any worker. */
function health(port: number): Promise<{ worker: number; connections: number }> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/healthz', agent: false }, (res) => {
      let body = ''
      res.on('data', (c: Buffer) => { body += c.toString() })
      res.on('end', () => resolve(JSON.parse(body) as { worker: number; connections: number }))
    }).on('error', reject)
  })
}

before(async () => {
  const port = await freePort()
  url = `http://127.0.0.1:${port}`
  // Ready once all three workers have answered.
  proc = await startColony(['live', 'serve', '--workers', '3', '--port', String(port), '--token', TOKEN, '--grace', '1s', '--coalesce', 'like=50ms'], port, async () => {
    try {
      const seen = new Set<number>()
      for (let i = 0; i < 30 && seen.size < 3; i++) seen.add((await health(port)).worker)
      return seen.size === 3
    } catch { return false }
  })
})
after(async () => { await stopProcess(proc) })

test('viewers spread over the workers all receive a publish made on any worker', { timeout: 30_000 }, async () => {
  const viewers: Viewer[] = Array.from({ length: 12 }, () => watchTopic(url, 'shared'))
  try {
    await allOpen(viewers)
    const perWorker = new Map<number, number>()
    for (let i = 0; i < 40; i++) { const h = await health(Number(new URL(url).port)); perWorker.set(h.worker, h.connections) }
    assert.ok([...perWorker.values()].filter((n) => n > 0).length >= 2, `connections spread over workers: ${JSON.stringify([...perWorker])}`)
    for (let i = 0; i < 3; i++) await publish(url, 'shared', TOKEN, comments(2, i * 2))
    await publish(url, 'shared', TOKEN, { events: Array.from({ length: 10 }, () => ({ type: 'like', data: {} })) })
    for (const v of viewers) {
      await waitFor(() => v.of('comment').length === 6 && v.likes() === 10, { message: 'all viewers got everything' })
      assert.deepEqual(v.of<{ n: number }>('comment').map((c) => c.n), [0, 1, 2, 3, 4, 5])
    }
    await waitFor(async () => ((await (await fetch(`${url}/v1/topics/shared`)).json()) as { viewers: number }).viewers === 12, { message: 'count across workers' })
    // Whichever worker answers /metrics speaks for all of them.
    const text = await (await fetch(`${url}/metrics`)).text()
    assert.match(text, /^colony_live_connections 12$/m)
    // Resume on whichever worker: the primary's history answers.
    const late = watchTopic(url, 'shared', { lastEventId: '4' })
    await waitFor(() => late.of('comment').length === 2)
    assert.deepEqual(late.of<{ n: number }>('comment').map((c) => c.n), [4, 5])
    assert.equal(late.likes(), 10, 'missed likes come back coalesced')
    await late.stop()
  } finally {
    await Promise.all(viewers.map((v) => v.stop()))
  }
})

test('SIGTERM drains every worker: viewers get a reconnect event', { timeout: 30_000 }, async () => {
  const viewers = Array.from({ length: 6 }, () => watchTopic(url, 'bye', { reconnect: false }))
  try {
    await allOpen(viewers)
    await stopProcess(proc)
    for (const v of viewers) await waitFor(() => v.events.some((e) => e.event === 'reconnect'), { message: 'goodbye' })
    assert.equal(proc.exitCode, 0)
  } finally { await Promise.all(viewers.map((v) => v.stop())) }
})
