// Smoke test of the load generator against a tiny real `colony live serve` (2 workers): small load, checked
// for exact delivery counts and sane measurements, not for speed; and the command's refusals.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { runLiveBench } from '../../../src/live/bench/index.ts'
import { runLiveBenchmark } from '../../../src/live/bench/run-bench.ts'
import { startColonyServer } from '../../../src/live/bench/servers.ts'

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

test('colony live bench refuses non-loopback targets and bad flags (usage errors, nothing opened)', async () => {
  await assert.rejects(runLiveBench(['--url', 'http://10.0.0.1:8080']), { code: 'COLONY_USAGE' })
  await assert.rejects(runLiveBench(['--spawn', '--kind', 'redis']), { code: 'COLONY_USAGE' })
  await assert.rejects(runLiveBench(['--url', 'http://127.0.0.1:1', '--source', '10.1.1.1']), { code: 'COLONY_USAGE' })
  await assert.rejects(runLiveBench([]), { code: 'COLONY_USAGE' })
})
