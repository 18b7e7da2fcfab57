// `npm run bench:live -- --smoke`: the load generator checks itself (node:test, outside `npm test`, which never
// imports bench/). The frame scanner and histogram on fixed bytes; then small loads against a tiny real
// `colony live serve` (2 workers) and nginx+nchan, checked for exact delivery counts and sane measurements, not
// for speed; and the load command's refusals.
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { test } from 'node:test'
import { completeFramesEnd, createScanResult, readUint, scanFrames } from './generator/frame-scanner.ts'
import { bucketOf, bucketValue, createHistogram, mergeInto, quantile, recordValue } from './generator/histogram.ts'
import { runLiveBenchmark } from './generator/run-bench.ts'
import { NCHAN_MODULE, startColonyServer, startNchanServer } from './generator/servers.ts'
import { runLoad } from './load.ts'

function scan(text: string): ReturnType<typeof createScanResult> {
  const out = createScanResult()
  const buf = Buffer.from(text)
  scanFrames(buf.subarray(0, completeFramesEnd(buf)), 0, out)
  return { ...out, stampList: out.stampList.slice(0, out.stamps) }
}

test('nchan frames: a hello comment, then id + data lines; the embedded send time is read', () => {
  const r = scan(': hi\n\nid: 1795448301:0\ndata: {"type":"comment","data":{"bt":123456,"s":1}}\n\nid: 1795448301:1\ndata: {"type":"comment","data":{"bt":123999,"s":2}}\n\n')
  assert.equal(r.events, 2)
  assert.equal(r.plain, 2)
  assert.equal(r.likes, 0)
  assert.deepEqual(r.stampList, [123456, 123999])
})

test('colony frames in chunked encoding: event line before the id, a coalesced like frame counts its likes', () => {
  const body = 'event: comment\nid: 7\ndata: {"bt":5000,"s":3}\n\n'
  const likes = 'event: like\nid: 9\ndata: {"likes":37}\n\n'
  const text = `${body.length.toString(16)}\r\n${body}\r\n${likes.length.toString(16)}\r\n${likes}\r\n`
  const r = scan(text)
  assert.equal(r.events, 2)
  assert.equal(r.plain, 1)
  assert.equal(r.likes, 37)
  assert.deepEqual(r.stampList, [5000])
})

test('heartbeats and retry frames are not events; the unfinished frame is left for the next read', () => {
  const buf = Buffer.from('retry: 2000\n\n:\n\nid: 1\ndata: {"bt":1}\n\nid: 2\ndata: {"b')
  const end = completeFramesEnd(buf)
  assert.equal(buf.subarray(end).toString(), 'id: 2\ndata: {"b')
  const out = createScanResult()
  scanFrames(buf.subarray(0, end), 0, out)
  assert.equal(out.events, 1)
  assert.equal(completeFramesEnd(Buffer.from('id: 3\ndata: x\n')), 0)
})

test('readUint skips spaces and stops at the first non-digit', () => {
  const b = Buffer.from('"likes": 42}')
  assert.equal(readUint(b, 8, b.length), 42)
  assert.equal(readUint(Buffer.from('x'), 0, 1), -1)
})

test('histogram: buckets within 3%, quantiles, merge by addition', () => {
  for (const v of [1, 63, 64, 100, 999, 12_345, 250_000, 3_000_000]) {
    const mid = bucketValue(bucketOf(v))
    assert.ok(Math.abs(mid - v) / v <= 0.035, `${v} → ${mid}`)
  }
  const a = createHistogram()
  const b = createHistogram()
  for (let i = 1; i <= 90; i++) recordValue(a, 1000)
  for (let i = 1; i <= 10; i++) recordValue(b, 100_000)
  mergeInto(a, b)
  assert.ok(Math.abs(quantile(a, 0.5) - 1000) < 40)
  assert.ok(Math.abs(quantile(a, 0.95) - 100_000) < 3500)
  assert.ok(Number.isNaN(quantile(createHistogram(), 0.5)))
})

test('generator against colony live serve with coalesced likes: likes counted inside frames, probes timed', { timeout: 60_000 }, async (t) => {
  const server = await startColonyServer({ workers: 2, token: 'smoke-token', args: ['--coalesce', 'like=100ms'] })
  t.after(() => server.stop())
  const r = await runLiveBenchmark({
    target: { kind: 'colony', url: server.url, token: 'smoke-token' }, serverPids: [server.pid],
    connections: 200, topics: 2, rate: 200, type: 'like', probeRate: 10, durationMs: 1500, warmupMs: 300,
  })
  assert.equal(r.connections.held, 200)
  assert.equal(r.connections.serverViewers, 200, 'the server counts the same viewers the generator holds')
  assert.equal(r.server.processes, 3, 'primary + 2 workers')
  assert.equal(r.publisher.failed, 0)
  // Coalesced: far fewer frames than likes, yet every like is accounted for.
  assert.ok(r.deliveries.likesPerSecond > r.deliveries.framesPerSecond, `${r.deliveries.likesPerSecond} likes/s vs ${r.deliveries.framesPerSecond} frames/s`)
  assert.equal(r.deliveries.received, r.deliveries.expected)
  assert.ok(r.latency.samples > 0, 'probe comments carry send times')
})

test('generator against nginx+nchan: every connection held, every event delivered, latency and CPU measured', { timeout: 40_000, skip: !existsSync(NCHAN_MODULE) && 'nchan module not installed' }, async (t) => {
  const server = await startNchanServer({ workers: 1 })
  t.after(() => server.stop())
  const r = await runLiveBenchmark({
    target: { kind: 'nchan', url: server.url }, serverPids: [server.pid],
    connections: 300, topics: 3, rate: 40, durationMs: 1500, warmupMs: 300, processes: 2,
  })
  assert.equal(r.connections.held, 300)
  assert.equal(r.connections.failed, 0)
  assert.equal(r.server.processes, 2, 'nginx master + 1 worker')
  assert.ok(r.server.rssHeldBytes > 0 && r.server.cpuSeconds > 0)
  assert.ok(r.publisher.accepted > 0)
  // Each comment reaches the 100 viewers of its topic, nothing more, nothing less.
  assert.equal(r.deliveries.received, r.deliveries.expected)
  assert.ok(r.latency.samples > 0 && r.latency.p99Ms >= r.latency.p50Ms && r.latency.p50Ms > 0)
  assert.ok(r.generator.cpuSeconds > 0)
})

test('the load command refuses non-loopback targets and bad flags (usage errors, nothing opened)', async () => {
  await assert.rejects(runLoad(['--url', 'http://10.0.0.1:8080']), { code: 'COLONY_USAGE' })
  await assert.rejects(runLoad(['--spawn', '--kind', 'redis']), { code: 'COLONY_USAGE' })
  await assert.rejects(runLoad(['--url', 'http://127.0.0.1:1', '--source', '10.1.1.1']), { code: 'COLONY_USAGE' })
  await assert.rejects(runLoad([]), { code: 'COLONY_USAGE' })
})
