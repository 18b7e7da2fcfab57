// --bwlimit and --max-rps across a cluster: two worker processes share one Redis token bucket per limit, and the
// origin sees no one-second window above the rate plus the burst, the chunk each worker holds, and what socket
// buffers carry ahead of the throttled readers (one segment per connection).
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { rm } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { runNodeFile } from '../../helpers/node-child.ts'
import { freePort, makeTempDir, startRedis, type Service } from '../../../support/services.ts'
import { byteBurst } from '../../../src/transfer/core/limits/rate-limit.ts'
import { TRANSFER_DEFAULTS } from '../../../src/transfer/defaults.ts'
import { maxInWindow, startMeteredOrigin, type MeteredOrigin } from '../fixtures/metered-origin.ts'
import { spawnWorker, stopGracefully, type WorkerProc } from './fixtures.ts'

const BIN = fileURLToPath(new URL('../../../bin/colony.js', import.meta.url))
const SEED = 20261207
const SEGMENT = 50_000
const WORKERS = 2
let origin: MeteredOrigin
let redisSvc: Service
let tmp: string
const workers: WorkerProc[] = []
const prefix = `limits${Date.now()}`
const metricsPorts: number[] = []

before(async () => {
  origin = await startMeteredOrigin({ segments: 60, bytes: SEGMENT, seed: SEED })
  redisSvc = await startRedis()
  tmp = await makeTempDir('colony-dist-limits-')
  for (let i = 0; i < WORKERS; i++) {
    metricsPorts.push(await freePort())
    workers.push(spawnWorker(['--redis', redisSvc.url, '--prefix', prefix, '--concurrency', '4', '--metrics', `127.0.0.1:${metricsPorts[i]}`], 'all'))
  }
})
after(async () => {
  await Promise.all(workers.map((w) => stopGracefully(w)))
  await origin?.stop()
  await redisSvc?.stop()
  await rm(tmp, { recursive: true, force: true })
})

const colony = (args: string[]): ReturnType<typeof runNodeFile> => runNodeFile(BIN, args, 90_000)

/** A series summed over both workers' /metrics. */
async function metricSum(series: string): Promise<number> {
  let sum = 0
  for (const port of metricsPorts) {
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
    sum += Number(new RegExp(`^${series.replace(/[{}]/g, '\\$&')} (\\S+)$`, 'm').exec(text)?.[1] ?? 0)
  }
  return sum
}

const submit = (name: string, limit: string[]): ReturnType<typeof runNodeFile> =>
  colony(['transfer', origin.playlist, '--to', path.join(tmp, name), '--redis', redisSvc.url, '--prefix', prefix, '--run', name, '--batch-size', '5', ...limit])

test('--bwlimit 1M over two workers sharing Redis: no second at the origin above 1 MB + burst', { timeout: 120_000 }, async () => {
  origin.sent.length = 0
  origin.connections = 0
  const res = await submit('bw', ['--bwlimit', '1M'])
  assert.equal(res.code, 0, res.stderr)
  const total = origin.sent.reduce((a, [, n]) => a + n, 0)
  assert.ok(total >= 60 * SEGMENT)
  const peak = maxInWindow(origin.sent)
  const lease = 1_000_000 * TRANSFER_DEFAULTS.limits.leaseMs / 1000
  const bound = 1_000_000 + byteBurst(1_000_000) + WORKERS * lease + origin.connections * SEGMENT
  assert.ok(peak <= bound, `seed ${SEED}: ${peak} bytes left the origin in one second (bound ${bound}, ${origin.connections} connections)`)
  const first = origin.sent[0]?.[0] ?? 0
  const last = origin.sent[origin.sent.length - 1]?.[0] ?? 0
  assert.ok(last - first >= 2000, `${total} bytes in ${Math.round(last - first)} ms`)
  // Every byte read was leased from the Redis bucket first (the workers' own count of it).
  assert.ok(await metricSum('colony_transfer_limit_tokens_total{limit="bytes"}') >= 60 * SEGMENT)
})

test('--max-rps 20 over two workers sharing Redis: no second at the origin with more than 20 requests (+ burst and jitter)', { timeout: 120_000 }, async () => {
  origin.requests.length = 0
  const res = await submit('rps', ['--max-rps', '20'])
  assert.equal(res.code, 0, res.stderr)
  assert.ok(origin.requests.length >= 61)
  const peak = maxInWindow(origin.requests.map((t) => [t, 1]))
  // 20 + the burst of 1 + the chunk of 1 each worker may hold, + 1 for arrival jitter.
  assert.ok(peak <= 20 + 1 + WORKERS + 1, `seed ${SEED}: ${peak} requests in one second`)
  const span = (origin.requests[origin.requests.length - 1] ?? 0) - (origin.requests[0] ?? 0)
  assert.ok(span >= 2500, `${origin.requests.length} requests in ${Math.round(span)} ms`)
})

test('submit: a malformed limit exits 2 before anything reaches Redis; limits refuse --executor lambda', { timeout: 60_000 }, async () => {
  for (const bad of [['--bwlimit', '08:00,1M 07:00,2M'], ['--max-rps', '0'], ['--bwlimit', '1M', '--executor', 'lambda', '--function', 'f']]) {
    const res = await submit('bad', bad)
    assert.equal(res.code, 2, `${bad.join(' ')}: ${res.stderr}`)
    assert.equal(res.stderr.trim().split('\n').length, 1, res.stderr)
  }
  const { createRedis, closeRedis } = await import('../../../src/transfer/distributed/redis/client.ts')
  const redis = createRedis(redisSvc.url)
  try { assert.equal(await redis.hget(`${prefix}:run:bad:meta`, 'config'), null) } finally { await closeRedis(redis) }
})
