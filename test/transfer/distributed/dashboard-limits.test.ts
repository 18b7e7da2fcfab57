// The dashboard's limits: event streams per client address and in all, and request heads that never complete.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { startRedis, waitFor, type Service } from '../../../support/services.ts'
import { startDashboard } from '../../../src/transfer/distributed/dashboard/server.ts'
import { TRANSFER_DEFAULTS } from '../../../src/transfer/defaults.ts'

let redisSvc: Service
before(async () => { redisSvc = await startRedis() })
after(async () => { await redisSvc.stop() })

/** Opens GET /events and resolves with the status once the head arrives; the stream stays open until `close`. */
function openStream(url: string): Promise<{ status: number; close: () => void }> {
  return new Promise((resolve, reject) => {
    const req = http.get(`${url}/events`, (res) => {
      res.resume()
      resolve({ status: res.statusCode ?? 0, close: () => req.destroy() })
    })
    req.on('error', reject)
  })
}

test('a client address may hold at most maxStreamsPerIp event streams; a closed one frees its place', async () => {
  const dash = await startDashboard({ redisUrl: redisSvc.url, port: 0, maxStreamsPerIp: 2 })
  try {
    const a = await openStream(dash.url)
    const b = await openStream(dash.url)
    assert.deepEqual([a.status, b.status], [200, 200])
    const c = await openStream(dash.url)
    assert.equal(c.status, 429)
    a.close()
    const d = await waitFor(async () => { const s = await openStream(dash.url); if (s.status === 200) return s; s.close(); return undefined }, { timeoutMs: 5_000, message: 'a place freed by the closed stream' })
    b.close(); d.close()
  } finally {
    await dash.close()
  }
})

test('a request head that never completes is cut by the server', async () => {
  const dash = await startDashboard({ redisUrl: redisSvc.url, port: 0 })
  try {
    const { port } = new URL(dash.url)
    const sock = net.connect(Number(port), '127.0.0.1')
    sock.write('GET / HTTP/1.1\r\nHost: x\r\n')
    const started = Date.now()
    const timer = setInterval(() => { if (!sock.destroyed) sock.write('X-Trickle: 1\r\n') }, 1_000)
    await new Promise<void>((resolve) => { sock.on('close', () => resolve()); sock.on('error', () => undefined) })
    clearInterval(timer)
    const took = Date.now() - started
    assert.ok(took < TRANSFER_DEFAULTS.dashboard.requestTimeoutMs + 5_000, `closed after ${took} ms`)
  } finally {
    await dash.close()
  }
})
